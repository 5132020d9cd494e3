// The knoblink command line on real ptys and sockets: check, monitor, SIGHUP reload, SIGUSR1.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>

#include <nlohmann/json.hpp>

#include "harness.hpp"

using namespace kltest;
using nlohmann::json;

namespace {
const std::string kBin = KNOBLINK_BINARY_DIR "/bridge/knoblink";

std::string mapping(std::uint16_t port, const std::string& dev, const std::string& path) {
  return "blender: {port: " + std::to_string(port) + "}\ndevices:\n  box:\n    serial: {port: " + dev +
         "}\nmappings:\n  - control: box.k1\n    set: " + path + "\n    to: [0, 1]\n    from: [0, 100]\n";
}
/// The bridge's connection to a fake Blender, after answering its hello.
std::unique_ptr<Conn> accept_hello(Listener& blender) {
  auto conn = blender.accept(15s);
  REQUIRE(conn);
  REQUIRE(conn->read_line(10s));
  conn->send(R"({"hello":1,"server":"t","blender":"3.4.1"})" "\n");
  return conn;
}
}  // namespace

TEST_CASE("knoblink check names file, line and column and exits non-zero") {
  TempDir dir;
  const auto bad = dir.write("bad.yaml", "devices:\n  box:\n    serial: {port: auto}\nmappings:\n  - control: box.k1\n    set: context.scene.__class__\n");
  Process p({kBin, "check", bad}, dir.file("out.log"));
  REQUIRE(p.wait(10s) == std::optional<int>(1));
  CHECK_THAT(p.log(), Catch::Contains(bad + ":6:10: set 'context.scene.__class__' is not a data path"));
  const auto good = dir.write("good.yaml", mapping(9876, "/dev/ttyACM0", "context.scene.frame_current"));
  Process q({kBin, "check", good}, dir.file("out2.log"));
  REQUIRE(q.wait(10s) == std::optional<int>(0));
  CHECK_THAT(q.log(), Catch::Contains("ok (1 devices, 1 mappings)"));
}

TEST_CASE("knoblink monitor shows live values without Blender") {
  TempDir dir;
  Pty pty;
  Process p({kBin, "monitor", "--port", pty.slave()}, dir.file("mon.log"));
  REQUIRE(pty.read_line(10s) == std::optional<std::string>("?"));
  pty.write("@knoblink 1 knobbox\n@ctl k1 abs 0 1023\n@end\nk1 42\nzz\n");
  REQUIRE(wait_until([&] { return p.log().find("dev.k1 abs 42") != std::string::npos; }, 10s));
  CHECK_THAT(p.log(), Catch::Contains("# dev.k1 is abs 0..1023") && Catch::Contains("skipped a line"));
  p.signal(SIGINT);
  CHECK(p.wait(5s) == std::optional<int>(0));
}

