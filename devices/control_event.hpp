// The one value every device backend produces: a control changed.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace knoblink {

/// What a control is: absolute value, relative delta, button, or host-driven output.
enum class ControlKind : std::uint8_t { unknown, abs, rel, btn, out };

/// "abs", "rel", "btn", "out" or "unknown".
std::string_view to_string(ControlKind kind);
/// Parses "abs" | "rel" | "btn" | "out".
std::optional<ControlKind> parse_kind(std::string_view text);

/// A control or device name stored inline ([a-z][a-z0-9_]{0,15}), so events never allocate.
class Name {
 public:
  static constexpr std::size_t capacity = 16;
  Name() = default;
  /// The name, or nullopt when text is not [a-z][a-z0-9_]{0,15}.
  static std::optional<Name> from(std::string_view text);
  /// Copies text truncated to capacity without validating it (for names the program made).
  static Name unchecked(std::string_view text);
  std::string_view view() const { return {chars_, size_}; }
  std::string str() const { return std::string(view()); }
  bool empty() const { return size_ == 0; }
  /// Bytes past size_ are always zero, so two names compare as two fixed 16-byte blocks
  /// (no memcmp call: the mapper compares names for every event).
  friend bool operator==(const Name& a, const Name& b) {
    std::uint64_t x[2], y[2];
    std::memcpy(x, a.chars_, sizeof x);
    std::memcpy(y, b.chars_, sizeof y);
    return a.size_ == b.size_ && x[0] == y[0] && x[1] == y[1];
  }

 private:
  char chars_[capacity] = {};
  std::uint8_t size_ = 0;
};

/// A control description learned from a device (serial @ctl line, HID report descriptor).
struct ControlInfo {
  Name name;
  ControlKind kind = ControlKind::unknown;
  bool has_range = false;
  std::int32_t min = 0;
  std::int32_t max = 0;
};

/// A control changed: abs value, rel delta, or btn 1/0. t_us is a monotonic time
/// in microseconds passed in by whoever read the bytes (logic never reads a clock).
struct ControlEvent {
  std::uint16_t device = 0;  ///< index of the device in the bridge's device table
  Name control;
  ControlKind kind = ControlKind::unknown;
  std::int32_t value = 0;
  std::int64_t t_us = 0;
  /// A position the device reports, not a gesture: a serial snapshot after @end, the first
  /// value of a HID control after opening (docs/devices.md, "Where the controls are").
  bool snapshot = false;
};

/// The clock of ControlEvent::t_us: monotonic microseconds (steady_clock). Read only by the
/// device readers, once per read, and by the bridge's timer, which compares with event times.
std::int64_t monotonic_us();

/// Printable form of raw bytes for error messages: non-printables as \xNN.
std::string escape_bytes(std::string_view bytes);

/// 1 to max_digits hex digits (either case) as a number; nullopt for anything else.
std::optional<std::uint64_t> parse_hex(std::string_view text, std::size_t max_digits);

}  // namespace knoblink
