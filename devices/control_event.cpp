#include "devices/control_event.hpp"

#include <chrono>

#include <cstdio>
#include <cstring>

#include "knoblink_protocol.h"

namespace knoblink {

std::string_view to_string(ControlKind kind) {
  switch (kind) {
    case ControlKind::abs: return "abs";
    case ControlKind::rel: return "rel";
    case ControlKind::btn: return "btn";
    case ControlKind::out: return "out";
    case ControlKind::unknown: break;
  }
  return "unknown";
}

std::optional<ControlKind> parse_kind(std::string_view text) {
  if (text == "abs") return ControlKind::abs;
  if (text == "rel") return ControlKind::rel;
  if (text == "btn") return ControlKind::btn;
  if (text == "out") return ControlKind::out;
  return std::nullopt;
}

std::optional<Name> Name::from(std::string_view text) {
  if (!knoblink_proto::is_name(text.data(), text.size())) return std::nullopt;
  return unchecked(text);
}

Name Name::unchecked(std::string_view text) {
  Name n;
  n.size_ = static_cast<std::uint8_t>(std::min(text.size(), capacity));
  std::memcpy(n.chars_, text.data(), n.size_);
  return n;
}

std::int64_t monotonic_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string escape_bytes(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::optional<std::uint64_t> parse_hex(std::string_view text, std::size_t max_digits) {
  if (text.empty() || text.size() > max_digits || text.size() > 16) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<std::uint64_t>(d);
  }
  return v;
}

}  // namespace knoblink
