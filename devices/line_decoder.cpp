#include "devices/line_decoder.hpp"

#include <charconv>
#include <cstdarg>
#include <cstdio>

namespace knoblink {
namespace {

/// Splits off the next space-separated token; empty when none is left.
std::string_view next_token(std::string_view& rest) {
  const auto start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    rest = {};
    return {};
  }
  rest.remove_prefix(start);
  const auto end = rest.find(' ');
  const std::string_view tok = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  return tok;
}

bool parse_int(std::string_view s, std::int32_t& out) {
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_hex(std::string_view s) {
  if (s.empty() || s.size() > 16) return false;
  for (char c : s)
    if (hex_digit(c) < 0) return false;
  return true;
}

}  // namespace

BadLine LineDecoder::bad(std::string_view line, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(reason_, sizeof reason_, fmt, ap);
  va_end(ap);
  const std::size_t len = n < 0 ? 0 : std::min<std::size_t>(static_cast<std::size_t>(n), sizeof reason_ - 1);
  return BadLine{std::string_view(reason_, len), line, line.size()};
}

std::string_view LineDecoder::too_long(std::size_t n) {
  const int len = std::snprintf(reason_, sizeof reason_, "line too long: %zu bytes, at most %zu",
                                n, knoblink_proto::kMaxLine);
  return {reason_, static_cast<std::size_t>(len)};
}

DecodedLine LineDecoder::parse(std::string_view line) {
  std::string_view body = line;

  // Optional integrity suffix " *HH".
  if (body.size() >= 4 && body[body.size() - 3] == '*' && body[body.size() - 4] == ' ') {
    const int hi = hex_digit(body[body.size() - 2]);
    const int lo = hex_digit(body[body.size() - 1]);
    if (hi < 0 || lo < 0) return bad(line, "checksum is not two hex digits");
    const auto sent = static_cast<unsigned>(hi * 16 + lo);
    body.remove_suffix(4);
    const unsigned computed = knoblink_proto::checksum(body.data(), body.size());
    if (sent != computed)
      return bad(line, "checksum mismatch: sent %02X, computed %02X", sent, computed);
  }

  if (body.empty()) return bad(line, "empty line before checksum");

  if (body[0] == '#') {
    body.remove_prefix(1);
    if (!body.empty() && body[0] == ' ') body.remove_prefix(1);
    return LogLine{body};
  }

  std::string_view rest = body;
  const std::string_view head = next_token(rest);

  if (head == "@knoblink") {
    HelloLine h;
    std::int32_t version = 0;
    const auto v = next_token(rest);
    if (!parse_int(v, version) || version < 1)
      return bad(line, "hello needs a protocol version number after @knoblink");
    h.version = version;
    h.device = next_token(rest);
    if (h.device.empty()) return bad(line, "hello needs a device name after the version");
    for (auto tok = next_token(rest); !tok.empty(); tok = next_token(rest)) {
      if (tok.substr(0, 4) == "uid=") {
        h.uid = tok.substr(4);
        if (!is_hex(h.uid)) return bad(line, "uid must be 1-16 hex digits");
      }
      // Other key=value tokens are for newer hosts; ignore them.
    }
    return h;
  }
  if (head == "@ctl") {
    CtlLine c;
    const auto name = next_token(rest);
    const auto n = Name::from(name);
    if (!n) return bad(line, "control name must match [a-z][a-z0-9_]{0,15}");
    c.name = *n;
    const auto kind = parse_kind(next_token(rest));
    if (!kind) return bad(line, "control kind must be abs, rel, btn or out");
    c.kind = *kind;
    const auto lo = next_token(rest);
    if (!lo.empty()) {
      if (!parse_int(lo, c.min) || !parse_int(next_token(rest), c.max))
        return bad(line, "control range must be two signed 32-bit integers");
      c.has_range = true;
    }
    if (!next_token(rest).empty()) return bad(line, "unexpected text after @ctl fields");
    return c;
  }
  if (head == "@end") {
    if (!next_token(rest).empty()) return bad(line, "unexpected text after @end");
    return EndLine{};
  }
  if (!head.empty() && head[0] == '@') return bad(line, "unknown directive (known: @knoblink, @ctl, @end)");

  EventLine e;
  const auto n = Name::from(head);
  if (!n) return bad(line, "not an event: control name must match [a-z][a-z0-9_]{0,15}");
  e.name = *n;
  if (!parse_int(next_token(rest), e.value))
    return bad(line, "event value must be a signed 32-bit integer");
  if (!next_token(rest).empty()) return bad(line, "unexpected text after the event value");
  return e;
}

}  // namespace knoblink
