// MIDI bytes -> ControlEvents (docs/midi.md). Pure: no I/O, no clock; fed arbitrary byte
// slices (a message may be split across feeds), with the time of the read passed in.
// Nothing is allocated per message.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <span>

#include "devices/event_sink.hpp"
#include "devices/midi/midi_config.hpp"

namespace knoblink::midi {

/// What the decoder has seen, for status and tests.
struct DecoderStats {
  std::uint64_t messages = 0;  ///< channel messages decoded into events
  std::uint64_t sysex = 0;     ///< SysEx messages skipped
  std::uint64_t skipped = 0;   ///< other messages and stray data bytes skipped (program change,
                               ///< aftertouch, system common and real-time, data without a status)
};

/// How one CC number of one channel reads.
enum class CcMode : std::uint8_t { plain, twos, offset, sign, msb14, lsb14 };

/// The decoder's reading of a MidiConfig: each CC's mode. Checked by the config parser;
/// names that are not CCs (or 14-bit MSBs outside 0..31) are ignored here.
class CcModes {
 public:
  CcModes() { modes_.fill(CcMode::plain); }
  explicit CcModes(const MidiConfig& config);
  CcMode at(int channel0, int cc) const { return modes_[channel0 * 128 + cc]; }

 private:
  std::array<CcMode, 16 * 128> modes_;
};

/// Decodes one device's MIDI input stream. Running status; real-time bytes anywhere
/// (even inside a message) are skipped without breaking it; SysEx is skipped.
/// The first event of each control is preceded by on_control describing it (kind, range).
class Decoder {
 public:
  Decoder(std::uint16_t device, const CcModes& modes) : device_(device), modes_(modes) {}
  /// Feeds bytes read at now_us; events and descriptions go to sink.
  void feed(std::span<const std::uint8_t> bytes, std::int64_t now_us, EventSink& sink);
  /// Forgets the stream state and what was described (after a reopen).
  void reset();
  const DecoderStats& stats() const { return stats_; }

 private:
  void dispatch(std::int64_t now_us, EventSink& sink);
  void emit(MidiControlId id, ControlKind kind, std::int32_t value, std::int64_t now_us, EventSink& sink);

  std::uint16_t device_;
  CcModes modes_;
  std::uint8_t status_ = 0;  ///< running status (0x80..0xEF), or a system common message, or 0
  std::uint8_t data_[2] = {};
  std::uint8_t have_ = 0;
  bool in_sysex_ = false;
  std::array<std::uint8_t, 16 * 32> msb_{};  ///< last MSB of each 14-bit CC
  std::bitset<4 * 16 * 128> described_;      ///< controls already told to the sink
  DecoderStats stats_;
};

/// Writes the name of id into buf (at least 16 chars); returns its length.
std::size_t format_control(const MidiControlId& id, char* buf);

/// The bytes that set output id to value (docs/midi.md, "Feedback"): cc -> CC value (1, a
/// lit led:, is sent as 127; 0 and 2..127 as they are; 14-bit: MSB then LSB, 0..16383),
/// note -> note on with velocity 127 for 1, the value for 2..127, note off for 0;
/// pb -> pitch bend 0..16383. Values are clamped. Returns the
/// length written to out (0: id is not an output, i.e. vel).
std::size_t encode_output(const MidiControlId& id, bool fourteen_bit, std::int32_t value, std::uint8_t out[6]);

}  // namespace knoblink::midi
