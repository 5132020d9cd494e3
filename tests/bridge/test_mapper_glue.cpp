// The mapping's glue (docs/mapping.md): curves, encoder acceleration, layers, long
// presses, cycles, call arguments, rate controls. Pure: events and ticks carry their time.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "bridge/link_codec.hpp"
#include "bridge/mapper.hpp"

using namespace knoblink;
using nlohmann::json;

namespace {

struct Recorder final : CommandSink {
  std::vector<Command> history;
  void push(const Command& c) override { history.push_back(c); }
};

const std::string kDevices = "devices:\n  box:\n    serial: {port: /dev/null}\n";

Config load(const std::string& body) {
  auto r = load_config_text(kDevices + body, "t.yaml");
  INFO((r.errors.empty() ? "" : r.errors[0]));
  REQUIRE(r.errors.empty());
  return std::move(*r.config);
}

std::vector<std::string> errors(const std::string& body) { return load_config_text(kDevices + body, "t.yaml").errors; }

ControlEvent ev(const char* name, std::int32_t v, std::int64_t t_us = 0) {
  ControlEvent e;
  e.control = *Name::from(name);
  e.value = v;
  e.t_us = t_us;
  return e;
}

/// The JSON line the link would write for c.
json wire(const Command& c, const TargetTable& t) {
  std::string out;
  codec::append_command(out, c, t, 0);
  return json::parse(out);
}

constexpr std::int64_t ms = 1000;

}  // namespace

TEST_CASE("curves: raw -> clamp -> 0..1 -> curve -> to") {
  const auto cfg = load(
      "mappings:\n"
      "  - control: box.k1\n    set: context.scene.a\n    from: [0, 100]\n    to: [0, 10]\n    curve: smooth\n"
      "  - control: box.k1\n    set: context.scene.b\n    from: [0, 100]\n    to: [0, 10]\n    curve: {power: 2}\n"
      "  - control: box.k1\n    set: context.scene.c\n    from: [0, 100]\n    to: [0, 10]\n"
      "    curve: [[0, 0], [0.5, 0.1], [1, 1]]\n");
  TargetTable t;
  Mapper m(cfg, t);
  Recorder r;
  for (int raw : {0, 25, 50, 75, 100, 150}) m.on_event(ev("k1", raw), r);
  REQUIRE(r.history.size() == 18);
  const auto at = [&](int i, int which) { return r.history[static_cast<std::size_t>(i * 3 + which)].value; };
  // smooth: 3x^2 - 2x^3
  CHECK(at(1, 0) == Approx(10 * (3 * 0.0625 - 2 * 0.015625)));
  CHECK(at(2, 0) == Approx(5));
  CHECK(at(3, 0) == Approx(10 * (3 * 0.5625 - 2 * 0.421875)));
  // power 2
  CHECK(at(1, 1) == Approx(0.625));
  CHECK(at(2, 1) == Approx(2.5));
  CHECK(at(4, 1) == Approx(10));
  // points: 0..0.5 -> 0..0.1, 0.5..1 -> 0.1..1
  CHECK(at(1, 2) == Approx(0.5));
  CHECK(at(2, 2) == Approx(1));
  CHECK(at(3, 2) == Approx(5.5));
  CHECK(at(5, 2) == Approx(10));  // 150 clamps to 100 first
  CHECK(at(0, 0) == 0);
  CHECK(at(0, 1) == 0);
}

