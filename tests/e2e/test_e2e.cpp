// The whole chain on real parts: the knob-box firmware in the emulator -> pty ->
// `knoblink run` with examples/knobbox.yaml -> a real Blender (Debian's 3.4,
// headless, the drain pumped) with the add-on -> the scene, read back through a
// second add-on connection that watches the values. The "[selection]" case (ctest
// e2e_selection) drives a pty itself: an encoder and a button on the selected objects;
// the "[osc]" case (ctest e2e_osc) has python-osc as the device.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "e2e_parts.hpp"
#include "harness.hpp"
#include "sim_harness.hpp"

using namespace kltest;
using knoblink::test::SimProcess;
using nlohmann::json;

namespace {

const std::string kRot = R"(bpy.data.objects["Cube"].rotation_euler[2])";
const std::string kFrame = "context.scene.frame_current";
const std::string kHidden = R"(bpy.data.objects["Cube"].hide_render)";
const std::string kLift = R"(bpy.data.objects["Cube"].location[2])";  // knob 3, takeover: pickup

auto near(double want) {
  return [want](const json& v) { return v.is_number() && std::abs(v.get<double>() - want) < 1e-4; };
}
auto equals(const json& want) {
  return [want](const json& v) { return v == want; };
}

/// examples/knobbox.yaml on the emulator's link; it has no blender: section, so the
/// bridge finds Blender through the discovery file.
std::string example_mapping(const std::string& link) {
  std::ifstream f(kSrc + "/examples/knobbox.yaml");
  std::stringstream s;
  s << f.rdbuf();
  std::string text = s.str();
  text = std::regex_replace(text, std::regex("port: auto"), "port: " + link);
  return text;
}

/// A press a person makes: held 100 ms (the firmware debounces 5 ms glitches away).
void click(SimProcess& sim, int button) {
  sim.send("press " + std::to_string(button));
  std::this_thread::sleep_for(100ms);
  sim.send("release " + std::to_string(button));
}

}  // namespace

