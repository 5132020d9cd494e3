// Learn and forget through the real binary: a socket plays Blender (sends the learn and
// forget events, reads the answers), a pty plays the knob box, the mapping file is read
// back byte for byte. docs/protocol.md, "Learn and forget".
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "harness.hpp"

using namespace kltest;
using nlohmann::json;

namespace {

const std::string kBin = KNOBLINK_BINARY_DIR "/bridge/knoblink";
const std::string kLocY = R"(bpy.data.objects["Cube"].location[1])";


/// The bridge and its two ends: the fake Blender's connection and the fake box.
struct Rig {
  TempDir dir;
  Listener blender;
  Pty pty;
  std::string cfg, original;
  std::unique_ptr<Process> bridge;
  std::unique_ptr<Conn> conn;

  Rig() {
    original = "# the box on my desk\nblender: {port: " + std::to_string(blender.port()) +
               "}\ndevices:\n  box:\n    serial: {port: " + pty.slave() +
               "}\nmappings:\n  - control: box.k1    # the big one\n    set: context.scene.a\n\n# layers later\n";
    cfg = dir.write("box.yaml", original);
    bridge = std::make_unique<Process>(std::vector<std::string>{kBin, "run", "--config", cfg}, dir.file("run.log"));
    conn = blender.accept(15s);
    REQUIRE(conn);
    REQUIRE(conn->read_line(10s));  // hello
    conn->send(R"({"hello":1,"server":"t","blender":"3.4.1"})" "\n");
    REQUIRE(pty.read_line(10s) == std::optional<std::string>("?"));
    pty.write("@knoblink 1 knobbox\n@ctl k1 abs 0 1023\n@ctl k2 abs 0 1023\n@ctl e1 rel\n@ctl b1 btn\n@end\n");
  }
  ~Rig() {
    bridge->signal(SIGTERM);
    CHECK(bridge->wait(10s) == std::optional<int>(0));
  }
  void send(const json& j) { conn->send(j.dump() + "\n"); }
  /// The next line from the bridge with this op (others, e.g. watches, are skipped).
  json next(const std::string& op, Ms timeout = 10s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<Ms>(end - std::chrono::steady_clock::now());
      INFO("waiting for " << op << "\n" << bridge->log());
      REQUIRE(left.count() > 0);
      const auto line = conn->read_line(left);
      REQUIRE(line);
      auto j = json::parse(*line);
      if (j.value("op", "") == op) return j;
    }
  }
  void learn(const std::string& path, const char* kind = "FLOAT", double lo = -10, double hi = 10) {
    send({{"ev", "learn"}, {"path", path}, {"kind", kind}, {"min", lo}, {"max", hi}});
    REQUIRE(wait_until([&] { return bridge->log().find("learn: touch a control") != std::string::npos; }, 10s));
  }
  int opens() const {
    const auto log = bridge->log();
    int n = 0;
    for (auto at = log.find("opened " + pty.slave()); at != std::string::npos; at = log.find("opened " + pty.slave(), at + 1))
      ++n;
    return n;
  }
};

const std::string kLearnedK2 = "  - control: box.k2\n    set: 'bpy.data.objects[\"Cube\"].location[1]'\n    to: [-10, 10]\n";

}  // namespace

TEST_CASE("learn: the next knob turned is mapped, appended to the file, live at once; forget removes it") {
  Rig r;
  r.learn(kLocY);
  r.pty.write("k2 300\n");  // where k2 is: not a touch yet
  r.pty.write("k2 305\n");  // jitter: under 1% of 0..1023
  r.pty.write("k2 311\n");  // 11 steps: a touch
  const auto learned = r.next("learned");
  CHECK(learned == json({{"op", "learned"}, {"path", kLocY}, {"control", "box.k2"}, {"mapping", "set"},
                         {"file", r.cfg}, {"line", 9}}));
  // Exactly the new mapping after the last item; the rest byte for byte.
  CHECK(read_file(r.cfg) == "# the box on my desk\nblender: {port: " + std::to_string(r.blender.port()) +
                            "}\ndevices:\n  box:\n    serial: {port: " + r.pty.slave() +
                            "}\nmappings:\n  - control: box.k1    # the big one\n    set: context.scene.a\n" + kLearnedK2 +
                            "\n# layers later\n");
  // Live without reopening the box: the knob moves the property.
  r.pty.write("k2 1023\n");
  CHECK(r.next("set") == json({{"op", "set"}, {"path", kLocY}, {"value", 10.0}}));
  CHECK(r.opens() == 1);
  CHECK_FALSE(r.pty.read_line(300ms));  // the box was not asked to describe itself again
  CHECK_THAT(r.bridge->log(), Catch::Contains("learned into " + r.cfg + ": 1 devices (kept open), 2 mappings"));
  // The file watch sees learn's own write (docs/mapping.md, "Reloading"): the bytes are those
  // the bridge wrote, so it is no reload.
  REQUIRE(wait_until([&] { return r.bridge->log().find("unchanged since it was last read") != std::string::npos; }, 10s));
  CHECK_THAT(r.bridge->log(), !Catch::Contains("reloaded "));

  // An encoder learned next: add with step 1 for an int.
  r.learn("context.scene.frame_current", "INT", 0, 250);
  r.pty.write("e1 1\n");
  const auto second = r.next("learned");
  CHECK(second["mapping"] == "add");
  CHECK(second["line"] == 12);
  CHECK_THAT(read_file(r.cfg), Catch::Contains(kLearnedK2 + "  - control: box.e1\n    add: 'context.scene.frame_current'\n    step: 1\n\n# layers later\n"));

  // Forget both: the file is the original again, byte for byte, and k2 moves nothing.
  r.send({{"ev", "forget"}, {"path", kLocY}});
  CHECK(r.next("forgot") == json({{"op", "forgot"}, {"path", kLocY}, {"count", 1}, {"file", r.cfg}, {"lines", {9}}}));
  r.send({{"ev", "forget"}, {"path", "context.scene.frame_current"}});
  CHECK(r.next("forgot")["lines"] == json({9}));
  CHECK(read_file(r.cfg) == r.original);
  r.pty.write("k2 0\nk1 1023\n");
  CHECK(r.next("set") == json({{"op", "set"}, {"path", "context.scene.a"}, {"value", 1.0}}));  // k2 sent nothing first
  r.send({{"ev", "forget"}, {"path", kLocY}});
  CHECK(r.next("forget_failed")["reason"] == "no mapping of " + r.cfg + " targets " + kLocY);
  CHECK(r.opens() == 1);
  r.bridge->signal(SIGUSR1);
  CHECK(wait_until([&] { return r.bridge->log().find("learned=2 forgotten=2") != std::string::npos; }, 10s));
}