TEST_CASE("acceleration: slow detents add exactly step, fast turns up to accel x step") {
  const auto cfg = load("mappings:\n  - control: box.e1\n    add: context.scene.frame_current\n    step: 1\n    accel: 8\n");
  TargetTable t;
  Mapper m(cfg, t);
  Recorder slow;
  for (int i = 0; i < 5; ++i) m.on_event(ev("e1", 1, i * 250 * ms), slow);
  double total = 0;
  for (const auto& c : slow.history) total += c.value;
  CHECK(total == 5);

  Mapper m2(cfg, t);
  Recorder fast;
  for (int i = 0; i < 60; ++i) m2.on_event(ev("e1", 1, 10'000 * ms + i * 10 * ms), fast);
  total = 0;
  for (const auto& c : fast.history) {
    CHECK(c.value >= 1);
    CHECK(c.value <= 8);
    total += c.value;
  }
  CHECK(total > 2 * 60);
  CHECK(total <= 8 * 60);

  // A delta of 3 in one event after 90 ms is three detents 30 ms apart; backwards too.
  Mapper m3(cfg, t);
  Recorder r;
  m3.on_event(ev("e1", -1, 0), r);
  m3.on_event(ev("e1", -3, 90 * ms), r);
  REQUIRE(r.history.size() == 2);
  CHECK(r.history[0].value == -1);
  CHECK(r.history[1].value == Approx(-3 * transfer::acceleration(8, 30 * ms)));
  CHECK(transfer::acceleration(8, 200 * ms) == 1);
  CHECK(transfer::acceleration(8, 10 * ms) == 8);
  CHECK(transfer::acceleration(8, 105 * ms) == Approx(4.5));
}

TEST_CASE("layers: hold and toggle, groups, LEDs, and layered mappings replace unlayered ones") {
  const auto cfg = load(
      "layers:\n"
      "  shift: {hold: box.b4}\n"
      "  cam: {toggle: box.b2, group: page, led: box.l2}\n"
      "  light: {toggle: box.b3, group: page, led: box.l3}\n"
      "mappings:\n"
      "  - control: box.k1\n    set: context.scene.a\n    from: [0, 100]\n"
      "  - control: box.k1\n    layer: shift\n    set: context.scene.b\n    from: [0, 100]\n"
      "  - control: box.k1\n    layer: cam\n    set: context.scene.c\n    from: [0, 100]\n"
      "  - control: box.k2\n    set: context.scene.d\n    from: [0, 100]\n");
  TargetTable t;
  std::vector<OutputWrite> leds;
  Mapper m(cfg, t, [&](const OutputWrite& w) { leds.push_back(w); });
  Recorder r;
  const auto path_of_last = [&] { return t.text(r.history.back().target); };
  m.on_event(ev("k1", 50), r);
  CHECK(path_of_last() == "context.scene.a");
  CHECK(m.on_event(ev("b4", 1), r));  // shift held
  m.on_event(ev("k1", 60), r);
  CHECK(path_of_last() == "context.scene.b");
  m.on_event(ev("k2", 60), r);
  CHECK(path_of_last() == "context.scene.d");  // k2 has no shift mapping: unchanged
  m.on_event(ev("b4", 0), r);
  m.on_event(ev("k1", 70), r);
  CHECK(path_of_last() == "context.scene.a");
  CHECK(r.history.size() == 4);  // switches send nothing

  // cam toggles on (its LED lights), light then takes the page, cam goes off.
  m.on_event(ev("b2", 1), r);
  m.on_event(ev("b2", 0), r);
  CHECK(m.layer_on(1));
  m.on_event(ev("k1", 80), r);
  CHECK(path_of_last() == "context.scene.c");
  m.on_event(ev("b3", 1), r);
  CHECK(m.layer_on(2));
  CHECK_FALSE(m.layer_on(1));
  m.on_event(ev("k1", 90), r);
  CHECK(path_of_last() == "context.scene.a");  // light has no k1 mapping
  m.on_event(ev("b3", 0), r);
  m.on_event(ev("b3", 1), r);  // off again
  CHECK_FALSE(m.layer_on(2));
  REQUIRE(leds.size() == 4);
  CHECK((leds[0].control.view() == "l2" && leds[0].value == 1));
  CHECK((leds[1].control.view() == "l2" && leds[1].value == 0));
  CHECK((leds[2].control.view() == "l3" && leds[2].value == 1));
  CHECK((leds[3].control.view() == "l3" && leds[3].value == 0));
  m.on_reconnect(0);  // the box came back: its layer LEDs are set again
  CHECK(leds.size() == 6);

  CHECK_THAT(errors("layers:\n  shift: {hold: box.b4}\nmappings:\n  - control: box.b4\n    press: {toggle: context.scene.x}\n")[0],
             Catch::Contains("t.yaml:7:14: box.b4 switches layer 'shift' (line 5), so it is not mapped otherwise"));
  CHECK_THAT(errors("mappings:\n  - control: box.k1\n    layer: nope\n    set: context.scene.x\n")[0],
             Catch::Contains("t.yaml:6:12: unknown layer 'nope'"));
  CHECK_THAT(errors("layers:\n  a: {hold: box.b1, toggle: box.b2}\n")[0],
             Catch::Contains("t.yaml:5:3: layer 'a' needs exactly one of hold or toggle"));
  CHECK_THAT(errors("layers:\n  a: {hold: box.b1, group: g}\n")[0], Catch::Contains("group goes only with toggle"));
}

TEST_CASE("record: a press flips recording and sends the record op; the LED follows it and the add-on's word") {
  const auto cfg = load(
      "record: {toggle: box.b5, led: box.l1}\n"
      "mappings:\n"
      "  - control: box.k1\n    set: context.scene.a\n    from: [0, 100]\n");
  TargetTable t;
  std::vector<OutputWrite> leds;
  Mapper m(cfg, t, [&](const OutputWrite& w) { leds.push_back(w); });
  Recorder r;
  CHECK(m.on_event(ev("b5", 1), r));
  CHECK(m.on_event(ev("b5", 0), r));  // the release does nothing
  CHECK(m.recording());
  REQUIRE(r.history.size() == 1);
  CHECK(wire(r.history[0], t) == json{{"op", "record"}, {"on", true}});
  CHECK(is_discrete(r.history[0].op));  // never merged or dropped, re-sent until answered
  m.on_event(ev("k1", 50), r);  // knobs map as before
  m.on_event(ev("b5", 1), r);
  REQUIRE(r.history.size() == 3);
  CHECK(wire(r.history[2], t) == json{{"op", "record"}, {"on", false}});
  REQUIRE(leds.size() == 2);
  CHECK((leds[0].control.view() == "l1" && leds[0].value == 1));
  CHECK((leds[1].control.view() == "l1" && leds[1].value == 0));
  m.on_record_state(true);  // turned on from Blender's panel: the LED lights, the next press turns it off
  CHECK((leds.size() == 3 && leds[2].value == 1));
  m.on_event(ev("b5", 1), r);
  CHECK(wire(r.history.back(), t) == json{{"op", "record"}, {"on", false}});
  m.on_reconnect(0);  // the box came back: its record LED is set again
  CHECK((leds.size() == 5 && leds[4].control.view() == "l1" && leds[4].value == 0));

  CHECK_THAT(errors("record: {toggle: box.b5}\nmappings:\n  - control: box.b5\n    press: {toggle: context.scene.x}\n")[0],
             Catch::Contains("t.yaml:6:14: box.b5 switches recording (line 4), so it is not mapped otherwise"));
  CHECK_THAT(errors("layers:\n  shift: {hold: box.b4}\nrecord: {toggle: box.b4}\n")[0],
             Catch::Contains("t.yaml:6:18: box.b4 switches layer 'shift' (line 5), so it cannot switch recording too"));
  CHECK_THAT(errors("record: {led: box.l1}\n")[0], Catch::Contains("t.yaml:4:9: record needs toggle"));
  CHECK_THAT(errors("record: {toggle: box.b5, hold: box.b6}\n")[0],
             Catch::Contains("t.yaml:4:26: unknown key 'hold' in record; allowed keys: toggle, led"));
  CHECK_THAT(errors("record: {toggle: pad.b5}\n")[0], Catch::Contains("t.yaml:4:18: unknown device 'pad' in toggle"));
}

TEST_CASE("takeover: pickup knobs pick up again after a layer change") {
  const auto cfg = load(
      "layers:\n  shift: {hold: box.b4}\n"
      "mappings:\n"
      "  - control: box.k1\n    set: context.scene.a\n    from: [0, 100]\n    takeover: pickup\n"
      "  - control: box.k1\n    layer: shift\n    set: context.scene.b\n    from: [0, 100]\n    takeover: pickup\n");
  TargetTable t;
  Mapper m(cfg, t);
  Recorder r;
  const auto a = static_cast<std::uint32_t>(t.find("context.scene.a"));
  m.on_watched_value(a, 0.5, [](const OutputWrite&) {});
  m.on_event(ev("k1", 50), r);  // at Blender's value: engaged
  REQUIRE(r.history.size() == 1);
  m.on_event(ev("b4", 1), r);
  m.on_event(ev("k1", 90), r);  // shift: the knob moves b (Blender has not said where b is: it drives)
  REQUIRE(r.history.size() == 2);
  CHECK(t.text(r.history[1].target) == "context.scene.b");
  m.on_event(ev("b4", 0), r);
  // Back on a, which Blender still has at 0.5 while the knob is at 0.9: it waits to pass it.
  m.on_event(ev("k1", 91), r);
  m.on_event(ev("k1", 60), r);
  CHECK(r.history.size() == 2);
  m.on_event(ev("k1", 45), r);  // passed 0.5
  REQUIRE(r.history.size() == 3);
  CHECK(t.text(r.history[2].target) == "context.scene.a");
  CHECK(r.history[2].value == Approx(0.45));
}

TEST_CASE("long press: a press held long_ms fires long; a short press fires press on release") {
  const auto cfg = load(
      "mappings:\n  - control: box.b1\n    press: {call: screen.animation_play}\n"
      "    long: {call: screen.animation_cancel}\n    long_ms: 500\n"
      "    release: {toggle: context.scene.use_gravity}\n");
  TargetTable t;
  Mapper m(cfg, t);
  Recorder r;
  CHECK_FALSE(m.next_tick());  // nothing held: no timer
  m.on_event(ev("b1", 1, 1000 * ms), r);
  REQUIRE(m.next_tick() == std::optional<std::int64_t>(1500 * ms));
  m.tick(1400 * ms, r);
  CHECK(r.history.empty());
  m.on_event(ev("b1", 0, 1450 * ms), r);  // short
  REQUIRE(r.history.size() == 2);
  CHECK(t.text(r.history[0].target) == "screen.animation_play");
  CHECK(r.history[1].op == Op::toggle);
  CHECK_FALSE(m.next_tick());

  m.on_event(ev("b1", 1, 2000 * ms), r);
  m.tick(2500 * ms, r);  // held 500 ms
  REQUIRE(r.history.size() == 3);
  CHECK(t.text(r.history[2].target) == "screen.animation_cancel");
  CHECK_FALSE(m.next_tick());
  m.on_event(ev("b1", 0, 2700 * ms), r);  // the release after a long press: only release
  REQUIRE(r.history.size() == 4);
  CHECK(r.history[3].op == Op::toggle);
  CHECK_THAT(errors("mappings:\n  - control: box.b1\n    press: {toggle: context.scene.x}\n    long_ms: 300\n")[0],
             Catch::Contains("long_ms goes only with long"));
}

TEST_CASE("cycle: the next value each press, wrapping; enum names go out as strings") {
  const auto cfg = load(
      "mappings:\n  - control: box.b2\n    press:\n      cycle: context.scene.render.engine\n"
      "      values: [BLENDER_EEVEE, CYCLES, BLENDER_WORKBENCH]\n"
      "  - control: box.b3\n    press: {cycle: context.scene.x, values: [0, 0.5, 1]}\n"
      "  - control: box.b4\n    press: {set: context.scene.render.engine, value: CYCLES}\n"
      "  - control: box.b5\n    press: {call: screen.frame_jump, args: {end: true}}\n");
  TargetTable t;
  Mapper m(cfg, t);
  Recorder r;
  for (int i = 0; i < 4; ++i) {
    m.on_event(ev("b2", 1), r);
    m.on_event(ev("b2", 0), r);
  }
  REQUIRE(r.history.size() == 4);
  std::vector<std::string> got;
  for (const auto& c : r.history) got.push_back(wire(c, t)["value"].get<std::string>());
  CHECK(got == std::vector<std::string>{"BLENDER_EEVEE", "CYCLES", "BLENDER_WORKBENCH", "BLENDER_EEVEE"});
  CHECK(wire(r.history[0], t)["path"] == "context.scene.render.engine");
  r.history.clear();
  for (int i = 0; i < 3; ++i) m.on_event(ev("b3", 1), r);
  REQUIRE(r.history.size() == 3);
  CHECK((r.history[0].value == 0 && r.history[1].value == 0.5 && r.history[2].value == 1));
  m.on_event(ev("b4", 1), r);
  CHECK(wire(r.history.back(), t) == json{{"op", "set"}, {"path", "context.scene.render.engine"}, {"value", "CYCLES"}});
  m.on_event(ev("b5", 1), r);
  CHECK(wire(r.history.back(), t) ==
        json{{"op", "call"}, {"operator", "screen.frame_jump"}, {"args", {{"end", true}}}});
  CHECK_THAT(errors("mappings:\n  - control: box.b1\n    press: {cycle: context.scene.x, values: [1]}\n")[0],
             Catch::Contains("cycle needs values, a list of two or more"));
  CHECK_THAT(errors("mappings:\n  - control: box.b1\n    press: {set: context.scene.x, value: 'a b'}\n")[0],
             Catch::Contains("is neither a number nor an enum name"));
  CHECK_THAT(errors("mappings:\n  - control: box.b1\n    press: {toggle: context.scene.x, args: {a: 1}}\n")[0],
             Catch::Contains("args goes only with call"));
}

TEST_CASE("rate: deflection integrates into adds while deflected, nothing at rest or in the deadzone") {
  const auto cfg = load(
      "mappings:\n  - control: box.lx\n    rate: context.active_object.location[0]\n    speed: 2.0\n"
      "    deadzone: 0.1\n    from: [0, 1000]\n");
  TargetTable t;
  Mapper m(cfg, t);
  Recorder r;
  m.on_event(ev("lx", 520, 0), r);  // 4% off centre: inside the deadzone
  CHECK_FALSE(m.next_tick());
  m.on_event(ev("lx", 1000, 1'000 * ms), r);  // full right
  // Ticks as the bridge's timer delivers them, for 1.5 s.
  std::int64_t now = 1'000 * ms;
  int ticks = 0;
  while (auto next = m.next_tick()) {
    if (*next > 2'500 * ms) break;
    now = *next;
    m.tick(now, r);
    ++ticks;
  }
  m.on_event(ev("lx", 500, 2'500 * ms), r);  // back to the centre
  CHECK_FALSE(m.next_tick());
  double total = 0;
  for (const auto& c : r.history) {
    CHECK(c.op == Op::add);
    total += c.value;
  }
  CHECK(ticks >= 45);                    // >= 30 Hz over 1.5 s
  CHECK(total == Approx(2.0 * 1.5).epsilon(0.1));  // speed x seconds
  const auto before = r.history.size();
  m.tick(3'000 * ms, r);
  CHECK(r.history.size() == before);  // at rest: nothing
  // Full left, half way (outside the deadzone: rescaled), for 1 s.
  m.on_event(ev("lx", 250, 10'000 * ms), r);
  m.on_event(ev("lx", 500, 11'000 * ms), r);
  CHECK(r.history.back().value == Approx(-2.0 * (0.5 - 0.1) / 0.9));
  CHECK_THAT(errors("mappings:\n  - control: box.lx\n    rate: context.scene.x\n    deadzone: 1\n")[0],
             Catch::Contains("deadzone must be from 0 to below 1"));
}