TEST_CASE("knob box -> knoblink -> Blender, through garbage, a Blender restart and an unplug") {
  TempDir dir;
  // Blender's discovery files go here (scripts/blender-addon passes it on), and only here:
  // the bridge must find this test's Blender, no other.
  std::filesystem::create_directories(dir.file("run"));
  ::setenv("XDG_RUNTIME_DIR", dir.file("run").c_str(), 1);
  Blender blender(dir, 0, "blender1.log");
  const std::string link = dir.file("knobbox");
  SimProcess sim({"--link", link, KNOBLINK_FIRMWARE_ELF});
  const auto cfg = dir.write("knobbox.yaml", example_mapping(link));
  Process bridge({KNOBLINK_BINARY_DIR "/bridge/knoblink", "run", "-v", "--config", cfg}, dir.file("bridge.log"));
  Observer scene;
  scene.connect(blender.port, {kRot, kFrame, kHidden, kLift});
  REQUIRE(scene.wait_for(kFrame, equals(1), 10s));
  INFO(bridge.log());

  // A knob sweep: rising values, the last one exact (to: [0, 6.2832] over 0..1023).
  for (int v = 0; v <= 1023; v += 31) {
    sim.send("knob 1 " + std::to_string(v));
    std::this_thread::sleep_for(30ms);  // a hand turns; the firmware samples every few ms
  }
  sim.send("knob 1 1023");
  sim.sync();
  REQUIRE(scene.wait_for(kRot, near(6.2832), 20s));
  const auto& seen = scene.history(kRot);
  CHECK(seen.size() >= 3);
  for (std::size_t i = 1; i < seen.size(); ++i) CHECK(seen[i].get<double>() >= seen[i - 1].get<double>());

  // Soft takeover (knob 3, to: [0, 2]): the box's snapshot told the bridge the knob is at
  // 0; Blender's lift is made 1.5, so the knob must pass 1.5 before it drives (no jump to
  // 1.0); after a change made in Blender it must pass the new value again.
  auto settle = [&] {
    sim.sync();
    std::this_thread::sleep_for(400ms);  // time for a (wrong) value to arrive
  };
  REQUIRE(scene.call({{"op", "set"}, {"path", kLift}, {"value", 1.5}}).value("ok", false));
  REQUIRE(scene.wait_for(kLift, near(1.5), 10s));
  std::this_thread::sleep_for(200ms);  // the bridge hears of it through its own watch
  sim.send("knob 3 512");
  settle();
  CHECK(scene.value(kLift).get<double>() == Approx(1.5));
  sim.send("knob 3 1023");  // passes 1.5: engaged
  REQUIRE(scene.wait_for(kLift, near(2.0), 20s));
  REQUIRE(scene.call({{"op", "set"}, {"path", kLift}, {"value", 0.5}}).value("ok", false));  // a drag in Blender
  REQUIRE(scene.wait_for(kLift, near(0.5), 10s));
  std::this_thread::sleep_for(200ms);  // the bridge hears of it through its own watch
  sim.send("knob 3 900");
  settle();
  CHECK(scene.value(kLift).get<double>() == Approx(0.5));
  sim.send("knob 3 200");  // passes 0.5: the knob drives again
  REQUIRE(scene.wait_for(kLift, near(200 * 2.0 / 1023), 20s));

  // Encoder steps move the frame by the right count.
  sim.send("enc 1 5");
  sim.send("enc 1 -2");
  sim.sync();
  REQUIRE(scene.wait_for(kFrame, equals(4), 20s));

  // A button inserts a keyframe: the cube gets an F-curve.
  click(sim, 2);
  sim.sync();
  const std::string fcurve = R"(bpy.data.objects["Cube"].animation_data.action.fcurves[0].array_index)";
  json answer;
  const bool keyed = wait_until(
      [&] {
        answer = scene.call({{"op", "watch"}, {"path", fcurve}});
        return answer.value("ok", false);
      },
      20s);
  INFO(answer.dump());
  INFO(bridge.log());
  REQUIRE(keyed);

  // A toggle, and the LED that follows it.
  click(sim, 3);
  REQUIRE(scene.wait_for(kHidden, equals(true), 20s));
  CHECK(sim.expect_prefix("led 1 ", 20s) == "1");

  // Garbage on the serial line is reported and skipped; the next knob turn still lands.
  sim.send("noise \\xff\\xfe\\x00garbage k1 zz");
  sim.send("knob 1 512");
  sim.sync();
  REQUIRE(scene.wait_for(kRot, near(512 * 6.2832 / 1023), 20s));
  CHECK(wait_until([&] { return bridge.log().find("skipped a line") != std::string::npos; }, 10s));

  // Blender goes away mid-stream; the knob turns, a button is pressed, the encoder steps.
  const auto port = blender.port;
  blender.quit();
  sim.send("knob 1 768");
  click(sim, 3);
  sim.send("enc 1 3");
  sim.sync();
  REQUIRE(wait_until([&] { return bridge.log().find("connection lost") != std::string::npos; }, 20s));
  Blender again(dir, port, "blender2.log");
  REQUIRE(again.port == port);
  scene.connect(port, {kRot, kFrame, kHidden, kLift});
  // The latest absolute value is resent, the press and the steps are not lost (fresh scene: frame 1).
  CHECK(scene.wait_for(kRot, near(768 * 6.2832 / 1023), 30s));
  CHECK(scene.wait_for(kHidden, equals(true), 30s));
  CHECK(scene.wait_for(kFrame, equals(4), 30s));

  // The board is unplugged and plugged back: the bridge resumes without a restart.
  sim.send("unplug");
  REQUIRE(wait_until([&] { return bridge.log().find("lost " + link) != std::string::npos; }, 20s));
  sim.send("replug");
  sim.expect_prefix("pty ", 10s);
  // The box's snapshot after the replug equals what the bridge knew: nothing is sent for
  // it; turn the knob once the bridge has the port again.
  auto opens = [&] {
    const auto log = bridge.log();
    int n = 0;
    for (auto at = log.find("opened " + link); at != std::string::npos; at = log.find("opened " + link, at + 1)) ++n;
    return n;
  };
  REQUIRE(wait_until([&] { return opens() >= 2; }, 20s));
  std::this_thread::sleep_for(500ms);
  sim.send("knob 1 256");
  sim.sync();
  CHECK(scene.wait_for(kRot, near(256 * 6.2832 / 1023), 30s));

  REQUIRE(bridge.running());
  bridge.signal(SIGTERM);
  REQUIRE(bridge.wait(10s) == std::optional<int>(0));
  CHECK(bridge.log().find("counters: events=") != std::string::npos);  // printed on exit
  again.quit();
}

