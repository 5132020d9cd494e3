// 3D mice (docs/hid.md, "3D mice"): the real SpaceNavigator descriptor declares its axes
// Relative over -350..350 but reports the cap's displacement in every report. Through the
// real decoder and mapper: rate: and set: read such an axis as a position over its
// logical range (no from: needed), while add: keeps a relative control's deltas.
#include <catch2/catch.hpp>

#include "bridge/config.hpp"
#include "bridge/mapper.hpp"
#include "devices/hid/hid_describe.hpp"
#include "hid_test_util.hpp"

using namespace knoblink;
using namespace knoblink::hid;

namespace {

struct Recorder final : CommandSink {
  std::vector<Command> history;
  void push(const Command& c) override { history.push_back(c); }
};

HidDescriptor descriptor(const char* name) {
  std::string error;
  const auto bytes = load_descriptor_file(std::string(KNOBLINK_TEST_DATA) + "/hid/" + name, error);
  REQUIRE(error.empty());
  auto r = parse_descriptor(bytes);
  REQUIRE(r.descriptor);
  return std::move(*r.descriptor);
}

const HidControl& control(const HidDescriptor& d, std::string_view name) {
  for (const auto& c : d.controls)
    if (c.info.name.view() == name) return c;
  FAIL("no control " << name);
  throw;
}

Config load(const std::string& mappings) {
  auto r = load_config_text("devices:\n  mouse:\n    hid: {match: \"046d:c626\"}\nmappings:\n" + mappings, "m.yaml");
  INFO((r.errors.empty() ? "" : r.errors[0]));
  REQUIRE(r.errors.empty());
  return std::move(*r.config);
}

/// The SpaceNavigator's report 1 (x y z) or 2 (rx ry rz): ID, three int16 LE.
std::vector<std::uint8_t> report(std::uint8_t id, std::int16_t a, std::int16_t b = 0, std::int16_t c = 0) {
  std::vector<std::uint8_t> r{id};
  for (std::int16_t v : {a, b, c}) {
    r.push_back(static_cast<std::uint8_t>(v & 0xff));
    r.push_back(static_cast<std::uint8_t>((v >> 8) & 0xff));
  }
  return r;
}

/// Feeds one report to the decoder and its events to the mapper, then the ticks due up to t.
struct Chain {
  Chain(const HidDescriptor& d, Mapper& mapper, Recorder& recorder) : m(mapper), out(recorder), decoder(d, 0) {}
  Mapper& m;
  Recorder& out;
  ReportDecoder decoder;
  std::vector<ControlEvent> events;
  void feed(const std::vector<std::uint8_t>& r, std::int64_t t) {
    while (auto next = m.next_tick()) {
      if (*next > t) break;
      m.tick(*next, out);
    }
    events.clear();
    REQUIRE(decoder.decode(r, t, events) == DecodeStatus::ok);
    for (const auto& e : events) m.on_event(e, out);
  }
};

constexpr std::int64_t ms = 1000;

}  // namespace

TEST_CASE("a 3D mouse's axes keep their logical range, Relative (SpaceNavigator) or Absolute (SpaceMouse Wireless)") {
  const auto nav = descriptor("spacenavigator.hex");
  for (const char* axis : {"x", "y", "z", "rx", "ry", "rz"}) {
    INFO(axis);
    const auto& c = control(nav, axis);
    CHECK(c.info.kind == ControlKind::rel);
    CHECK(c.info.has_range);
    CHECK((c.info.min == -350 && c.info.max == 350));
  }
  const auto wireless = descriptor("spacemouse_wireless.hex");
  for (const char* axis : {"x", "rz"}) {
    const auto& c = control(wireless, axis);
    CHECK(c.info.kind == ControlKind::abs);
    CHECK((c.info.min == -350 && c.info.max == 350));
    CHECK(c.report_id == 1);
  }
  // What `knoblink descriptor` prints for them.
  const std::string text = describe_controls(nav);
  CHECK_THAT(text, Catch::Contains("x                rel -350 350     input report 1 bits 0+16 (Generic Desktop 0x30)"));
  CHECK_THAT(text, Catch::Contains("rz               rel -350 350     input report 2 bits 32+16 (Generic Desktop 0x35)"));
}

