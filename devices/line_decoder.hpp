// Contract 1 decoder: serial bytes in, decoded lines out. Pure and byte-fed:
// no I/O, no clock, no allocation; fed arbitrary slices, it keeps the partial
// line for the next call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "devices/control_event.hpp"
#include "knoblink_protocol.h"

namespace knoblink {

/// "@knoblink <version> <device> [uid=<hex>]".
struct HelloLine {
  int version = 0;
  std::string_view device;
  std::string_view uid;  ///< hex digits, empty when absent
};
/// "@ctl <name> <kind> [<min> <max>]".
struct CtlLine : ControlInfo {};
/// "@end".
struct EndLine {};
/// "<name> <int>".
struct EventLine {
  Name name;
  std::int32_t value = 0;
};
/// "# <text>".
struct LogLine {
  std::string_view text;
};
/// A line that could not be decoded; skipped, decoding resumes at the next newline.
struct BadLine {
  std::string_view reason;  ///< what is wrong, e.g. "checksum mismatch: sent 3F, computed 41"
  std::string_view bytes;   ///< the line's bytes (at most kMaxLine of them)
  std::size_t length = 0;   ///< the line's full length in bytes
};

using DecodedLine = std::variant<HelloLine, CtlLine, EndLine, EventLine, LogLine, BadLine>;

/// Splits a byte stream into Contract 1 lines and parses each one.
/// The string_views in a DecodedLine are valid only during the callback.
class LineDecoder {
 public:
  /// Feeds bytes; calls on_line(const DecodedLine&) once per complete line.
  template <class F>
  void feed(std::string_view bytes, F&& on_line) {
    for (char c : bytes) {
      if (c == '\n') {
        finish_line(on_line);
      } else if (c != '\r') {
        if (len_ < knoblink_proto::kMaxLine) buf_[len_] = c;
        ++len_;
      }
    }
  }

  /// Parses one complete line (no terminator). Exposed for tests and HID-less tools.
  DecodedLine parse(std::string_view line);

  /// Bytes of the current incomplete line (0 when at a line boundary).
  std::size_t pending() const { return len_; }
  /// Forgets a partial line, e.g. after the device was unplugged mid-line.
  void reset() { len_ = 0; }

 private:
  template <class F>
  void finish_line(F& on_line) {
    const std::size_t n = len_;
    len_ = 0;
    if (n == 0) return;  // blank lines are allowed and mean nothing
    const std::string_view kept(buf_, n < knoblink_proto::kMaxLine ? n : knoblink_proto::kMaxLine);
    if (n > knoblink_proto::kMaxLine) {
      on_line(DecodedLine{BadLine{too_long(n), kept, n}});
      return;
    }
    on_line(parse(kept));
  }
  std::string_view too_long(std::size_t n);
  BadLine bad(std::string_view line, const char* fmt, ...);

  char buf_[knoblink_proto::kMaxLine] = {};
  std::size_t len_ = 0;
  char reason_[128] = {};
};

}  // namespace knoblink
