// The bridge's side of Contract 2 (bridge/link_codec.hpp) on arbitrary bytes: LineReader
// framing and decode_answer on every line. The first byte picks the cuts and the line cap
// (small caps reach the oversize path). Fed whole, byte by byte and in the chosen slices,
// the reader must give the same lines and the same number of oversize reports.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bridge/link_codec.hpp"
#include "fuzz_split.hpp"

namespace {

using namespace knoblink::codec;

struct Run {
  explicit Run(std::size_t cap) : reader(cap), cap_(cap) {}
  LineReader reader;
  std::size_t cap_;
  std::vector<std::string> lines;
  std::size_t oversize = 0;
  void operator()(std::string_view slice) {
    const bool go_on = reader.feed(
        slice,
        [this](std::string_view line) {
          KNOBLINK_FUZZ_CHECK(!line.empty() && line.size() <= cap_);
          lines.emplace_back(line);
          return true;
        },
        [this](std::size_t n) {
          KNOBLINK_FUZZ_CHECK(n > cap_);
          ++oversize;
        });
    KNOBLINK_FUZZ_CHECK(go_on);
  }
};

void check_answer(std::string_view line) {
  const Answer a = decode_answer(line);
  switch (a.kind) {
    case Answer::Kind::malformed: KNOBLINK_FUZZ_CHECK(!a.message.empty()); break;
    // An error's code is its "error" text; empty when that is not a string ({"error":""} or
    // {"error":5} - the add-on never sends one, and the bridge only logs it).
    case Answer::Kind::error:
      KNOBLINK_FUZZ_CHECK(nlohmann::json::parse(line, nullptr, false).contains("error"));
      break;
    case Answer::Kind::ok: KNOBLINK_FUZZ_CHECK(a.has_id); break;
    default: break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t cap = data[0] & 0x80 ? kMaxLine : 1 + (data[0] & 0x3f);
  Run whole(cap), split(cap), bytes(cap);
  whole(stream);
  knoblink::fuzz::feed_split(stream, data[0], split);
  knoblink::fuzz::feed_bytes(stream, bytes);
  KNOBLINK_FUZZ_CHECK(whole.lines == split.lines && whole.oversize == split.oversize);
  KNOBLINK_FUZZ_CHECK(whole.lines == bytes.lines && whole.oversize == bytes.oversize);
  for (const std::string& line : whole.lines) check_answer(line);
  check_answer(stream);  // the whole input as one line too (the reader never makes every line)

  // on_line returning false stops the feed at once: no further line is delivered.
  if (whole.lines.size() >= 2) {
    LineReader r(cap);
    std::size_t got = 0;
    const bool go_on = r.feed(stream, [&](std::string_view) { return ++got < 1; }, [](std::size_t) {});
    KNOBLINK_FUZZ_CHECK(!go_on && got == 1);
  }
  return 0;
}
