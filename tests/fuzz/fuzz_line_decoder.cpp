// Contract 1's serial line decoder (devices/line_decoder.hpp) on arbitrary bytes: the first
// byte picks the cuts, the rest is the stream. Fed whole, byte by byte and in the chosen
// slices, it must give the same lines and keep the same partial line.
#include <string>
#include <vector>

#include "devices/line_decoder.hpp"
#include "fuzz_split.hpp"

namespace {

using namespace knoblink;

std::string render(const DecodedLine& line) {
  struct {
    std::string operator()(const HelloLine& h) const {
      return "hello " + std::to_string(h.version) + " " + std::string(h.device) + " " + std::string(h.uid);
    }
    std::string operator()(const CtlLine& c) const {
      KNOBLINK_FUZZ_CHECK(Name::from(c.name.view()).has_value());
      return "ctl " + c.name.str() + " " + std::string(to_string(c.kind)) + " " + std::to_string(c.has_range) +
             " " + std::to_string(c.min) + " " + std::to_string(c.max);
    }
    std::string operator()(const EndLine&) const { return "end"; }
    std::string operator()(const EventLine& e) const {
      KNOBLINK_FUZZ_CHECK(Name::from(e.name.view()).has_value());
      return "event " + e.name.str() + " " + std::to_string(e.value);
    }
    std::string operator()(const LogLine& l) const { return "log " + std::string(l.text); }
    std::string operator()(const BadLine& b) const {
      KNOBLINK_FUZZ_CHECK(!b.reason.empty());
      KNOBLINK_FUZZ_CHECK(b.bytes.size() <= knoblink_proto::kMaxLine && b.bytes.size() <= b.length);
      return "bad " + std::string(b.reason) + " | " + std::string(b.bytes) + " | " + std::to_string(b.length);
    }
  } visit;
  return std::visit(visit, line);
}

struct Run {
  LineDecoder decoder;
  std::vector<std::string> lines;
  void operator()(std::string_view slice) {
    decoder.feed(slice, [this](const DecodedLine& l) { lines.push_back(render(l)); });
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  Run whole, split, bytes;
  whole(stream);
  knoblink::fuzz::feed_split(stream, data[0], split);
  knoblink::fuzz::feed_bytes(stream, bytes);
  KNOBLINK_FUZZ_CHECK(whole.lines == split.lines);
  KNOBLINK_FUZZ_CHECK(whole.lines == bytes.lines);
  KNOBLINK_FUZZ_CHECK(whole.decoder.pending() == split.decoder.pending());
  KNOBLINK_FUZZ_CHECK(whole.decoder.pending() == bytes.decoder.pending());
  // After reset() the decoder starts at a line boundary: the stream decodes as from scratch.
  whole.decoder.reset();
  Run fresh;
  fresh(stream);
  const auto before = whole.lines.size();
  whole(stream);
  KNOBLINK_FUZZ_CHECK(std::vector<std::string>(whole.lines.begin() + static_cast<long>(before), whole.lines.end()) ==
                      fresh.lines);
  return 0;
}