TEST_CASE("two Blenders running: blender: {file:} picks the one with that file open, by its discovery file") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("run"));
  ::setenv("XDG_RUNTIME_DIR", dir.file("run").c_str(), 1);
  // Two saved files, made by Blender itself.
  for (const char* name : {"shot_a.blend", "shot_b.blend"}) {
    Process save({KNOBLINK_BLENDER_EXE, "-b", "--factory-startup", "--python-exit-code", "1", "--python-expr",
                  "import bpy; bpy.ops.wm.save_as_mainfile(filepath=r'" + dir.file(name) + "')"},
                 dir.file(std::string(name) + ".log"));
    REQUIRE(save.wait(60s) == std::optional<int>(0));
  }
  Blender a(dir, 0, "blender_a.log", dir.file("shot_a.blend"));
  Blender b(dir, 0, "blender_b.log", dir.file("shot_b.blend"));
  Pty pty;
  const std::string path = R"(bpy.data.objects["Cube"].location[0])";
  const auto cfg = dir.write("map.yaml", "blender: {file: shot_a.blend}\ndevices:\n  box:\n    serial: {port: " +
                                             pty.slave() + "}\nmappings:\n  - control: box.k1\n    set: '" + path +
                                             "'\n    from: [0, 100]\n    to: [0, 10]\n");
  Process bridge({KNOBLINK_BINARY_DIR "/bridge/knoblink", "run", "--config", cfg}, dir.file("bridge.log"));
  Observer in_a, in_b;
  in_a.connect(a.port, {path});
  in_b.connect(b.port, {path});
  REQUIRE(pty.read_line(20s) == std::optional<std::string>("?"));
  pty.write("k1 40\n");
  INFO(bridge.log());
  CHECK(in_a.wait_for(path, near(4), 30s));
  CHECK(bridge.log().find("shot_a.blend), the one whose file matches 'shot_a.blend' of 2 running") != std::string::npos);
  in_b.call({{"op", "ping"}});  // every value b sent so far has been read
  for (const auto& v : in_b.history(path)) CHECK(near(0)(v));  // the other Blender's cube did not move
  CHECK_FALSE(in_b.history(path).empty());
  bridge.signal(SIGTERM);
  CHECK(bridge.wait(10s) == std::optional<int>(0));
  a.quit();
  b.quit();
}

TEST_CASE("OSC app -> knoblink -> Blender, and a value changed in Blender back to the app", "[.osc]") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("run"));
  ::setenv("XDG_RUNTIME_DIR", dir.file("run").c_str(), 1);
  Blender blender(dir, 0, "blender.log");
  Observer scene;
  const std::string x = R"(bpy.data.objects["Cube"].location[0])";
  scene.connect(blender.port, {x, kHidden});
  // A free UDP port: bind one, let it go.
  const int probe = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(probe);
  const auto port = std::to_string(ntohs(a.sin_port));
  // docs/osc.md's TouchOSC mapping, cut down: a fader drives the cube, a toggle's LED follows hide_render.
  const auto cfg = dir.write("touch.yaml", "devices:\n  touch:\n    osc:\n      port: " + port +
                                               "\n      controls:\n        fader1: \"/1/fader1\"\n"
                                               "        toggle1: {address: \"/1/toggle1\", kind: btn}\n"
                                               "mappings:\n  - control: touch.fader1\n    set: '" + x +
                                               "'\n    to: [-2, 2]\n  - control: touch.toggle1\n    press: {toggle: '" +
                                               kHidden + "'}\n    led: touch.toggle1\n");
  Process bridge({KNOBLINK_BINARY_DIR "/bridge/knoblink", "run", "--config", cfg}, dir.file("bridge.log"));
  INFO(bridge.log());
  REQUIRE(wait_until([&] { return bridge.log().find("blender: connected") != std::string::npos; }, 30s));
  REQUIRE(wait_until([&] { return bridge.log().find("listening for OSC on UDP 127.0.0.1:" + port) != std::string::npos; }, 10s));

  // A real OSC sender (python-osc) sends /1/fader1 0.75: 12287 of 16383 steps over [-2, 2].
  Process app({"/usr/bin/env", "python3", kSrc + "/tests/osc/osc_peer.py", "echo", port, "0.75", "30"},
              dir.file("app.log"));
  INFO(app.log());
  CHECK(scene.wait_for(x, near(-2 + 4 * std::lround(0.75 * 16383) / 16383.0), 30s));

  // hide_render changed in Blender (another client, as a click in the UI would): the add-on
  // tells the bridge, which sends the LED's address to the app that last sent.
  REQUIRE(scene.call({{"op", "set"}, {"path", kHidden}, {"value", true}}).value("ok", false));
  CHECK(wait_until([&] { return app.log().find("recv /1/toggle1 1\n") != std::string::npos; }, 30s));
  REQUIRE(scene.call({{"op", "set"}, {"path", kHidden}, {"value", false}}).value("ok", false));
  CHECK(wait_until([&] { return app.log().find("recv /1/toggle1 1\nrecv /1/toggle1 0\n") != std::string::npos; }, 30s));
  app.signal(SIGTERM);
  bridge.signal(SIGTERM);
  CHECK(bridge.wait(10s) == std::optional<int>(0));
  blender.quit();
}