TEST_CASE("SIGHUP reloads the mapping; a broken file keeps the running one") {
  TempDir dir;
  Listener blender;
  Pty pty;
  const auto cfg = dir.write("map.yaml", mapping(blender.port(), pty.slave(), "context.scene.a"));
  Process p({kBin, "run", "--config", cfg}, dir.file("run.log"));
  auto conn = accept_hello(blender);
  REQUIRE(pty.read_line(10s) == std::optional<std::string>("?"));
  pty.write("k1 50\n");
  auto line = conn->read_line(10s);
  REQUIRE(line);
  CHECK(json::parse(*line)["path"] == "context.scene.a");

  dir.write("map.yaml", "devices: [oops\n");
  p.signal(SIGHUP);
  REQUIRE(wait_until([&] { return p.log().find("keeping the running config") != std::string::npos; }, 10s));
  CHECK_THAT(p.log(), Catch::Contains(cfg + ":"));
  pty.write("k1 60\n");
  line = conn->read_line(10s);
  REQUIRE(line);
  CHECK(json::parse(*line)["path"] == "context.scene.a");

  dir.write("map.yaml", mapping(blender.port(), pty.slave(), "context.scene.b") +
                            "  - control: box.l1\n    watch: context.scene.c\n");
  p.signal(SIGHUP);
  REQUIRE(wait_until([&] { return p.log().find("reloaded") != std::string::npos; }, 10s));
  // A new LED mapping is watched at once, without waiting for a reconnect.
  line = conn->read_line(10s);
  REQUIRE(line);
  CHECK(json::parse(*line)["op"] == "watch");
  CHECK(json::parse(*line)["path"] == "context.scene.c");
  CHECK_THAT(p.log(), Catch::Contains("1 devices (kept open), 2 mappings"));  // the box was not asked again
  pty.write("k1 70\n");
  line = conn->read_line(10s);
  REQUIRE(line);
  CHECK(json::parse(*line) == json::parse(R"({"op":"set","path":"context.scene.b","value":0.7})"));

  p.signal(SIGUSR1);
  REQUIRE(wait_until([&] { return p.log().find("counters: events=3") != std::string::npos; }, 10s));
  const std::string device_line = "device box: serial " + pty.slave() + ", connected";  // DeviceSource::describe
  REQUIRE(wait_until([&] { return p.log().find(device_line) != std::string::npos; }, 10s));

  // A reload that moves Blender: the bridge connects there, the device keeps mapping.
  Listener moved;
  dir.write("map.yaml", mapping(moved.port(), pty.slave(), "context.scene.b"));
  p.signal(SIGHUP);
  auto conn2 = moved.accept(15s);
  REQUIRE(conn2);
  REQUIRE(conn2->read_line(10s));  // hello
  conn2->send(R"({"hello":1,"server":"t","blender":"3.4.1"})" "\n");
  auto resent = conn2->read_line(10s);  // the latest value, resent to the new Blender
  REQUIRE(resent);
  CHECK(json::parse(*resent) == json::parse(R"({"op":"set","path":"context.scene.b","value":0.7})"));
  pty.write("k1 80\n");
  auto l2 = conn2->read_line(10s);
  REQUIRE(l2);
  CHECK(json::parse(*l2)["value"] == 0.8);
  p.signal(SIGTERM);
  CHECK(p.wait(5s) == std::optional<int>(0));
}