TEST_CASE("rate: on a SpaceNavigator axis is a speed over its logical range, at 125 reports/s") {
  const auto d = descriptor("spacenavigator.hex");
  const auto cfg = load("  - control: mouse.x\n    rate: context.active_object.location[0]\n    speed: 2.0\n"
                        "    deadzone: 0.1\n");
  TargetTable targets;
  Mapper m(cfg, targets);
  for (const auto& c : d.controls) CHECK(m.on_control(0, c.info).empty());
  Recorder out;
  Chain chain(d, m, out);
  // The cap pushed half way (+175 of 350) for one second: reports 1 and 2 alternate every 8 ms.
  std::int64_t t = 0;
  for (; t < 1'000 * ms; t += 8 * ms) chain.feed((t / (8 * ms)) % 2 ? report(2, 0) : report(1, 175), t);
  for (int i = 0; i < 6; ++i, t += 8 * ms) chain.feed(report(i % 2 ? 2 : 1, 0), t);  // let go: three zeros of each
  CHECK_FALSE(m.next_tick());  // at rest: no timer
  double total = 0;
  for (const auto& c : out.history) {
    CHECK(c.op == Op::add);
    total += c.value;
  }
  // Half way is a deflection of 0.5, minus the deadzone, rescaled: (0.5 - 0.1) / 0.9.
  CHECK(total == Approx(2.0 * (0.5 - 0.1) / 0.9).epsilon(0.1));
  const auto n = out.history.size();
  chain.feed(report(1, 0), t + 100 * ms);  // more rest: nothing
  m.tick(t + 200 * ms, out);
  CHECK(out.history.size() == n);
}

TEST_CASE("set: on a SpaceNavigator axis is a position over its logical range, sent when it changes") {
  const auto d = descriptor("spacenavigator.hex");
  const auto cfg = load("  - control: mouse.ry\n    set: context.active_object.rotation_euler[1]\n    to: [-0.7, 0.7]\n");
  TargetTable targets;
  Mapper m(cfg, targets);
  for (const auto& c : d.controls) CHECK(m.on_control(0, c.info).empty());  // no "set on rel" warning: it has a range
  Recorder out;
  Chain chain(d, m, out);
  chain.feed(report(2, 0, -30), 0);           // the recorded tilt: ry -30
  chain.feed(report(2, 0, -30), 8 * ms);      // reported again: not sent again
  chain.feed(report(2, 0, 350), 16 * ms);     // the end of the range
  chain.feed(report(2, 0, 0), 24 * ms);       // let go: the middle of to
  chain.feed(report(2, 0, 0), 32 * ms);       // the next zeros: nothing
  REQUIRE(out.history.size() == 3);
  CHECK(out.history[0].op == Op::set);
  CHECK(out.history[0].value == Approx(-0.7 + 1.4 * (320.0 / 700.0)));
  CHECK(out.history[1].value == Approx(0.7));
  CHECK(out.history[2].value == Approx(0.0).margin(1e-12));
}

TEST_CASE("add: keeps a relative control's deltas: every report adds, the same delta twice adds twice") {
  const auto d = descriptor("knobbox_hid.hex");  // its dial (rel -127..127) is an encoder
  auto r = load_config_text("devices:\n  pad:\n    hid: {match: \"2341:8036\"}\nmappings:\n"
                            "  - control: pad.dial\n    add: context.scene.frame_current\n    step: 1\n",
                            "m.yaml");
  REQUIRE(r.config);
  TargetTable targets;
  Mapper m(*r.config, targets);
  for (const auto& c : d.controls) m.on_control(0, c.info);
  CHECK(control(d, "dial").info.has_range);
  Recorder out;
  Chain chain(d, m, out);
  using knoblink::test::hex_line;
  chain.feed(hex_line("01 00 02 00 02 00 02 ff 03 03 00 00"), 0);       // +3
  chain.feed(hex_line("01 00 02 00 02 00 02 ff 03 03 00 00"), 8 * ms);  // +3 again
  chain.feed(hex_line("01 00 02 00 02 00 02 ff 03 00 00 00"), 16 * ms); // no turn
  chain.feed(hex_line("01 00 02 00 02 00 02 ff 03 fe 00 00"), 24 * ms); // -2
  REQUIRE(out.history.size() == 3);
  CHECK((out.history[0].op == Op::add && out.history[0].value == 3));
  CHECK(out.history[1].value == 3);
  CHECK(out.history[2].value == -2);
}
