// The real knoblink binary between a pty (Contract 1 in) and a listening socket
// (Contract 2 out): mapping, garbage, feedback, Blender going away and coming back,
// and the device being unplugged and replugged.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fake_blender.hpp"
#include "harness.hpp"

using namespace kltest;
using nlohmann::json;

namespace {

const std::string kBin = KNOBLINK_BINARY_DIR "/bridge/knoblink";

json next_json(Conn& c, const Process& p) {
  auto line = c.read_line(10s);
  INFO(p.log());
  REQUIRE(line.has_value());
  return json::parse(*line);
}

/// Accepts the bridge's connection and answers its hello like the add-on does.
std::unique_ptr<Conn> accept_hello(Listener& l, const Process& p) {
  std::string hello;
  auto c = accept_bridge(l, 15s, &hello);
  INFO(p.log());
  INFO(hello);
  REQUIRE(c);
  CHECK(json::parse(hello)["client"].get<std::string>().rfind("knoblink/", 0) == 0);
  return c;
}

void point_link(const std::string& link, const std::string& target) {
  std::filesystem::remove(link);
  std::filesystem::create_symlink(target, link);
}

}  // namespace

TEST_CASE("pty lines come out as mapped commands, through garbage, restarts and unplugs") {
  TempDir dir;
  Listener blender;
  auto pty = std::make_unique<Pty>();
  const std::string link = dir.file("box");
  point_link(link, pty->slave());
  const auto cfg = dir.write("map.yaml", "blender: {host: 127.0.0.1, port: " + std::to_string(blender.port()) +
                                             "}\n"
                                             "devices:\n  box:\n    serial: {port: " + link + "}\n"
                                             "mappings:\n"
                                             "  - control: box.k1\n    set: 'bpy.data.objects[\"Cube\"].location[0]'\n    to: [-2, 2]\n"
                                             "  - control: box.e1\n    add: context.scene.frame_current\n"
                                             "  - control: box.b1\n    press: {keyframe: context.active_object.location}\n"
                                             "  - control: box.l1\n    watch: context.scene.use_gravity\n");
  Process bridge({kBin, "run", "-v", "--config", cfg}, dir.file("bridge.log"));

  auto conn = accept_hello(blender, bridge);
  // The watch for the LED comes first.
  auto w = next_json(*conn, bridge);
  CHECK(w["op"] == "watch");
  CHECK(w["path"] == "context.scene.use_gravity");

  // The bridge asks the device to describe itself.
  REQUIRE(pty->read_line(10s) == std::optional<std::string>("?"));
  pty->write("@knoblink 1 knobbox uid=00c0ffee\r\n@ctl k1 abs 0 1000\r\n@ctl e1 rel\r\n@ctl b1 btn\r\n@ctl l1 out 0 1\r\n@end\r\n"
             "k1 500\r\nb1 0\r\n");  // the snapshot: positions only, nothing is sent for it
  pty->write("k1 750\r\n");
  auto set = next_json(*conn, bridge);
  CHECK(set == json::parse(R"({"op":"set","path":"bpy.data.objects[\"Cube\"].location[0]","value":1})"));

  SECTION("garbage is reported and skipped, the process keeps running") {
    pty->write(std::string("\xff\xfe\x00garbage\n", 11) + "k1 99999999999\n" + std::string(300, 'x') + "\ne1 -3\n");
    auto add = next_json(*conn, bridge);
    CHECK(add["op"] == "add");
    CHECK(add["value"] == -3);
    CHECK(bridge.running());
    CHECK(wait_until([&] { return bridge.log().find("line too long: 300 bytes") != std::string::npos; }, 5s));
    CHECK(bridge.log().find("skipped a line: not an event") != std::string::npos);
    CHECK(bridge.log().find("\\xff\\xfe\\x00garbage") != std::string::npos);
  }

  SECTION("feedback drives the LED") {
    INFO(bridge.log());
    conn->send(R"({"ev":"value","path":"context.scene.use_gravity","value":true})" "\n");
    CHECK(pty->read_line(10s) == std::optional<std::string>("l1 1"));
    conn->send(R"({"ev":"value","path":"context.scene.use_gravity","value":false})" "\n");
    CHECK(pty->read_line(10s) == std::optional<std::string>("l1 0"));
  }

  SECTION("Blender restarting loses no discrete command and gets the latest values") {
    pty->write("b1 1\nb1 0\n");
    auto kf = next_json(*conn, bridge);
    REQUIRE(kf["op"] == "keyframe");
    // Blender dies before acknowledging it; more happens while it is away.
    conn->close();
    blender.close();
    REQUIRE(wait_until([&] { return bridge.log().find("connection lost") != std::string::npos; }, 10s));
    pty->write("b1 1\nb1 0\nk1 0\nk1 250\ne1 2\ne1 3\n");
    Listener again(blender.port());
    auto c2 = accept_hello(again, bridge);
    CHECK(next_json(*c2, bridge)["op"] == "watch");
    // Latest absolute value first, then the unacknowledged keyframe, then what queued up.
    std::vector<json> got;
    for (int i = 0; i < 5; ++i) got.push_back(next_json(*c2, bridge));
    INFO(json(got).dump());
    CHECK(got[0] == json::parse(R"({"op":"set","path":"bpy.data.objects[\"Cube\"].location[0]","value":-1})"));
    CHECK(got[1]["op"] == "keyframe");
    CHECK(got[2]["op"] == "keyframe");
    CHECK(got[3]["op"] == "set");
    CHECK(got[3]["value"] == -1);
    CHECK(got[4]["op"] == "add");
    CHECK(got[4]["value"] == 5);
  }

  SECTION("unplug and replug: the bridge reopens the port and asks for the description again") {
    pty->close();
    REQUIRE(wait_until([&] { return bridge.log().find("lost " + link) != std::string::npos; }, 10s));
    auto replugged = std::make_unique<Pty>();
    point_link(link, replugged->slave());
    REQUIRE(replugged->read_line(10s) == std::optional<std::string>("?"));
    replugged->write("@knoblink 1 knobbox\n@ctl k1 abs 0 1000\n@end\nk1 250\n");
    auto s = next_json(*conn, bridge);
    CHECK(s["value"] == -1);
    pty = std::move(replugged);
  }

  bridge.signal(SIGTERM);
  const auto status = bridge.wait(5s);
  INFO(bridge.log());
  REQUIRE(status == std::optional<int>(0));
  CHECK(bridge.log().find("counters: events=") != std::string::npos);  // printed on exit
}