TEST_CASE("no blender: in the mapping: the bridge finds Blender by its discovery file and sends its token") {
  TempDir dir;
  Listener a, b;
  Pty pty;
  const std::string run = dir.file("run");
  std::filesystem::create_directories(run + "/knoblink");
  const auto discovery = [&](const Listener& l, const std::string& token, const std::string& blend, int started) {
    dir.write("run/knoblink/blender-" + std::to_string(l.port()) + ".json",
              json{{"port", l.port()}, {"token", token}, {"pid", ::getpid()}, {"blender", "3.4.1"},
                   {"file", blend}, {"started", started}}.dump());
  };
  discovery(a, "token-a", "/home/u/shots/a.blend", 100);
  discovery(b, "token-b", "/home/u/shots/b.blend", 200);
  const std::string devices = "devices:\n  box:\n    serial: {port: " + pty.slave() +
                              "}\nmappings:\n  - control: box.k1\n    set: context.scene.a\n";
  const auto expect_hello = [](Listener& l, const std::string& token) {
    auto conn = l.accept(15s);
    REQUIRE(conn);
    const auto hello = conn->read_line(10s);
    REQUIRE(hello);
    const auto h = json::parse(*hello);
    CHECK(h["token"] == token);
    CHECK(h["session"].get<std::string>().size() == 32);
    return h["session"].get<std::string>();
  };

  SECTION("two running: blender: {file:} picks one") {
    const auto cfg = dir.write("map.yaml", "blender: {file: a.blend}\n" + devices);
    Process p({"/usr/bin/env", "XDG_RUNTIME_DIR=" + run, kBin, "run", "--config", cfg}, dir.file("run.log"));
    expect_hello(a, "token-a");
    REQUIRE(wait_until([&] { return p.log().find("matches 'a.blend' of 2 running") != std::string::npos; }, 10s));
    p.signal(SIGTERM);
    CHECK(p.wait(5s) == std::optional<int>(0));
  }
  SECTION("two running, no file: the newest, and the log says how to pick another") {
    const auto cfg = dir.write("map.yaml", devices);
    Process p({"/usr/bin/env", "XDG_RUNTIME_DIR=" + run, kBin, "run", "--config", cfg}, dir.file("run.log"));
    expect_hello(b, "token-b");
    REQUIRE(wait_until([&] { return p.log().find("most recently started of 2 running") != std::string::npos; }, 10s));
    p.signal(SIGTERM);
    CHECK(p.wait(5s) == std::optional<int>(0));
  }
  SECTION("--blender-port (the add-on's bundled bridge): that add-on, whatever blender: says") {
    const auto cfg = dir.write("map.yaml", "blender: {file: b.blend}\n" + devices);
    Process p({"/usr/bin/env", "XDG_RUNTIME_DIR=" + run, kBin, "run", "--config", cfg, "--blender-port",
               std::to_string(a.port())},
              dir.file("run.log"));
    expect_hello(a, "token-a");
    // A save reloads the file: still that add-on (the override holds for reloads too), not b.
    dir.write("map.yaml", "blender: {file: b.blend}\n" + devices + "# saved again\n");
    REQUIRE(wait_until([&] { return p.log().find("reloaded " + cfg) != std::string::npos; }, 10s));
    expect_hello(a, "token-a");  // the first connection was closed: it connects again, to a
    CHECK_FALSE(b.accept(1s));
    p.signal(SIGTERM);
    CHECK(p.wait(5s) == std::optional<int>(0));
  }
  SECTION("none running yet: it says so and connects once one appears") {
    std::filesystem::remove_all(run + "/knoblink");
    const auto cfg = dir.write("map.yaml", devices);
    Process p({"/usr/bin/env", "XDG_RUNTIME_DIR=" + run, kBin, "run", "--config", cfg}, dir.file("run.log"));
    REQUIRE(wait_until([&] { return p.log().find("no running Blender with the KnobLink add-on") != std::string::npos; }, 10s));
    std::filesystem::create_directories(run + "/knoblink");
    discovery(a, "token-a", "", 300);
    expect_hello(a, "token-a");
    p.signal(SIGTERM);
    CHECK(p.wait(5s) == std::optional<int>(0));
  }
}

TEST_CASE("knoblink run without --config: $XDG_CONFIG_HOME/knoblink/knoblink.yaml, else ~/.config/...") {
  TempDir dir;
  Listener blender;
  Pty pty;
  const std::string xdg = dir.file("xdg"), home = dir.file("home");
  SECTION("missing: a clear error naming the path, exit 1") {
    Process p({"/usr/bin/env", "XDG_CONFIG_HOME=" + xdg, "HOME=" + home, kBin, "run"}, dir.file("run.log"));
    REQUIRE(p.wait(10s) == std::optional<int>(1));
    CHECK_THAT(p.log(), Catch::Contains("the default mapping file " + xdg + "/knoblink/knoblink.yaml does not exist"));
    Process q({"/usr/bin/env", "-u", "XDG_CONFIG_HOME", "HOME=" + home, kBin, "run"}, dir.file("run2.log"));
    REQUIRE(q.wait(10s) == std::optional<int>(1));
    CHECK_THAT(q.log(), Catch::Contains(home + "/.config/knoblink/knoblink.yaml does not exist"));
  }
  SECTION("present: it runs with it") {
    std::filesystem::create_directories(xdg + "/knoblink");
    const auto cfg = dir.write("xdg/knoblink/knoblink.yaml", mapping(blender.port(), pty.slave(), "context.scene.a"));
    Process p({"/usr/bin/env", "XDG_CONFIG_HOME=" + xdg, "HOME=" + home, kBin, "run"}, dir.file("run.log"));
    auto conn = accept_hello(blender);
    REQUIRE(wait_until([&] { return p.log().find("knoblink running with " + cfg) != std::string::npos; }, 10s));
    p.signal(SIGTERM);
    CHECK(p.wait(5s) == std::optional<int>(0));
  }
}

