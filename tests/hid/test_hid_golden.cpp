// Golden HID descriptors in tests/data/hid/: NAME.hex (the descriptor) and NAME.reports
// (input reports, one per line, fed in order as they would arrive) must produce exactly
// NAME.expected: the described controls, then per report its decoded events.
// KNOBLINK_REGEN_GOLDEN=1 rewrites the .expected files (review the diff before committing).
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "devices/hid/hid_describe.hpp"
#include "firmware/knobbox_hid/knobbox_hid_report.h"
#include "hid_test_util.hpp"

using namespace knoblink;
using namespace knoblink::hid;
using knoblink::test::hex_line;
using knoblink::test::lines_of;
using knoblink::test::slurp;
namespace fs = std::filesystem;

namespace {

std::string hex_text(std::span<const std::uint8_t> bytes) {
  std::string out;
  char buf[4];
  for (auto b : bytes) {
    std::snprintf(buf, sizeof buf, out.empty() ? "%02x" : " %02x", b);
    out += buf;
  }
  return out;
}

std::string render_golden(const fs::path& hex) {
  std::string error;
  const auto bytes = load_descriptor_file(hex.string(), error);
  REQUIRE(error.empty());
  const ParseResult parsed = parse_descriptor(bytes);
  INFO(parsed.error);
  REQUIRE(parsed.descriptor);
  std::string out = describe_controls(*parsed.descriptor);
  ReportDecoder decoder(*parsed.descriptor, 7);
  std::vector<ControlEvent> events;
  auto reports_path = hex;
  reports_path.replace_extension(".reports");
  std::int64_t t = 0;
  for (const auto& line : lines_of(slurp(reports_path))) {
    const auto report = hex_line(line);
    if (report.empty()) continue;
    events.clear();
    t += 1000;
    const DecodeStatus status = decoder.decode(report, t, events);
    out += "report " + hex_text(report) + "\n";
    if (status != DecodeStatus::ok) out += "  malformed: " + std::string(to_string(status)) + "\n";
    for (const auto& e : events) {
      REQUIRE(e.device == 7);
      REQUIRE(e.t_us == t);
      out += "  event " + e.control.str() + " " + std::string(to_string(e.kind)) + " " + std::to_string(e.value) + "\n";
    }
  }
  return out;
}

}  // namespace

TEST_CASE("golden HID descriptors give the expected controls and events") {
  const fs::path dir = fs::path(KNOBLINK_TEST_DATA) / "hid";
  const bool regen = std::getenv("KNOBLINK_REGEN_GOLDEN") != nullptr;
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".hex") continue;
    ++cases;
    INFO("golden " << entry.path().filename().string());
    const std::string got = render_golden(entry.path());
    auto expected_path = entry.path();
    expected_path.replace_extension(".expected");
    if (regen) std::ofstream(expected_path) << got;
    CHECK(lines_of(got) == lines_of(slurp(expected_path)));
  }
  REQUIRE(cases >= 4);
}

TEST_CASE("every control name of the goldens is a valid Name, and unique") {
  for (const auto& entry : fs::directory_iterator(fs::path(KNOBLINK_TEST_DATA) / "hid")) {
    if (entry.path().extension() != ".hex") continue;
    std::string error;
    const auto parsed = parse_descriptor(load_descriptor_file(entry.path().string(), error));
    REQUIRE(parsed.descriptor);
    std::set<std::string> seen;
    for (const auto& c : parsed.descriptor->controls) {
      INFO(entry.path().filename().string() << ": " << c.info.name.str());
      CHECK(Name::from(c.info.name.view()));
      CHECK(seen.insert(c.info.name.str()).second);
    }
  }
}

TEST_CASE("the knobbox_hid golden is the firmware's own descriptor, and its reports decode") {
  std::string error;
  const auto golden = load_descriptor_file((fs::path(KNOBLINK_TEST_DATA) / "hid" / "knobbox_hid.hex").string(), error);
  const std::vector<std::uint8_t> firmware(std::begin(knobbox_hid_descriptor), std::end(knobbox_hid_descriptor));
  REQUIRE(golden == firmware);

  const auto parsed = parse_descriptor(firmware);
  REQUIRE(parsed.descriptor);
  ReportDecoder decoder(*parsed.descriptor, 0);
  knobbox_hid_state state{{0, 1023, 512, 7}, {300, -2}, 0x05};
  std::uint8_t report[1 + KNOBBOX_HID_REPORT_SIZE] = {KNOBBOX_HID_REPORT_ID};
  REQUIRE(decoder.expected_size(KNOBBOX_HID_REPORT_ID) == sizeof report);
  std::vector<ControlEvent> events;
  std::map<std::string, std::int32_t> last, steps;
  // 300 encoder steps do not fit one report: they arrive as 127 + 127 + 46.
  for (int i = 0; i < 3; ++i) {
    knobbox_hid_pack(&state, report + 1);
    events.clear();
    REQUIRE(decoder.decode(report, i, events) == DecodeStatus::ok);
    for (const auto& e : events) {
      if (e.kind == ControlKind::rel) steps[e.control.str()] += e.value;
      else last[e.control.str()] = e.value;
    }
  }
  CHECK(last == std::map<std::string, std::int32_t>{
                    {"x", 0}, {"y", 1023}, {"z", 512}, {"rx", 7}, {"button1", 1}, {"button3", 1}});
  CHECK(steps == std::map<std::string, std::int32_t>{{"dial", 300}, {"wheel", -2}});
  CHECK(state.steps[0] == 0);
}