TEST_CASE("learn: no control touched within 15 s is answered learn_failed; bad events are answered too") {
  Rig r;
  r.learn(kLocY);
  r.pty.write("k2 300\n");  // a position only
  const auto t0 = std::chrono::steady_clock::now();
  const auto failed = r.next("learn_failed", 25s);
  CHECK(failed == json({{"op", "learn_failed"}, {"path", kLocY}, {"reason", "no control touched within 15 s"}}));
  CHECK(std::chrono::steady_clock::now() - t0 > 13s);
  r.pty.write("k2 900\n");  // too late: nothing learned
  r.send({{"ev", "learn"}, {"path", "context.scene.__class__"}, {"kind", "FLOAT"}, {"min", 0}, {"max", 1}});
  CHECK_THAT(r.next("learn_failed")["reason"].get<std::string>(), Catch::Contains("is not a data path"));
  CHECK(read_file(r.cfg) == r.original);
  // A button on a float: keyframe; a knob on a bool: refused with the reason.
  r.learn(R"(bpy.data.objects["Cube"].hide_render)", "BOOLEAN", 0, 1);
  r.pty.write("k1 100\nk1 400\n");
  CHECK(r.next("learn_failed")["reason"] == "box.k1 is a knob or fader; a bool property is learned from a button");
  CHECK(read_file(r.cfg) == r.original);
}

TEST_CASE("learn into a read-only or moved file: reported with the reason, live anyway, the file untouched") {
  Rig r;
  ::chmod(r.cfg.c_str(), 0444);
  r.learn(kLocY);
  r.pty.write("k2 300\nk2 500\n");
  const auto learned = r.next("learned");
  CHECK(learned["control"] == "box.k2");
  CHECK_FALSE(learned.contains("line"));
  CHECK(learned["error"] == r.cfg + " is read-only (mode 0444); the mapping is live until knoblink stops or reloads");
  CHECK(read_file(r.cfg) == r.original);
  r.pty.write("k2 0\n");
  CHECK(r.next("set") == json({{"op", "set"}, {"path", kLocY}, {"value", -10.0}}));

  // Moved away: the next learn is live too, and neither file is touched.
  ::chmod(r.cfg.c_str(), 0644);
  const auto moved = r.dir.file("moved.yaml");
  std::filesystem::rename(r.cfg, moved);
  r.learn("context.scene.frame_current", "INT", 0, 250);
  r.pty.write("b1 1\n");
  const auto second = r.next("learned");
  CHECK(second["mapping"] == "keyframe");
  CHECK_THAT(second["error"].get<std::string>(), Catch::StartsWith("cannot find " + r.cfg + ": ") &&
                                                     Catch::Contains("(moved or deleted?)"));
  CHECK(read_file(moved) == r.original);
  CHECK_FALSE(std::filesystem::exists(r.cfg));
  r.pty.write("b1 0\nb1 1\n");
  CHECK(r.next("keyframe")["path"] == "context.scene.frame_current");
  // Forgetting a mapping that is only live: gone, nothing to write.
  r.send({{"ev", "forget"}, {"path", kLocY}});
  const auto forgot = r.next("forgot");
  CHECK(forgot["count"] == 1);
  CHECK(forgot["lines"] == json::array());
  CHECK(r.opens() == 1);
}