TEST_CASE("a reload with the same devices keeps them open and keeps what they described") {
  TempDir dir;
  Listener blender;
  Pty pty;
  const auto yaml = [&](const std::string& device, const std::string& path) {
    return "blender: {port: " + std::to_string(blender.port()) + "}\ndevices:\n  " + device + ":\n    serial: {port: " +
           pty.slave() + "}\nmappings:\n  - control: " + device + ".k1\n    set: " + path + "\n";
  };
  const auto cfg = dir.write("map.yaml", yaml("box", "context.scene.a"));
  Process p({kBin, "run", "--config", cfg}, dir.file("run.log"));
  auto conn = accept_hello(blender);
  REQUIRE(pty.read_line(10s) == std::optional<std::string>("?"));
  pty.write("@knoblink 1 knobbox\n@ctl k1 abs 0 200\n@end\nk1 0\nk1 100\n");  // the snapshot (k1 0), a turn
  auto line = conn->read_line(10s);
  REQUIRE(line);
  CHECK(json::parse(*line)["value"] == 0.5);  // over the described 0..200

  dir.write("map.yaml", yaml("box", "context.scene.b"));
  p.signal(SIGHUP);
  REQUIRE(wait_until([&] { return p.log().find("(kept open)") != std::string::npos; }, 10s));
  pty.write("k1 50\n");
  line = conn->read_line(10s);
  REQUIRE(line);
  CHECK(json::parse(*line) == json::parse(R"({"op":"set","path":"context.scene.b","value":0.25})"));  // still 0..200

  dir.write("map.yaml", yaml("knobs", "context.scene.b"));  // another device: opened afresh
  p.signal(SIGHUP);
  REQUIRE(wait_until([&] { return p.log().find("(reopened)") != std::string::npos; }, 10s));
  REQUIRE(pty.read_line(10s) == std::optional<std::string>("?"));
  p.signal(SIGTERM);
  CHECK(p.wait(5s) == std::optional<int>(0));
}

TEST_CASE("knoblink list shows the running Blenders with a ready-to-paste file: line") {
  TempDir dir;
  const std::string run = dir.file("run");
  std::filesystem::create_directories(run + "/knoblink");
  dir.write("run/knoblink/blender-9911.json",
            json{{"port", 9911}, {"token", "t"}, {"pid", ::getpid()}, {"blender", "3.4.1"},
                 {"file", "/home/u/shots/rig.blend"}, {"started", 1}}.dump());
  Process p({"/usr/bin/env", "XDG_RUNTIME_DIR=" + run, kBin, "list"}, dir.file("list.log"));
  REQUIRE(p.wait(20s).has_value());
  CHECK_THAT(p.log(), Catch::Contains("port 9911  Blender 3.4.1") && Catch::Contains("/home/u/shots/rig.blend") &&
                          Catch::Contains("blender: {file: \"rig.blend\"}"));
}

TEST_CASE("the glue through the real binary: a layer, a long press, a stick held deflected") {
  TempDir dir;
  Listener blender;
  Pty pty;
  const auto cfg = dir.write(
      "map.yaml", "blender: {port: " + std::to_string(blender.port()) + "}\ndevices:\n  box:\n    serial: {port: " +
                      pty.slave() +
                      "}\nlayers:\n  shift: {toggle: box.b4, led: box.l1}\nmappings:\n"
                      "  - control: box.k1\n    set: context.scene.a\n    from: [0, 100]\n"
                      "  - control: box.k1\n    layer: shift\n    set: context.scene.b\n    from: [0, 100]\n"
                      "  - control: box.b1\n    press: {call: screen.animation_play}\n"
                      "    long: {call: screen.frame_jump, args: {end: true}}\n    long_ms: 300\n"
                      "  - control: box.k2\n    rate: context.scene.c\n    speed: 10\n    from: [0, 100]\n");
  Process p({kBin, "run", "--config", cfg}, dir.file("run.log"));
  auto conn = accept_hello(blender);
  // The box is asked to describe itself and its layer LED is set (off) when it opens.
  std::vector<std::string> first{*pty.read_line(10s), *pty.read_line(10s)};
  std::sort(first.begin(), first.end());
  CHECK(first == std::vector<std::string>{"?", "l1 0"});
  const auto next = [&] {
    auto line = conn->read_line(10s);
    INFO(p.log());
    REQUIRE(line);
    return json::parse(*line);
  };
  pty.write("b4 1\nb4 0\n");  // shift on: its LED lights on the box
  REQUIRE(pty.read_line(10s) == std::optional<std::string>("l1 1"));
  pty.write("k1 50\n");
  CHECK(next()["path"] == "context.scene.b");
  pty.write("b1 1\n");  // held past long_ms: the long action, from the bridge's timer
  auto j = next();
  CHECK(j["operator"] == "screen.frame_jump");
  CHECK(j["args"] == json{{"end", true}});
  pty.write("b1 0\nb1 1\nb1 0\n");  // then a short press: the press action on release
  CHECK(next()["operator"] == "screen.animation_play");
  pty.write("k2 100\n");  // full deflection: adds at 60 Hz while it is held
  const auto t0 = std::chrono::steady_clock::now();
  double sum = 0;
  int adds = 0;
  while (std::chrono::steady_clock::now() - t0 < 500ms) {
    j = next();
    REQUIRE(j["op"] == "add");
    sum += j["value"].get<double>();
    ++adds;
  }
  pty.write("k2 50\n");  // back to the centre
  CHECK(adds >= 10);
  CHECK(sum > 2.5);  // about 10 units/s for 0.5 s; generous (the machine may be busy)
  CHECK(sum < 12);
  p.signal(SIGTERM);
  CHECK(p.wait(5s) == std::optional<int>(0));
}

