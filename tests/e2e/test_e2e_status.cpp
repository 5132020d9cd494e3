// The live panel in real Blender: the knob-box firmware in the emulator -> pty ->
// `knoblink run` -> Blender 3.4's GUI under Xvfb with the add-on. What the panel shows
// is read from the add-on's own state (link.running().panel, written to a file by
// tests/e2e/panel_probe.py): devices and their state, mappings with their values, errors
// from the bridge and the add-on, latencies; and reload on save through it all.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "e2e_parts.hpp"
#include "harness.hpp"
#include "sim_harness.hpp"

using namespace kltest;
using knoblink::test::SimProcess;
using nlohmann::json;

namespace {

const std::string kLoc0 = R"(bpy.data.objects["Cube"].location[0])";
const std::string kLoc1 = R"(bpy.data.objects["Cube"].location[1])";
const std::string kNope = R"(bpy.data.objects["Nope"].location[0])";

std::string mapping(const std::string& link, const std::string& k1_path) {
  return "devices:\n  box:\n    serial: {port: " + link + "}\nmappings:\n  - control: box.k1\n    set: '" + k1_path +
         "'\n    to: [0, 4]\n  - control: box.k2\n    set: '" + kNope +
         "'\n  - control: box.b1\n    press: {call: screen.animation_play}\n";
}

/// The add-on's panel state as panel_probe.py last wrote it (null before the first write).
json panel(const std::string& file) {
  std::ifstream f(file);
  if (!f) return nullptr;
  std::stringstream s;
  s << f.rdbuf();
  return json::parse(s.str(), nullptr, false);
}

/// The first bridge the panel shows that has sent a status (null: none yet).
json bridge_of(const json& p) {
  if (!p.is_object()) return nullptr;
  for (const auto& b : p["bridges"])
    if (!b["status"].is_null()) return b;
  return nullptr;
}

bool near(const json& v, double want) { return v.is_number() && std::abs(v.get<double>() - want) < 2e-3; }

}  // namespace

TEST_CASE("the panel in real Blender: devices, mappings with values, errors, latency, reload on save",
          "[status]") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("run"));
  ::setenv("XDG_RUNTIME_DIR", dir.file("run").c_str(), 1);
  const std::string state = dir.file("panel.json");
  ::setenv("KNOBLINK_PANEL_STATE", state.c_str(), 1);  // read by panel_probe.py in Blender
  Blender blender(dir, 0, "blender.log", {}, {"--gui", "--python", kSrc + "/tests/e2e/panel_probe.py"});
  const std::string link = dir.file("knobbox");
  SimProcess sim({"--link", link, KNOBLINK_FIRMWARE_ELF});
  const auto cfg = dir.write("box.yaml", mapping(link, kLoc0));
  Process bridge({KNOBLINK_BINARY_DIR "/bridge/knoblink", "run", "-v", "--config", cfg}, dir.file("bridge.log"));
  json p, b;
  const auto wait_panel = [&](const std::function<bool()>& pred, Ms timeout) {
    return wait_until(
        [&] {
          p = panel(state);
          b = bridge_of(p);
          return !b.is_null() && pred();
        },
        timeout);
  };
  INFO(bridge.log());
  INFO(p.dump());

  // The status arrives: the box is open, the three mappings are listed.
  REQUIRE(wait_panel([&] { return b["status"]["devices"][0]["state"] == "open" && b["mappings"].size() == 3; }, 120s));
  CHECK(b["status"]["devices"][0]["name"] == "box");
  CHECK(b["status"]["devices"][0]["attached"] == link);
  CHECK(b["file"] == cfg);
  CHECK(b["mappings"][0]["control"] == "box.k1");
  CHECK(b["mappings"][0]["target"] == kLoc0);
  CHECK(b["mappings"][2]["does"] == "call");

  // A knob turn: the mapping's value follows.
  sim.send("knob 1 1023");
  sim.sync();
  REQUIRE(wait_panel([&] { return near(b["mappings"][0]["value"], 4.0); }, 30s));

  // A path Blender refuses: the add-on's own error and the bridge's, both in the panel.
  sim.send("knob 2 512");
  sim.sync();
  REQUIRE(wait_panel([&] { return p["errors"].dump().find("not_found") != std::string::npos; }, 30s));
  // (a set carries no id: Blender's answer names the path itself)
  REQUIRE(wait_panel([&] { return b["status"]["errors"].dump().find("Blender refused not_found") != std::string::npos; },
                     30s));
  CHECK_THAT(b["status"]["errors"].dump(), Catch::Contains("Nope"));

  // Saving a changed mapping: it takes effect (the panel shows it, the knob drives the new target).
  auto t0 = std::chrono::steady_clock::now();
  {
    const auto tmp = dir.write("box.yaml.new", mapping(link, kLoc1));
    std::filesystem::rename(tmp, cfg);  // as editors that write a new file and rename it do
  }
  REQUIRE(wait_panel([&] { return b["mappings"][0]["target"] == kLoc1; }, 30s));
  std::printf("e2e: saved -> the new mapping in Blender's panel state: %.0f ms (the probe samples every 100 ms)\n",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  std::fflush(stdout);
  CHECK(b["status"]["reloads"] == 1);
  sim.send("knob 1 512");
  sim.sync();
  REQUIRE(wait_panel([&] { return near(b["mappings"][0]["value"], 512 * 4.0 / 1023); }, 30s));

  // Saving a broken one: its error, file:line:col, in the panel; the running mapping still works.
  dir.write("box.yaml", "devices:\n  box:\n    serial: {port: " + link +
                            "}\nmappings:\n  - control: box.k1\n    set: context.scene.__class__\n");
  REQUIRE(wait_panel([&] { return !b["status"]["config_errors"].empty(); }, 30s));
  CHECK_THAT(b["status"]["config_errors"][0].get<std::string>(), Catch::StartsWith(cfg + ":6:10: "));
  sim.send("knob 1 0");
  sim.sync();
  REQUIRE(wait_panel([&] { return near(b["mappings"][0]["value"], 0.0); }, 30s));
  CHECK(b["mappings"][0]["target"] == kLoc1);

  // Where the time goes: both stages measured, and the bridge prints the add-on's.
  REQUIRE(wait_panel([&] { return p["latency"]["received_to_applied"]["total"]["n"].get<int>() > 0; }, 30s));
  REQUIRE(wait_panel([&] { return b["status"]["latency"]["read_to_sent"]["total"]["n"].get<int>() >= 3; }, 30s));
  REQUIRE(wait_until([&] { return bridge.log().find("Blender received -> applied: last 5 s p50") != std::string::npos; },
                     30s));

  // The box is unplugged: lost.
  sim.send("unplug");
  REQUIRE(wait_panel([&] { return b["status"]["devices"][0]["state"] == "lost"; }, 30s));
  CHECK(b["status"]["devices"][0]["attached"] == "");

  // The panel was redrawn as things changed, never once per message.
  CHECK(p["redraws"].get<int>() > 0);
  bridge.signal(SIGTERM);
  CHECK(bridge.wait(10s) == std::optional<int>(0));
  const auto log = bridge.log();
  const auto at = log.rfind("latency: device read -> sent: ");  // the last -v line
  REQUIRE(at != std::string::npos);
  std::printf("e2e: %s\n", log.substr(at, log.find('\n', at) - at).c_str());
  blender.quit();
}
