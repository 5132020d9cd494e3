// Contract 1 decoder: golden captures in tests/data/serial/ (NAME.txt, the lines it
// decodes to in NAME.lines), each stream fed whole, split at every offset, and byte by
// byte; all must decode the same. What the session makes of them: test_serial_session.cpp.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "devices/line_decoder.hpp"

using namespace knoblink;
namespace fs = std::filesystem;

namespace {

std::string render(const DecodedLine& line) {
  std::ostringstream o;
  std::visit(
      [&](const auto& l) {
        using T = std::decay_t<decltype(l)>;
        if constexpr (std::is_same_v<T, HelloLine>) {
          o << "hello v" << l.version << " " << l.device;
          if (!l.uid.empty()) o << " uid=" << l.uid;
        } else if constexpr (std::is_same_v<T, CtlLine>) {
          o << "ctl " << l.name.view() << " " << to_string(l.kind);
          if (l.has_range) o << " " << l.min << " " << l.max;
        } else if constexpr (std::is_same_v<T, EndLine>) {
          o << "end";
        } else if constexpr (std::is_same_v<T, EventLine>) {
          o << "event " << l.name.view() << " " << l.value;
        } else if constexpr (std::is_same_v<T, LogLine>) {
          o << "log " << l.text;
        } else {
          o << "bad [" << l.reason << "] " << l.length << " " << escape_bytes(l.bytes);
        }
      },
      line);
  return o.str();
}

std::vector<std::string> decode_in_pieces(const std::string& stream, std::vector<std::size_t> cuts) {
  LineDecoder d;
  std::vector<std::string> out;
  std::size_t at = 0;
  cuts.push_back(stream.size());
  for (std::size_t cut : cuts) {
    d.feed(std::string_view(stream).substr(at, cut - at),
           [&](const DecodedLine& l) { out.push_back(render(l)); });
    at = cut;
  }
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream s(text);
  for (std::string l; std::getline(s, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("golden serial captures decode identically at every split") {
  const fs::path dir = fs::path(KNOBLINK_TEST_DATA) / "serial";
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".txt") continue;
    ++cases;
    const std::string stream = slurp(entry.path());
    auto expected_path = entry.path();
    expected_path.replace_extension(".lines");
    const auto expected = lines_of(slurp(expected_path));
    INFO("capture " << entry.path().filename().string());
    REQUIRE(decode_in_pieces(stream, {}) == expected);
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
      INFO("split at " << cut);
      REQUIRE(decode_in_pieces(stream, {cut}) == expected);
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < stream.size(); ++i) every.push_back(i);
    REQUIRE(decode_in_pieces(stream, every) == expected);
  }
  REQUIRE(cases >= 4);
}

TEST_CASE("a line of exactly 96 bytes is accepted, 97 is reported") {
  const std::string log96 = "# " + std::string(94, 'x');
  auto ok = decode_in_pieces(log96 + "\n", {});
  REQUIRE(ok.size() == 1);
  CHECK(ok[0] == "log " + std::string(94, 'x'));
  auto bad = decode_in_pieces(log96 + "y\nk1 5\n", {});
  REQUIRE(bad.size() == 2);
  CHECK(bad[0].rfind("bad [line too long: 97 bytes, at most 96] 97 ", 0) == 0);
  CHECK(bad[1] == "event k1 5");
}

TEST_CASE("events round-trip through the shared firmware encoder") {
  char buf[knoblink_proto::kMaxLine + 1];
  for (std::int32_t v : {0, 1, -1, 1023, INT32_MAX, INT32_MIN}) {
    for (bool sum : {false, true}) {
      const auto n = knoblink_proto::format_event(buf, sizeof buf, "enc_2", v, sum);
      REQUIRE(n > 0);
      auto out = decode_in_pieces(std::string(buf, n), {});
      REQUIRE(out.size() == 1);
      CHECK(out[0] == "event enc_2 " + std::to_string(v));
    }
  }
  const auto n = knoblink_proto::format_hello(buf, sizeof buf, "knobbox", 0x1a2bu, 8);
  CHECK(decode_in_pieces(std::string(buf, n), {}) == std::vector<std::string>{"hello v1 knobbox uid=00001a2b"});
  const auto m = knoblink_proto::format_ctl(buf, sizeof buf, "k1", "abs", true, 0, 1023);
  CHECK(decode_in_pieces(std::string(buf, m), {}) == std::vector<std::string>{"ctl k1 abs 0 1023"});
}

TEST_CASE("a partial line survives reset only when asked") {
  LineDecoder d;
  std::vector<std::string> out;
  auto sink = [&](const DecodedLine& l) { out.push_back(render(l)); };
  d.feed("k1 12", sink);
  CHECK(d.pending() == 5);
  d.reset();  // device unplugged mid-line
  d.feed("k2 7\n", sink);
  CHECK(out == std::vector<std::string>{"event k2 7"});
}
