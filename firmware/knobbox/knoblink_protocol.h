// knoblink serial device protocol, v1 (docs/firmware.md, "What the box says").
//
// Shared by the firmware (avr-gcc, C++11, no STL, no Arduino.h) and the host
// decoder in devices/ (C++20), so the two sides cannot drift. Everything here
// is pure: fixed buffers in, lengths out.
//
//   device -> host
//     @knoblink 1 <device-name> [uid=<hex>]   hello: at boot and on '?'
//     @ctl <name> <kind> [<min> <max>]        one per control; kind: abs|rel|btn|out
//     @end                                    end of the description
//     <name> <int>                            event: abs value, rel delta, btn 1/0
//     # <text>                                log line
//   host -> device
//     ?                                       describe yourself again
//     <name> <int>                            set an output
//   Optional integrity suffix " *HH": XOR of every byte before " *".
#ifndef KNOBLINK_PROTOCOL_H
#define KNOBLINK_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

namespace knoblink_proto {

/// Protocol version spoken by this header.
static const int kVersion = 1;
/// Longest line in bytes, not counting the terminating "\n" (or "\r\n").
static const size_t kMaxLine = 96;
/// Longest control or device name: [a-z][a-z0-9_]{0,15}.
static const size_t kMaxName = 16;

/// True when s[0..n) is a valid name: [a-z][a-z0-9_]{0,15}.
inline bool is_name(const char* s, size_t n) {
  if (n == 0 || n > kMaxName || s[0] < 'a' || s[0] > 'z') return false;
  for (size_t i = 1; i < n; ++i) {
    const char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

/// XOR of s[0..n): the integrity checksum.
inline uint8_t checksum(const char* s, size_t n) {
  uint8_t x = 0;
  for (size_t i = 0; i < n; ++i) x ^= static_cast<uint8_t>(s[i]);
  return x;
}

/// Appends helpers over a fixed buffer; they never write past cap and report
/// overflow through ok().
class LineWriter {
 public:
  LineWriter(char* buf, size_t cap) : buf_(buf), cap_(cap), len_(0), ok_(true) {}

  LineWriter& str(const char* s) {
    while (*s) put(*s++);
    return *this;
  }
  LineWriter& chr(char c) {
    put(c);
    return *this;
  }
  LineWriter& num(int32_t v) {
    char tmp[12];
    size_t n = 0;
    // Work in unsigned so INT32_MIN does not overflow.
    uint32_t u = v < 0 ? 0u - static_cast<uint32_t>(v) : static_cast<uint32_t>(v);
    do {
      tmp[n++] = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u);
    if (v < 0) put('-');
    while (n) put(tmp[--n]);
    return *this;
  }
  LineWriter& hex(uint32_t v, size_t digits) {
    static const char kHex[] = "0123456789abcdef";
    for (size_t i = digits; i-- > 0;) put(kHex[(v >> (4 * i)) & 0xf]);
    return *this;
  }
  /// Appends " *HH" over everything written so far.
  LineWriter& sum() {
    const uint8_t x = checksum(buf_, len_);
    str(" *");
    static const char kHexUp[] = "0123456789ABCDEF";
    put(kHexUp[x >> 4]);
    put(kHexUp[x & 0xf]);
    return *this;
  }
  /// Terminates the line with '\n'; returns its length (0 on overflow).
  size_t end() {
    put('\n');
    return ok_ ? len_ : 0;
  }
  size_t size() const { return len_; }
  bool ok() const { return ok_; }

 private:
  void put(char c) {
    if (len_ < cap_) buf_[len_++] = c;
    else ok_ = false;
  }
  char* buf_;
  size_t cap_;
  size_t len_;
  bool ok_;
};

/// "<name> <value>\n" (events device->host, outputs host->device).
inline size_t format_event(char* buf, size_t cap, const char* name, int32_t value,
                           bool with_sum = false) {
  LineWriter w(buf, cap);
  w.str(name).chr(' ').num(value);
  if (with_sum) w.sum();
  return w.end();
}

/// "@knoblink 1 <device> [uid=<hex>]\n"; uid is written when uid_digits > 0.
inline size_t format_hello(char* buf, size_t cap, const char* device, uint32_t uid,
                           size_t uid_digits) {
  LineWriter w(buf, cap);
  w.str("@knoblink ").num(kVersion).chr(' ').str(device);
  if (uid_digits) w.str(" uid=").hex(uid, uid_digits);
  return w.end();
}

/// "@ctl <name> <kind>[ <min> <max>]\n"; the range is written when has_range.
inline size_t format_ctl(char* buf, size_t cap, const char* name, const char* kind,
                         bool has_range, int32_t min, int32_t max) {
  LineWriter w(buf, cap);
  w.str("@ctl ").str(name).chr(' ').str(kind);
  if (has_range) w.chr(' ').num(min).chr(' ').num(max);
  return w.end();
}

/// "@end\n".
inline size_t format_end(char* buf, size_t cap) {
  LineWriter w(buf, cap);
  return w.str("@end").end();
}

/// What a host->device line is (parse_host_line).
enum class HostLine : uint8_t {
  empty,         ///< blank line: ignore
  query,         ///< "?": describe yourself again
  set,           ///< "<name> <int>": set an output
  bad_checksum,  ///< " *HH" present but wrong (or not two hex digits)
  bad_name,      ///< the name is not [a-z][a-z0-9_]{0,15}
  bad_value,     ///< missing, non-numeric or out-of-range value
};

/// Checks and removes an optional " *HH" suffix from s[0..*n).
/// Returns false when a suffix is present but does not match.
inline bool strip_sum(const char* s, size_t* n) {
  const size_t len = *n;
  if (len < 4 || s[len - 4] != ' ' || s[len - 3] != '*') return true;
  uint8_t sent = 0;
  for (size_t i = len - 2; i < len; ++i) {
    const char c = s[i];
    uint8_t d;
    if (c >= '0' && c <= '9') d = static_cast<uint8_t>(c - '0');
    else if (c >= 'A' && c <= 'F') d = static_cast<uint8_t>(c - 'A' + 10);
    else if (c >= 'a' && c <= 'f') d = static_cast<uint8_t>(c - 'a' + 10);
    else return false;
    sent = static_cast<uint8_t>((sent << 4) | d);
  }
  if (checksum(s, len - 4) != sent) return false;
  *n = len - 4;
  return true;
}

/// Parses a decimal int32 from s[0..n) ("-12", "+3", "0"); false if anything else.
inline bool parse_int(const char* s, size_t n, int32_t* out) {
  size_t i = 0;
  bool neg = false;
  if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  if (i == n) return false;
  uint32_t u = 0;
  const uint32_t limit = neg ? 2147483648u : 2147483647u;
  for (; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    const uint32_t d = static_cast<uint32_t>(s[i] - '0');
    if (u > (limit - d) / 10) return false;
    u = u * 10 + d;
  }
  *out = neg ? static_cast<int32_t>(0u - u) : static_cast<int32_t>(u);
  return true;
}

/// Parses one host->device line s[0..n) without its terminator ('\r' already
/// dropped). For HostLine::set, name receives the NUL-terminated name (it must
/// hold kMaxName + 1 bytes) and *value the value.
inline HostLine parse_host_line(const char* s, size_t n, char* name, int32_t* value) {
  if (!strip_sum(s, &n)) return HostLine::bad_checksum;
  while (n && s[n - 1] == ' ') --n;
  if (n == 0) return HostLine::empty;
  if (n == 1 && s[0] == '?') return HostLine::query;
  size_t sp = 0;
  while (sp < n && s[sp] != ' ') ++sp;
  if (!is_name(s, sp)) return HostLine::bad_name;
  for (size_t i = 0; i < sp; ++i) name[i] = s[i];
  name[sp] = '\0';
  if (sp == n || !parse_int(s + sp + 1, n - sp - 1, value)) return HostLine::bad_value;
  return HostLine::set;
}

}  // namespace knoblink_proto

#endif  // KNOBLINK_PROTOCOL_H
