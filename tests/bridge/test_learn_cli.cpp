// Learn and forget through the real binary: a socket plays Blender (sends the learn and
// forget events, reads the answers), a pty plays the knob box, the mapping file is read
// back byte for byte. docs/protocol.md, "Learn and forget".
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
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


const std::string kMappings = "mappings:\n  - control: box.k1    # the big one\n    set: context.scene.a\n\n# layers later\n";

/// The bridge and its two ends: the fake Blender's connection and the fake box.
struct Rig {
  TempDir dir;
  Listener blender;
  Pty pty;
  std::string cfg, original;
  std::unique_ptr<Process> bridge;
  std::unique_ptr<Conn> conn;
  std::vector<json> skipped;  ///< the lines next() passed over

  /// mappings: the file's text from its mappings: key on; status: the add-on takes the
  /// status and mappings lines (docs/protocol.md, "Status").
  explicit Rig(const std::string& mappings = kMappings, bool status = false) {
    original = head() + mappings;
    cfg = dir.write("box.yaml", original);
    bridge = std::make_unique<Process>(std::vector<std::string>{kBin, "run", "--config", cfg}, dir.file("run.log"));
    conn = blender.accept(15s);
    REQUIRE(conn);
    REQUIRE(conn->read_line(10s));  // hello
    conn->send(status ? R"({"hello":1,"server":"t","blender":"3.4.1","features":["status"]})" "\n"
                      : R"({"hello":1,"server":"t","blender":"3.4.1"})" "\n");
    REQUIRE(pty.read_line(10s) == std::optional<std::string>("?"));
    pty.write("@knoblink 1 knobbox\n@ctl k1 abs 0 1023\n@ctl k2 abs 0 1023\n@ctl e1 rel\n@ctl b1 btn\n@end\n");
  }
  ~Rig() {
    bridge->signal(SIGTERM);
    CHECK(bridge->wait(10s) == std::optional<int>(0));
  }
  /// The file up to its mappings: key.
  std::string head() const {
    return "# the box on my desk\nblender: {port: " + std::to_string(blender.port()) + "}\ndevices:\n  box:\n    serial: {port: " +
           pty.slave() + "}\n";
  }
  /// Replaces the file the way an editor saves: a new file renamed over it (mode 0444 too).
  void save_as_editor(const std::string& text) {
    const auto tmp = dir.write("box.yaml.new", text);
    ::chmod(tmp.c_str(), 0444);
    std::filesystem::rename(tmp, cfg);
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
      skipped.push_back(std::move(j));
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
  CHECK(learned["error"] == r.cfg + " is read-only (mode 0444); the mapping is live, not saved, until knoblink stops");
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

TEST_CASE("forget in a flow list and of a flow map item: the entry cut, every other byte kept") {
  const std::string flow = "mappings: [{control: box.k1, set: context.scene.a},   # the big one\n"
                           "           {control: box.k2, set: 'bpy.data.objects[\"Cube\"].location[1]', to: [-10, 10]},\n"
                           "           {control: box.e1, add: context.scene.frame_current}]  # three\n"
                           "# layers later\n";
  Rig r(flow);
  ::chmod(r.cfg.c_str(), 0600);
  r.send({{"ev", "forget"}, {"path", kLocY}});
  CHECK(r.next("forgot") == json({{"op", "forgot"}, {"path", kLocY}, {"count", 1}, {"file", r.cfg}, {"lines", {7}}}));
  CHECK(read_file(r.cfg) == r.head() +
                                "mappings: [{control: box.k1, set: context.scene.a},   # the big one\n"
                                "           {control: box.e1, add: context.scene.frame_current}]  # three\n"
                                "# layers later\n");
  struct stat st {};
  REQUIRE(::stat(r.cfg.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  // The last item: its comma goes with it.
  r.send({{"ev", "forget"}, {"path", "context.scene.frame_current"}});
  CHECK(r.next("forgot")["lines"] == json({7}));
  CHECK(read_file(r.cfg) == r.head() + "mappings: [{control: box.k1, set: context.scene.a}   # the big one\n"
                                       "]  # three\n# layers later\n");
  r.pty.write("k2 0\ne1 1\nk1 1023\n");  // k2 and e1 map nothing now; k1 still does
  CHECK(r.next("set") == json({{"op", "set"}, {"path", "context.scene.a"}, {"value", 1.0}}));
  // Learned into the flow list, then forgotten: the file as it was, byte for byte.
  const auto before = read_file(r.cfg);
  r.learn(kLocY);
  r.pty.write("k2 300\nk2 500\n");
  CHECK(r.next("learned")["line"] == 6);
  CHECK_THAT(read_file(r.cfg), Catch::Contains("{control: box.k1, set: context.scene.a}, {control: box.k2, set: "
                                               "'bpy.data.objects[\"Cube\"].location[1]', to: [-10, 10]}   # the big one"));
  r.send({{"ev", "forget"}, {"path", kLocY}});
  CHECK(r.next("forgot")["lines"] == json({6}));
  CHECK(read_file(r.cfg) == before);
  CHECK(r.opens() == 1);
}

TEST_CASE("forget of a flow map item in a block list; CRLF and no newline at the end kept") {
  Rig r("mappings:\r\n  - {control: box.k1, set: context.scene.a}\r\n"
        "  - {control: box.k2, set: 'bpy.data.objects[\"Cube\"].location[1]',\r\n     to: [-10, 10]}  # two lines\r\n"
        "  - control: box.e1\r\n    add: context.scene.frame_current");
  r.send({{"ev", "forget"}, {"path", kLocY}});
  CHECK(r.next("forgot")["lines"] == json({8}));
  CHECK(read_file(r.cfg) == r.head() + "mappings:\r\n  - {control: box.k1, set: context.scene.a}\r\n"
                                       "  - control: box.e1\r\n    add: context.scene.frame_current");
  r.pty.write("e1 1\nk2 0\nk1 1023\n");  // e1 first: the values right after the box described itself are positions
  CHECK(r.next("set") == json({{"op", "set"}, {"path", "context.scene.a"}, {"value", 1.0}}));
}

namespace {
/// The mappings line's entry for control, or null.
json entry_of(const json& mappings, const std::string& control) {
  json found;
  int n = 0;
  for (const auto& m : mappings["mappings"])
    if (m["control"] == control) found = m, ++n;
  CHECK(n <= 1);
  return found;
}
}  // namespace

TEST_CASE("a learned mapping the file could not take stays live, and unsaved, over reloads") {
  Rig r(kMappings, true);
  r.next("mappings");
  ::chmod(r.cfg.c_str(), 0444);
  r.learn(kLocY);
  r.pty.write("k2 300\nk2 500\n");
  auto k2 = entry_of(r.next("mappings"), "box.k2");  // the panel's new mappings, then the answer
  CHECK_THAT(r.next("learned")["error"].get<std::string>(), Catch::Contains("read-only"));
  CHECK(k2["target"] == kLocY);
  CHECK(k2["line"] == 0);
  CHECK(k2["unsaved"] == r.cfg + " is read-only (mode 0444)");

  // Saved by an editor (a new file renamed over it, read-only too): k1 moves another
  // property now, and k2 still moves location Y, still unsaved.
  const auto edited = r.head() + "mappings:\n  - control: box.k1    # the big one\n    set: context.scene.b\n";
  r.save_as_editor(edited);
  auto after = r.next("mappings");
  CHECK(entry_of(after, "box.k1")["target"] == "context.scene.b");
  CHECK(entry_of(after, "box.k2")["unsaved"] == r.cfg + " is read-only (mode 0444)");
  const auto status = r.next("status");
  CHECK(status["reloads"] == 1);
  const auto said = "learned box.k2 -> " + kLocY + " is live but not saved: " + r.cfg + " is read-only (mode 0444)";
  CHECK(std::any_of(status["errors"].begin(), status["errors"].end(), [&](const json& e) { return e["text"] == said; }));
  r.pty.write("k2 1023\n");
  CHECK(r.next("set") == json({{"op", "set"}, {"path", kLocY}, {"value", 10.0}}));
  r.pty.write("k1 1023\n");
  CHECK(r.next("set") == json({{"op", "set"}, {"path", "context.scene.b"}, {"value", 1.0}}));
  CHECK(read_file(r.cfg) == edited);  // nothing written

  // SIGHUP after the bytes changed in place: still there. An encoder learned meanwhile, then
  // forgotten: live only, so nothing to write, and the next reload does not bring it back.
  r.learn("context.scene.frame_current", "INT", 0, 250);
  r.pty.write("e1 1\n");
  CHECK_THAT(r.next("learned")["error"].get<std::string>(), Catch::Contains("read-only"));
  r.send({{"ev", "forget"}, {"path", "context.scene.frame_current"}});
  const auto forgot = r.next("forgot");
  CHECK(forgot["count"] == 1);
  CHECK(forgot["lines"] == json::array());
  ::chmod(r.cfg.c_str(), 0644);
  {
    std::ofstream(r.cfg, std::ios::app) << "# touched\n";
  }
  ::chmod(r.cfg.c_str(), 0444);
  r.bridge->signal(SIGHUP);
  REQUIRE(wait_until([&] { return r.bridge->log().find("reloaded " + r.cfg) != std::string::npos; }, 10s));
  for (;;) {  // the watch and SIGHUP may both reload: the last mappings line counts
    auto m = r.next("mappings");
    if (!entry_of(m, "box.e1").is_null()) FAIL("the forgotten encoder came back");
    if (read_file(r.cfg) == edited + "# touched\n" && !entry_of(m, "box.k2").is_null()) {
      CHECK(entry_of(m, "box.k2")["unsaved"] == r.cfg + " is read-only (mode 0444)");
      break;
    }
  }
  r.skipped.clear();
  r.pty.write("e1 1\nk2 0\n");
  CHECK(r.next("set") == json({{"op", "set"}, {"path", kLocY}, {"value", -10.0}}));
  for (const auto& j : r.skipped) CHECK(j.value("op", "") != "add");  // e1 sent nothing

  // The file now maps k2 to location Y itself: the learned one gives way (one entry, the file's).
  const auto with_k2 = edited + "  - control: box.k2\n    set: 'bpy.data.objects[\"Cube\"].location[1]'\n    to: [0, 5]\n";
  r.save_as_editor(with_k2);
  for (;;) {
    auto m = r.next("mappings");
    k2 = entry_of(m, "box.k2");
    if (!k2.is_null() && !k2.contains("unsaved")) break;
  }
  CHECK(k2["line"] == 9);
  r.pty.write("k2 1023\n");
  CHECK(r.next("set") == json({{"op", "set"}, {"path", kLocY}, {"value", 5.0}}));
  CHECK_THAT(r.bridge->log(), Catch::Contains("maps box.k2 to " + kLocY + " now; the learned mapping that was not saved gives way"));
  CHECK(r.opens() == 1);
}

TEST_CASE("learn while the file is broken: live, the broken file not edited; kept when it is fixed") {
  Rig r(kMappings, true);
  const auto broken = r.head() + "mappings:\n  - control: box.k1\n    set: context.scene.__class__\n";
  r.save_as_editor(broken);
  ::chmod(r.cfg.c_str(), 0644);
  REQUIRE(wait_until([&] { return r.bridge->log().find("keeping the running config") != std::string::npos; }, 10s));
  r.learn(kLocY);
  r.pty.write("k2 300\nk2 500\n");
  const auto learned = r.next("learned");
  CHECK_THAT(learned["error"].get<std::string>(),
             Catch::StartsWith(r.cfg + ": its last reload failed (" + r.cfg + ":8:10: set ") &&
                 Catch::EndsWith("so it is not edited; fix it, save it and try again; the mapping is live, not saved, "
                                 "until knoblink stops"));
  CHECK(read_file(r.cfg) == broken);
  r.pty.write("k1 1023\n");  // the running mapping is the one before the broken save
  CHECK(r.next("set") == json({{"op", "set"}, {"path", "context.scene.a"}, {"value", 1.0}}));
  // Fixed and saved: the learned mapping is put on top of it, still unsaved.
  std::ofstream(r.cfg, std::ios::trunc) << r.original;
  for (;;) {
    const auto m = r.next("mappings");
    if (m["mappings"].size() == 2) {
      CHECK(entry_of(m, "box.k2")["unsaved"].get<std::string>().find("its last reload failed") != std::string::npos);
      break;
    }
  }
  r.pty.write("k2 1023\n");
  CHECK(r.next("set") == json({{"op", "set"}, {"path", kLocY}, {"value", 10.0}}));
  // A learn now saves: the file is in step again.
  r.learn("context.scene.frame_current", "INT", 0, 250);
  r.pty.write("e1 1\n");
  CHECK(r.next("learned")["line"] == 9);
  CHECK(read_file(r.cfg) == r.head() + "mappings:\n  - control: box.k1    # the big one\n    set: context.scene.a\n"
                                       "  - control: box.e1\n    add: 'context.scene.frame_current'\n    step: 1\n"
                                       "\n# layers later\n");
}
