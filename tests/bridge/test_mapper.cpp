// Pipeline tests: events in, the recording sink's history out.
#include <catch2/catch.hpp>

#include "bridge/mapper.hpp"

using namespace knoblink;

namespace {

struct Recorder final : CommandSink {
  std::vector<Command> history;
  void push(const Command& c) override { history.push_back(c); }
};

Config load(const std::string& mappings) {
  auto r = load_config_text("devices:\n  box:\n    serial: {port: /dev/null}\nmappings:\n" + mappings, "t.yaml");
  INFO((r.errors.empty() ? "" : r.errors[0]));
  REQUIRE(r.errors.empty());
  return std::move(*r.config);
}

ControlEvent ev(const char* name, std::int32_t v) {
  ControlEvent e;
  e.control = *Name::from(name);
  e.value = v;
  return e;
}

}  // namespace

TEST_CASE("abs -> set with linear scaling over the described range, reversed ranges invert") {
  const auto cfg = load(
      "  - control: box.k1\n    set: context.scene.x\n    to: [0, 10]\n"
      "  - control: box.k1\n    set: context.scene.y\n    to: [1, -1]\n");
  TargetTable t;
  Mapper m(cfg, t);
  Recorder r;
  m.on_event(ev("k1", 0), r);
  m.on_event(ev("k1", 1023), r);
  m.on_control(0, ControlInfo{*Name::from("k1"), ControlKind::abs, true, 0, 100});
  m.on_event(ev("k1", 25), r);
  m.on_event(ev("k1", 500), r);  // out of range clamps
  const auto x = static_cast<std::uint32_t>(t.find("context.scene.x"));
  const auto y = static_cast<std::uint32_t>(t.find("context.scene.y"));
  REQUIRE(r.history.size() == 8);
  CHECK(r.history[0] == Command{Op::set, x, 0});
  CHECK(r.history[1] == Command{Op::set, y, 1});
  CHECK(r.history[2] == Command{Op::set, x, 10});
  CHECK(r.history[3] == Command{Op::set, y, -1});
  CHECK(r.history[4].value == Approx(2.5));
  CHECK(r.history[5].value == Approx(0.5));
  CHECK(r.history[6].value == Approx(10));
  CHECK(r.history[7].value == Approx(-1));
  CHECK(m.is_absolute(x));
}

TEST_CASE("from: wins over the described range; deadband drops small changes") {
  const auto cfg = load("  - control: box.k1\n    set: context.scene.x\n    from: [100, 200]\n    to: [0, 1]\n    deadband: 4\n");
  TargetTable t;
  Mapper m(cfg, t);
  Recorder r;
  m.on_control(0, ControlInfo{*Name::from("k1"), ControlKind::abs, true, 0, 1023});
  for (int v : {150, 152, 153, 154, 200}) m.on_event(ev("k1", v), r);
  REQUIRE(r.history.size() == 3);
  CHECK(r.history[0].value == Approx(0.5));
  CHECK(r.history[1].value == Approx(0.54));
  CHECK(r.history[2].value == Approx(1.0));
  m.on_reconnect(0);
  m.on_event(ev("k1", 200), r);  // unchanged, but the device came back: sent again
  CHECK(r.history.size() == 4);
}

TEST_CASE("rel -> add scaled by step; buttons -> press and release actions") {
  const auto cfg = load(
      "  - control: box.e1\n    add: context.scene.frame_current\n    step: 2\n"
      "  - control: box.b1\n    press: {keyframe: context.active_object.location}\n    release: {call: screen.frame_jump}\n"
      "  - control: box.b2\n    press: {toggle: context.scene.use_gravity}\n"
      "  - control: box.b3\n    press: {set: context.scene.frame_current, value: 1}\n");
  TargetTable t;
  Mapper m(cfg, t);
  Recorder r;
  m.on_event(ev("e1", -3), r);
  m.on_event(ev("e1", 0), r);
  m.on_event(ev("b1", 1), r);
  m.on_event(ev("b1", 1), r);  // a repeated press is a press
  m.on_event(ev("b1", 0), r);
  m.on_event(ev("b2", 1), r);
  m.on_event(ev("b2", 0), r);  // no release action
  m.on_event(ev("b3", 1), r);
  CHECK_FALSE(m.on_event(ev("zz", 1), r));
  const auto frame = static_cast<std::uint32_t>(t.find("context.scene.frame_current"));
  const auto loc = static_cast<std::uint32_t>(t.find("context.active_object.location"));
  const auto jump = static_cast<std::uint32_t>(t.find("screen.frame_jump"));
  const auto grav = static_cast<std::uint32_t>(t.find("context.scene.use_gravity"));
  const std::vector<Command> want = {{Op::add, frame, -6},     {Op::keyframe, loc, 0}, {Op::keyframe, loc, 0},
                                     {Op::call, jump, 0},      {Op::toggle, grav, 0},  {Op::set, frame, 1}};
  CHECK(r.history == want);
  CHECK_FALSE(m.is_absolute(frame));  // add targets are not resent as absolute values
}

