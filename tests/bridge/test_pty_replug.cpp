// The real firmware in knoblink-sim behind a pty link, the real knoblink binary, a socket
// as Blender: the board is unplugged (its link disappears, the board loses power) and
// plugged back (a new pty behind the same link, the board boots with its LEDs off).
// The bridge reopens it as soon as the link reappears (docs/devices.md, "Hot-plug"), sets
// its LEDs again from the latest watched values, and of the box's snapshot sends only
// what moved while the box was away (docs/devices.md, "Where the controls are").
#include <catch2/catch.hpp>

#include <signal.h>

#include <cstdio>
#include <thread>
#include <nlohmann/json.hpp>

#include "replug_rig.hpp"

using namespace kltest;
using nlohmann::json;

namespace {

/// The next command at the socket, or null when none comes within timeout.
json next_command(Conn& c, Ms timeout) {
  const auto line = c.read_line(timeout);
  return line ? json::parse(*line) : json();
}

}  // namespace

TEST_CASE("replug: reopened when the link reappears, LEDs lit again, only a knob moved while away is sent") {
  ReplugRig rig(100, 200);
  INFO(rig.bridge().log());
  // Boot: the snapshot (k1 100, k2 200) only informs the bridge: no command.
  REQUIRE(rig.described(1, 15s));
  CHECK(next_command(rig.blender(), 700ms).is_null());

  // Feedback lights both LEDs (read on the firmware's LED pins).
  rig.feedback("context.scene.use_gravity", true);
  rig.feedback("context.scene.lamp", true);
  REQUIRE(rig.sim_line("led 1 1", 10s));
  REQUIRE(rig.sim_line("led 2 1", 10s));

  SECTION("a knob moved while away: exactly its new value arrives; the LEDs are lit again") {
    const int opened = rig.count("opened " + rig.link());
    rig.unplug();
    rig.sim().send("knob 1 700");  // while away; knob 2 stays at 200
    std::this_thread::sleep_for(300ms);
    rig.seen().clear();
    const auto appeared = rig.replug();
    const json first = next_command(rig.blender(), 10s);
    const auto resumed = ReplugRig::Clock::now();
    INFO(rig.log_since("lost " + rig.link(), 1));
    REQUIRE(first.is_object());
    CHECK(first["op"] == "set");
    CHECK(first["path"] == "context.scene.k1");
    CHECK(first["value"].get<double>() == Approx(700));
    CHECK(next_command(rig.blender(), 700ms).is_null());  // nothing for knob 2, nor for the second snapshot
    CHECK(rig.sim_line("led 1 1", 5s));
    CHECK(rig.sim_line("led 2 1", 5s));
    CHECK(rig.count("opened " + rig.link()) == opened + 1);
    CHECK(rig.count(rig.link() + " appeared; opening it now") >= 1);  // by the hot-plug watch, not the timer
    std::printf("replug (away 0.3 s): link reappeared -> first command (set k1 700) at the socket: %.1f ms\n"
                "bridge log since the unplug:\n%s",
                ms_between(appeared, resumed), rig.log_since("lost " + rig.link(), 1).c_str());
  }

  SECTION("away for 3 s, the lamp turned off in Blender meanwhile, no knob moved: nothing is sent, LED 1 "
          "comes back, LED 2 stays off") {
    rig.unplug();
    rig.feedback("context.scene.lamp", false);  // written while away: kept
    std::this_thread::sleep_for(3s);  // the retry timer has backed off to 1.6-2 s by now
    rig.seen().clear();
    const auto appeared = rig.replug();
    REQUIRE(rig.sim_line("led 1 1", 5s));
    const auto lit = ReplugRig::Clock::now();
    CHECK(next_command(rig.blender(), 1000ms).is_null());
    for (const auto& l : rig.seen()) CHECK(l != "led 2 1");
    CHECK(rig.sim_line("led 2 1", 500ms) == false);
    CHECK(rig.count(rig.link() + " appeared; opening it now") >= 1);
    // Resumed well within the fallback timer's 1.6-2 s.
    CHECK(ms_between(appeared, lit) < 1500);
    std::printf("replug (away 3 s): link reappeared -> LED 1 lit again on the board: %.1f ms\n"
                "bridge log since the unplug:\n%s",
                ms_between(appeared, lit), rig.log_since("lost " + rig.link(), 1).c_str());
  }

  rig.bridge().signal(SIGTERM);
  REQUIRE(rig.bridge().wait(5s) == std::optional<int>(0));
  CHECK(rig.bridge().log().find("positions=") != std::string::npos);
}