namespace {
/// The learn driver's lines in Blender's log (tests/e2e/learn_driver.py), parsed.
std::vector<json> driver_lines(const std::string& log) {
  std::vector<json> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (const auto at = line.find("learn-driver "); at != std::string::npos) out.push_back(json::parse(line.substr(at + 13)));
  return out;
}
/// The add-on's last learn result once it has this op (null after timeout).
json last_result(const Blender& b, const std::string& op, Ms timeout) {
  json found;
  wait_until(
      [&] {
        for (const auto& j : driver_lines(b.proc->log()))
          if (j.contains("last") && j["last"].is_object() && j["last"].value("op", "") == op) found = j["last"];
        return !found.is_null();
      },
      timeout);
  return found;
}
}  // namespace

TEST_CASE("learn in the real Blender GUI: Map to Controller, a knob turned, the file gains exactly it, no reopen",
          "[.learn]") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("run"));
  std::filesystem::create_directories(dir.file("commands"));
  ::setenv("XDG_RUNTIME_DIR", dir.file("run").c_str(), 1);
  ::setenv("KNOBLINK_TEST_COMMANDS", dir.file("commands").c_str(), 1);
  Blender blender(dir, 0, "blender.log", {}, {"--gui", "--python", kSrc + "/tests/e2e/learn_driver.py"});
  const std::string link = dir.file("knobbox");
  SimProcess sim({"--link", link, KNOBLINK_FIRMWARE_ELF});
  const std::string original = "# learn e2e: one knob mapped by hand\ndevices:\n  box:\n    serial: {port: " + link +
                               "}\nmappings:\n  - control: box.k1\n    set: '" + kRot + "'\n    to: [0, 6.2832]\n";
  const auto cfg = dir.write("learn.yaml", original);
  Process bridge({KNOBLINK_BINARY_DIR "/bridge/knoblink", "run", "-v", "--config", cfg}, dir.file("bridge.log"));
  const std::string locy = R"(bpy.data.objects["Cube"].location[1])";
  REQUIRE(wait_until([&] { return blender.proc->log().find("learn-driver {\"ready\": true}") != std::string::npos; }, 120s));
  struct Dump {
    const Blender& b;
    const Process& p;
    ~Dump() {
      if (std::uncaught_exceptions()) std::fprintf(stderr, "BLENDER LOG\n%s\nBRIDGE LOG\n%s\n", b.proc->log().c_str(), p.log().c_str());
    }
  } dump{blender, bridge};
  Observer scene;
  scene.connect(blender.port, {locy, kRot});
  REQUIRE(scene.wait_for(locy, near(0), 20s));
  INFO(bridge.log());
  INFO(blender.proc->log());
  REQUIRE(wait_until([&] { return bridge.log().find("blender: connected") != std::string::npos; }, 30s));
  REQUIRE(wait_until([&] { return bridge.log().find("opened " + link) != std::string::npos; }, 30s));
  int command = 0;
  auto run = [&](const std::string& what, const std::string& path) {
    const auto name = dir.file("commands/" + std::to_string(++command));
    std::ofstream(name + ".tmp") << json{{"do", what}, {"path", path}}.dump();
    std::filesystem::rename(name + ".tmp", name + ".json");
  };

  // knoblink.learn on location Y, then knob 2 turned in the emulator.
  run("learn", locy);
  REQUIRE(wait_until([&] { return bridge.log().find("learn: touch a control") != std::string::npos; }, 20s));
  for (int v : {200, 400, 600}) {
    sim.send("knob 2 " + std::to_string(v));
    std::this_thread::sleep_for(60ms);
  }
  sim.sync();
  const auto learned = last_result(blender, "learned", 20s);
  REQUIRE(learned.is_object());
  CHECK(learned["message"] == "k2 on box -> Cube location Y (learn.yaml line 9)");
  CHECK(learned["ok"] == true);
  // The file gained exactly the new mapping; every other byte is as it was.
  CHECK(read_file(cfg) == original + "  - control: box.k2\n    set: '" + locy + "'\n    to: [-10, 10]\n");
  // The knob now moves location Y, and the port was opened once.
  sim.send("knob 2 1023");
  sim.sync();
  CHECK(scene.wait_for(locy, near(10), 20s));
  CHECK(bridge.log().find("learned into " + cfg + ": 1 devices (kept open), 2 mappings") != std::string::npos);

  // Forget Mapping: the file is the original again, and the knob no longer moves Y.
  run("forget", locy);
  const auto forgot = last_result(blender, "forgot", 20s);
  REQUIRE(forgot.is_object());
  CHECK(forgot["message"] == "forgot 1 mapping of Cube location Y (learn.yaml line 9)");
  CHECK(read_file(cfg) == original);
  sim.send("knob 2 0");
  sim.send("knob 1 1023");  // k1 still maps: once its rotation lands, k2's turn would have too
  sim.sync();
  CHECK(scene.wait_for(kRot, near(6.2832), 20s));
  CHECK(scene.value(locy).get<double>() == Approx(10));
  int opens = 0;
  const auto log = bridge.log();
  for (auto at = log.find("opened " + link); at != std::string::npos; at = log.find("opened " + link, at + 1)) ++opens;
  CHECK(opens == 1);
  bridge.signal(SIGTERM);
  CHECK(bridge.wait(10s) == std::optional<int>(0));
  blender.quit();
}