TEST_CASE("led feedback follows the watched value") {
  const auto cfg = load(
      "  - control: box.b2\n    press: {toggle: context.scene.use_gravity}\n    led: box.l2\n"
      "  - control: box.l1\n    watch: context.scene.frame_current\n");
  TargetTable t;
  Mapper m(cfg, t);
  REQUIRE(m.watched().size() == 2);
  std::vector<std::pair<std::string, int>> writes;
  auto rec = [&](const OutputWrite& w) { writes.push_back({std::string(w.control.view()), w.value}); };
  m.on_watched_value(static_cast<std::uint32_t>(t.find("context.scene.use_gravity")), 1, rec);
  m.on_watched_value(static_cast<std::uint32_t>(t.find("context.scene.frame_current")), 0, rec);
  m.on_watched_value(static_cast<std::uint32_t>(t.find("context.scene.use_gravity")), 0, rec);
  CHECK(writes == std::vector<std::pair<std::string, int>>{{"l2", 1}, {"l1", 0}, {"l2", 0}});
}

TEST_CASE("takeover: pickup waits until the knob passes a value changed in Blender") {
  const auto cfg = load("  - control: box.k1\n    set: context.scene.x\n    from: [0, 100]\n    to: [0, 1]\n"
                        "    takeover: pickup\n");
  TargetTable t;
  Mapper m(cfg, t);
  const auto x = static_cast<std::uint32_t>(t.find("context.scene.x"));
  REQUIRE(m.watched() == std::vector<std::uint32_t>{x});
  Recorder r;
  auto none = [](const OutputWrite&) {};
  // Blender reports the value before the knob ever moved: the knob must reach it first.
  m.on_watched_value(x, 0.5, none);
  m.on_event(ev("k1", 20), r);
  m.on_event(ev("k1", 30), r);
  CHECK(r.history.empty());
  m.on_event(ev("k1", 60), r);  // passed 0.5: from here on the knob drives
  m.on_event(ev("k1", 70), r);
  REQUIRE(r.history.size() == 2);
  CHECK(r.history[0].value == Approx(0.6));
  // Echoes of what the knob sent (as 32-bit floats, late) change nothing.
  m.on_watched_value(x, static_cast<float>(0.6), none);
  m.on_event(ev("k1", 71), r);
  CHECK(r.history.size() == 3);
  // Undo in Blender sets 0.2: the knob at 0.71 does nothing until it comes down past 0.2.
  m.on_watched_value(x, 0.2, none);
  m.on_event(ev("k1", 50), r);
  m.on_event(ev("k1", 25), r);
  CHECK(r.history.size() == 3);
  m.on_event(ev("k1", 20), r);  // reached
  REQUIRE(r.history.size() == 4);
  CHECK(r.history[3].value == Approx(0.2));
  // The path stops resolving (object deleted): nothing to pick up, the knob drives.
  m.on_watched_value(x, std::nullopt, none);
  m.on_event(ev("k1", 90), r);
  CHECK(r.history.size() == 5);
}

TEST_CASE("without takeover the knob jumps the value, and watches nothing") {
  const auto cfg = load("  - control: box.k1\n    set: context.scene.x\n    from: [0, 100]\n");
  TargetTable t;
  Mapper m(cfg, t);
  CHECK(m.watched().empty());
  Recorder r;
  m.on_watched_value(static_cast<std::uint32_t>(t.find("context.scene.x")), 0.5, [](const OutputWrite&) {});
  m.on_event(ev("k1", 20), r);
  CHECK(r.history.size() == 1);
}

TEST_CASE("a set on a control the device describes as rel or btn is warned about, once per description") {
  const auto cfg = load(
      "  - control: box.e1\n    set: context.scene.x\n"
      "  - control: box.k1\n    set: context.scene.y\n"
      "  - control: box.b1\n    set: context.scene.z\n");
  TargetTable t;
  Mapper m(cfg, t);
  CHECK_THAT(m.on_control(0, ControlInfo{*Name::from("e1"), ControlKind::rel, false, 0, 0}),
             Catch::Contains("t.yaml:5: set on box.e1, which the device describes as rel") &&
                 Catch::Contains("use add:"));
  CHECK_THAT(m.on_control(0, ControlInfo{*Name::from("b1"), ControlKind::btn, true, 0, 1}),
             Catch::Contains("t.yaml:9: set on box.b1") && Catch::Contains("use press:"));
  CHECK(m.on_control(0, ControlInfo{*Name::from("k1"), ControlKind::abs, true, 0, 1023}).empty());
  CHECK(m.on_control(0, ControlInfo{*Name::from("zz"), ControlKind::rel, false, 0, 0}).empty());
}

TEST_CASE("mapping keys belong to their kind") {
  const auto errors = [](const std::string& body) {
    return load_config_text("devices:\n  box:\n    serial: {port: /dev/null}\nmappings:\n" + body, "t.yaml").errors;
  };
  CHECK_THAT(errors("  - control: box.b1\n    press: {toggle: context.scene.x}\n    to: [0, 1]\n")[0],
             Catch::Contains("t.yaml:7:9: to goes only with set"));
  CHECK_THAT(errors("  - control: box.k1\n    set: context.scene.x\n    release: {toggle: context.scene.x}\n")[0],
             Catch::Contains("a mapping does one thing"));
  CHECK_THAT(errors("  - control: box.k1\n    set: context.scene.x\n    curvy: 2\n")[0],
             Catch::Contains("t.yaml:7:5: unknown key 'curvy' in a mapping; allowed keys: control, layer, led, watch, set"));
}