namespace {
/// A fake Blender that shows status: its hello answer lists the feature, so the bridge
/// sends its mappings and status lines (docs/protocol.md, "Status").
std::unique_ptr<Conn> accept_status_hello(Listener& blender) {
  auto conn = blender.accept(15s);
  REQUIRE(conn);
  REQUIRE(conn->read_line(10s));
  conn->send(R"({"hello":1,"server":"t","blender":"3.4.1","features":["status"]})" "\n");
  return conn;
}
/// The next line from the bridge for which pred holds (others are skipped), or nullopt.
std::optional<json> next_where(Conn& conn, const std::function<bool(const json&)>& pred, Ms timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<Ms>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    const auto line = conn.read_line(left);
    if (!line) return std::nullopt;
    auto j = json::parse(*line);
    if (pred(j)) return j;
  }
}
bool is_op(const json& j, const char* op) { return j.value("op", "") == op; }
/// Writes a new file and renames it over path, as editors that keep a backup do.
void save_by_rename(const TempDir& dir, const std::string& name, const std::string& text) {
  const auto tmp = dir.write(name + ".new~", text);
  std::filesystem::rename(tmp, dir.file(name));
}
}  // namespace

TEST_CASE("saving the mapping file reloads it; a broken save keeps the running mapping; status follows") {
  TempDir dir;
  Listener blender;
  Pty pty;
  const auto cfg = dir.write("map.yaml", mapping(blender.port(), pty.slave(), "context.scene.a"));
  Process p({kBin, "run", "-v", "--config", cfg}, dir.file("run.log"));
  auto conn = accept_status_hello(blender);
  INFO(p.log());
  // After the hello: the mappings, then the status.
  auto maps = next_where(*conn, [](const json& j) { return is_op(j, "mappings"); }, 10s);
  REQUIRE(maps);
  CHECK((*maps)["file"] == cfg);
  CHECK((*maps)["mappings"][0] == json::parse(R"({"control":"box.k1","does":"set","target":"context.scene.a","line":6})"));
  REQUIRE(pty.read_line(10s) == std::optional<std::string>("?"));
  const auto device_state = [&](const std::string& state) {
    return next_where(*conn, [&](const json& j) { return is_op(j, "status") && j["devices"][0]["state"] == state; },
                      15s);
  };
  auto st = device_state("open");
  REQUIRE(st);
  CHECK((*st)["devices"][0]["attached"] == pty.slave());
  CHECK((*st)["reloads"] == 0);
  pty.write("k1 50\n");
  auto set = next_where(*conn, [](const json& j) { return is_op(j, "set"); }, 10s);
  REQUIRE(set);
  CHECK((*set)["path"] == "context.scene.a");

  // Saved by an editor that renames a new file over the old one, then by one that writes in place.
  for (const auto& [how, path] : {std::pair{"rename", "context.scene.b"}, std::pair{"in place", "context.scene.c"}}) {
    const auto t0 = std::chrono::steady_clock::now();
    if (std::string(how) == "rename") save_by_rename(dir, "map.yaml", mapping(blender.port(), pty.slave(), path));
    else dir.write("map.yaml", mapping(blender.port(), pty.slave(), path));
    maps = next_where(*conn, [](const json& j) { return is_op(j, "mappings"); }, 10s);  // generous: catches a hang
    REQUIRE(maps);
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("saved (%s) -> reloaded and its mappings sent: %.0f ms (debounce 100 ms)\n", how, ms);
    std::fflush(stdout);
    CHECK((*maps)["mappings"][0]["target"] == path);
    pty.write("k1 60\n");
    set = next_where(*conn, [](const json& j) { return is_op(j, "set"); }, 10s);
    REQUIRE(set);
    CHECK((*set)["path"] == path);
    const auto ms2 = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("saved (%s) -> the next knob turn set the new path: %.0f ms\n", how, ms2);
  }
  CHECK_THAT(p.log(), Catch::Contains("1 devices (kept open), 1 mappings"));

  // A broken save: the error, with file:line:col, in the status; the running mapping is kept.
  save_by_rename(dir, "map.yaml", "devices:\n  box: {serial: {port: /dev/null}}\nmappings:\n  - control: box.k1\n"
                                  "    set: context.scene.__class__\n");
  st = next_where(*conn, [](const json& j) { return is_op(j, "status") && !j["config_errors"].empty(); }, 10s);
  REQUIRE(st);
  CHECK_THAT((*st)["config_errors"][0].get<std::string>(), Catch::StartsWith(cfg + ":5:10: "));
  CHECK((*st)["reloads"] == 2);
  pty.write("k1 70\n");
  set = next_where(*conn, [](const json& j) { return is_op(j, "set"); }, 10s);
  REQUIRE(set);
  CHECK(*set == json::parse(R"({"op":"set","path":"context.scene.c","value":0.7})"));

  // SIGHUP still reloads (the fixed file), and the error goes away.
  dir.write("map.yaml", mapping(blender.port(), pty.slave(), "context.scene.d"));
  p.signal(SIGHUP);
  st = next_where(*conn, [](const json& j) { return is_op(j, "status") && j["config_errors"].empty(); }, 10s);
  REQUIRE(st);
  CHECK((*st)["reloads"] == 3);
  pty.write("k1 80\n");
  set = next_where(*conn, [](const json& j) { return is_op(j, "set"); }, 10s);
  REQUIRE(set);
  CHECK((*set)["path"] == "context.scene.d");

  // The record switch's state is in the status.
  dir.write("map.yaml", mapping(blender.port(), pty.slave(), "context.scene.d") + "record: {toggle: box.b5}\n");
  st = next_where(*conn, [](const json& j) { return is_op(j, "status") && j.contains("record"); }, 10s);
  REQUIRE(st);
  CHECK((*st)["record"] == false);
  pty.write("b5 1\nb5 0\n");
  st = next_where(*conn, [](const json& j) { return is_op(j, "status") && j.value("record", false); }, 10s);
  REQUIRE(st);

  // Where the time goes: every command made by a read (five sets, the record press) timed to the socket.
  p.signal(SIGUSR1);
  REQUIRE(wait_until([&] { return p.log().find("latency: device read -> sent: ") != std::string::npos; }, 10s));
  CHECK_THAT(p.log(), Catch::Contains("since start p50 ") && Catch::Contains("(n=6) |") &&
                          Catch::Contains("Blender received -> applied: not reported"));

  // The box goes away: lost, in the status.
  pty.close();
  st = device_state("lost");
  REQUIRE(st);
  CHECK((*st)["devices"][0]["attached"] == "");
  CHECK_THAT((*st)["errors"].dump(), Catch::Contains("lost " + pty.slave()));
  p.signal(SIGTERM);
  CHECK(p.wait(5s) == std::optional<int>(0));
}