TEST_CASE("selection: an encoder and a button through the bridge move and toggle each selected object only",
          "[.selection]") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("run"));
  ::setenv("XDG_RUNTIME_DIR", dir.file("run").c_str(), 1);
  // A and B selected, C not (tests/addon/selection_blender.py builds the scene).
  Blender blender(dir, 0, "blender.log", {}, {"--python", kSrc + "/tests/addon/selection_blender.py"});
  Pty pty;
  const auto cfg = dir.write("sel.yaml", "devices:\n  box:\n    serial: {port: " + pty.slave() +
                                             "}\nmappings:\n"
                                             "  - control: box.e1\n    add: 'context.selected_objects[*].location[0]'\n"
                                             "    step: 0.5\n"
                                             "  - control: box.b1\n"
                                             "    press: {toggle: 'context.selected_objects[*].hide_render'}\n");
  Process bridge({KNOBLINK_BINARY_DIR "/bridge/knoblink", "run", "--config", cfg}, dir.file("bridge.log"));
  const auto x = [](const char* name) { return std::string("bpy.data.objects[\"") + name + "\"].location[0]"; };
  const auto hidden = [](const char* name) { return std::string("bpy.data.objects[\"") + name + "\"].hide_render"; };
  Observer scene;
  scene.connect(blender.port, {x("A"), x("B"), x("C"), hidden("A"), hidden("B"), hidden("C")});
  REQUIRE(pty.read_line(20s) == std::optional<std::string>("?"));
  pty.write("@knoblink 1 box\n@ctl e1 rel\n@ctl b1 btn\n@end\n");
  pty.write("e1 2\ne1 1\n");  // three detents: 1.5 each
  INFO(bridge.log());
  CHECK(scene.wait_for(x("A"), near(2.5), 30s));
  CHECK(scene.wait_for(x("B"), near(3.5), 10s));
  pty.write("b1 1\nb1 0\n");
  CHECK(scene.wait_for(hidden("A"), equals(true), 10s));
  CHECK(scene.wait_for(hidden("B"), equals(true), 10s));
  scene.call({{"op", "ping"}});  // every value Blender sent so far has been read
  for (const auto& v : scene.history(x("C"))) CHECK(near(3)(v));  // the unselected one never moved
  for (const auto& v : scene.history(hidden("C"))) CHECK(v == json(false));
  CHECK_FALSE(scene.history(x("C")).empty());
  bridge.signal(SIGTERM);
  CHECK(bridge.wait(10s) == std::optional<int>(0));
  blender.quit();
}
