// How the mapping file's `midi:` names a device and reads its controls (docs/midi.md).
// Header only: the config parser reads it in every build, with or without MIDI support.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knoblink {

/// How a relative encoder on a CC encodes its turn (docs/midi.md, "Relative encoders").
enum class MidiEncoding : std::uint8_t {
  twos,    ///< two's complement: 1..63 = +1..+63, 127..64 = -1..-64
  offset,  ///< binary offset: 64 = 0, 65..127 = +1..+63, 63..0 = -1..-64
  sign,    ///< sign-magnitude: 1..63 = +1..+63, 65..127 = -1..-63 (bit 6 = minus)
};

/// "twos" | "offset" | "sign".
inline std::optional<MidiEncoding> parse_midi_encoding(std::string_view text) {
  if (text == "twos") return MidiEncoding::twos;
  if (text == "offset") return MidiEncoding::offset;
  if (text == "sign") return MidiEncoding::sign;
  return std::nullopt;
}

/// The name parse_midi_encoding reads.
inline const char* midi_encoding_name(MidiEncoding e) {
  return e == MidiEncoding::twos ? "twos" : e == MidiEncoding::offset ? "offset" : "sign";
}

/// A control name of a MIDI device: cc<ch>_<n>, note<ch>_<n>, vel<ch>_<n>, pb<ch>
/// (channel 1..16, number 0..127).
struct MidiControlId {
  enum class Type : std::uint8_t { cc, note, vel, pb };
  Type type = Type::cc;
  std::uint8_t channel = 1;  ///< 1..16
  std::uint8_t number = 0;   ///< 0..127 (0 for pb)
  friend bool operator==(const MidiControlId&, const MidiControlId&) = default;
};

namespace midi_detail {
/// Digits without a leading zero (except "0" itself) in [lo, hi].
inline std::optional<int> number(std::string_view s, int lo, int hi) {
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < lo || v > hi) return std::nullopt;
  return v;
}
}  // namespace midi_detail

/// Parses a MIDI control name ("cc1_7", "note10_36", "vel1_36", "pb2"); nullopt otherwise.
inline std::optional<MidiControlId> parse_midi_control(std::string_view name) {
  using T = MidiControlId::Type;
  T type;
  if (name.starts_with("cc")) type = T::cc, name.remove_prefix(2);
  else if (name.starts_with("note")) type = T::note, name.remove_prefix(4);
  else if (name.starts_with("vel")) type = T::vel, name.remove_prefix(3);
  else if (name.starts_with("pb")) type = T::pb, name.remove_prefix(2);
  else return std::nullopt;
  if (type == T::pb) {
    const auto ch = midi_detail::number(name, 1, 16);
    if (!ch) return std::nullopt;
    return MidiControlId{type, static_cast<std::uint8_t>(*ch), 0};
  }
  const auto us = name.find('_');
  if (us == std::string_view::npos) return std::nullopt;
  const auto ch = midi_detail::number(name.substr(0, us), 1, 16);
  const auto n = midi_detail::number(name.substr(us + 1), 0, 127);
  if (!ch || !n) return std::nullopt;
  return MidiControlId{type, static_cast<std::uint8_t>(*ch), static_cast<std::uint8_t>(*n)};
}

/// A MIDI device chosen by a substring of its port name, and how its CCs read.
struct MidiConfig {
  std::string port;          ///< a substring of the port name ("nanoKONTROL")
  std::string api = "alsa";  ///< RtMidi's backend: "alsa" | "jack"
  /// Relative encoders: a CC control and its encoding ({cc1_16: twos}).
  std::vector<std::pair<std::string, MidiEncoding>> encodings;
  /// 14-bit CCs: each names its MSB control cc<ch>_<n> (n 0..31); CC n+32 is its LSB.
  std::vector<std::string> fourteen_bit;
  friend bool operator==(const MidiConfig&, const MidiConfig&) = default;

  /// The fourteen_bit: entry whose MSB or LSB is the CC id, or nullptr.
  const std::string* fourteen_bit_pair(const MidiControlId& id) const {
    if (id.type != MidiControlId::Type::cc) return nullptr;
    for (const auto& name : fourteen_bit) {
      const auto msb = parse_midi_control(name);
      if (msb && msb->channel == id.channel && (msb->number == id.number || msb->number + 32 == id.number)) return &name;
    }
    return nullptr;
  }
  /// The encoding of the CC control named name, if it is an encoder.
  std::optional<MidiEncoding> encoding_of(std::string_view name) const {
    for (const auto& [cc, encoding] : encodings)
      if (cc == name) return encoding;
    return std::nullopt;
  }
};

}  // namespace knoblink
