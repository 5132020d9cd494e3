// The serial session: golden captures in tests/data/serial/ (NAME.txt) fed through
// SerialSession must end in exactly NAME.expected: the sink calls (connection, notices,
// controls, ControlEvents, malformed lines) for a port given by path, for port: auto,
// and for port: auto with uid: c0ffee. Each capture is fed whole, split at every
// offset, and byte by byte; all must give the same. Snapshot values (the positions a
// device sends right after @end) are marked "snapshot". KNOBLINK_REGEN_GOLDEN=1 rewrites
// the .expected files (review the diff before committing).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "devices/serial_session.hpp"

using namespace knoblink;
namespace fs = std::filesystem;

namespace {

constexpr std::uint16_t kDevice = 3;

const char* severity(Severity s) {
  switch (s) {
    case Severity::debug: return "debug";
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "?";
}

/// Every sink call as one line; events also keep their stamps.
class Recorder final : public EventSink {
 public:
  void on_event(const ControlEvent& e) override {
    REQUIRE(e.device == kDevice);
    lines.push_back("event " + e.control.str() + " " + std::string(to_string(e.kind)) + " " + std::to_string(e.value) +
                    (e.snapshot ? " snapshot" : ""));
    stamps.push_back(e.t_us);
  }
  void on_notice(std::uint16_t device, Severity s, std::string_view text) override {
    REQUIRE(device == kDevice);
    lines.push_back(std::string("notice ") + severity(s) + " " + std::string(text));
  }
  void on_connection(std::uint16_t device, bool up) override {
    REQUIRE(device == kDevice);
    lines.push_back(up ? "connected" : "disconnected");
  }
  void on_control(std::uint16_t device, const ControlInfo& c) override {
    REQUIRE(device == kDevice);
    std::string l = "control " + c.name.str() + " " + std::string(to_string(c.kind));
    if (c.has_range) l += " " + std::to_string(c.min) + " " + std::to_string(c.max);
    lines.push_back(l);
  }
  void on_malformed(std::uint16_t device, std::string_view what) override {
    REQUIRE(device == kDevice);
    lines.push_back("malformed " + std::string(what));
  }
  std::vector<std::string> lines;
  std::vector<std::int64_t> stamps;
};

const char* state_name(SerialSession::State s) {
  switch (s) {
    case SerialSession::State::closed: return "closed";
    case SerialSession::State::probing: return "probing";
    case SerialSession::State::connected: return "connected";
    case SerialSession::State::rejected: return "rejected";
  }
  return "?";
}

struct Mode {
  const char* title;
  bool probing;
  const char* uid;
};
constexpr Mode kModes[] = {{"port: /dev/ttyTEST", false, ""},
                           {"port: auto", true, ""},
                           {"port: auto, uid: c0ffee", true, "c0ffee"}};

/// The session's output for stream cut at cuts, in every mode, as text.
std::string run_session(const std::string& stream, std::vector<std::size_t> cuts) {
  cuts.push_back(stream.size());
  std::string out;
  for (const Mode& mode : kModes) {
    Recorder sink;
    SerialSession session(kDevice, "box", *mode.uid ? parse_uid(mode.uid) : std::nullopt, sink);
    session.open("/dev/ttyTEST", "test", mode.probing);
    std::size_t at = 0;
    for (std::size_t cut : cuts) {
      session.feed(std::string_view(stream).substr(at, cut - at), 1000);
      at = cut;
    }
    for (auto t : sink.stamps) REQUIRE(t == 1000);
    out += std::string("== ") + mode.title + "\n";
    for (const auto& l : sink.lines) out += l + "\n";
    out += std::string("state ") + state_name(session.state()) + "\n";
  }
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

}  // namespace

TEST_CASE("golden serial captures end in the same events at every split") {
  const fs::path dir = fs::path(KNOBLINK_TEST_DATA) / "serial";
  const bool regen = std::getenv("KNOBLINK_REGEN_GOLDEN") != nullptr;
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".txt") continue;
    ++cases;
    const std::string stream = slurp(entry.path());
    auto expected_path = entry.path();
    expected_path.replace_extension(".expected");
    INFO("capture " << entry.path().filename().string());
    const std::string whole = run_session(stream, {});
    if (regen) std::ofstream(expected_path, std::ios::binary) << whole;
    REQUIRE(whole == slurp(expected_path));
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
      INFO("split at " << cut);
      REQUIRE(run_session(stream, {cut}) == whole);
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < stream.size(); ++i) every.push_back(i);
    REQUIRE(run_session(stream, every) == whole);
  }
  REQUIRE(cases >= 4);
}

TEST_CASE("events are stamped once per read, with the time of the read that completed them") {
  Recorder sink;
  SerialSession s(kDevice, "box", std::nullopt, sink);
  s.open("/dev/ttyTEST", "test", false);
  s.feed("k1 1\nk1 2\nk1", 100);
  s.feed(" 3\n", 250);
  s.feed("k1 4\n", 400);
  CHECK(sink.stamps == std::vector<std::int64_t>{100, 100, 250, 400});
}

TEST_CASE("port: auto with a uid takes only the box whose hello says it") {
  SECTION("another uid is skipped: nothing it says is used, the port is left for others") {
    Recorder sink;
    SerialSession s(kDevice, "box", parse_uid("c0ffee"), sink);
    s.open("/dev/ttyUSB0", "libserialport", true);
    CHECK(s.feed("k1 5\n@knoblink 1 knobbox uid=0000beef\n@ctl k1 abs 0 1023\nk1 6\n", 10) ==
          SerialSession::State::rejected);
    CHECK(sink.lines == std::vector<std::string>{
                            "notice debug box: skipped /dev/ttyUSB0: it is knobbox uid=0000beef, not uid=c0ffee; "
                            "left for other devices"});
    CHECK(s.uid() == "0000beef");
    CHECK(s.feed("k1 7\n", 20) == SerialSession::State::rejected);
    CHECK(sink.lines.size() == 1);
  }
  SECTION("a hello without a uid is skipped too") {
    Recorder sink;
    SerialSession s(kDevice, "box", parse_uid("c0ffee"), sink);
    s.open("/dev/ttyUSB0", "libserialport", true);
    CHECK(s.feed("@knoblink 1 knobbox\n", 10) == SerialSession::State::rejected);
  }
  SECTION("the right uid is taken, whatever its case and leading zeros") {
    Recorder sink;
    SerialSession s(kDevice, "box", parse_uid("C0FFEE"), sink);
    s.open("/dev/ttyUSB1", "libserialport", true);
    CHECK(s.feed("k1 5\n@knoblink 1 knobbox uid=00c0ffee\nk1 6\n", 10) == SerialSession::State::connected);
    CHECK(sink.lines == std::vector<std::string>{"notice info box: found knobbox on /dev/ttyUSB1 (libserialport)",
                                                 "connected", "notice debug box: hello from knobbox uid=00c0ffee",
                                                 "event k1 unknown 6"});
  }
  SECTION("a port given by path is used even with another uid, with a warning") {
    Recorder sink;
    SerialSession s(kDevice, "box", parse_uid("c0ffee"), sink);
    s.open("/dev/ttyACM0", "termios", false);
    CHECK(s.feed("@knoblink 1 knobbox uid=beef\nk1 6\n", 10) == SerialSession::State::connected);
    REQUIRE(sink.lines.size() == 5);
    CHECK(sink.lines[2] ==
          "notice warning box: the device on /dev/ttyACM0 is knobbox uid=beef, not uid=c0ffee; using it, since port: "
          "names the path (port: auto takes only the uid given)");
    CHECK(sink.lines[4] == "event k1 unknown 6");
  }
}

TEST_CASE("a lost port is reported once, with a cut-off line; reopening forgets the old controls") {
  Recorder sink;
  SerialSession s(kDevice, "box", std::nullopt, sink);
  s.open("/dev/ttyACM0", "termios", false);
  s.feed("@ctl k1 abs 0 1023\nk1 5\nk1 6", 10);
  CHECK(s.kind_of(Name::unchecked("k1")) == ControlKind::abs);
  CHECK(s.lost("the device hung up (unplugged?)"));
  CHECK_FALSE(s.lost("again"));
  CHECK(s.state() == SerialSession::State::closed);
  s.open("/dev/ttyACM0", "termios", false);
  CHECK(s.kind_of(Name::unchecked("k1")) == ControlKind::unknown);
  s.feed("7\nk1 8\n", 20);  // the cut-off "k1 6" is not glued to the new bytes
  CHECK(sink.lines == std::vector<std::string>{
                          "notice info box: opened /dev/ttyACM0 (termios)", "connected", "control k1 abs 0 1023",
                          "event k1 abs 5", "notice warning box: a partial line was cut off by the disconnect",
                          "notice warning box: lost /dev/ttyACM0: the device hung up (unplugged?); reopening",
                          "disconnected", "notice info box: opened /dev/ttyACM0 (termios)", "connected",
                          "malformed box (/dev/ttyACM0): skipped a line: not an event: control name must match "
                          "[a-z][a-z0-9_]{0,15}: \"7\"",
                          "event k1 unknown 8"});
}

TEST_CASE("the snapshot: one value per abs and btn control right after @end, on every description") {
  Recorder sink;
  SerialSession s(kDevice, "box", std::nullopt, sink);
  s.open("/dev/ttyACM0", "termios", false);
  const std::string description = "@knoblink 1 knobbox\n@ctl k1 abs 0 1023\n@ctl b1 btn\n@ctl e1 rel\n@ctl l1 out\n@end\n";
  SECTION("values within the window are the snapshot, once each; later ones are movements") {
    s.feed(description + "k1 10\n", 1'000'000);
    s.feed("b1 0\nk1 11\n", 1'000'000 + SerialSession::kSnapshotWindowUs);
    s.feed(description, 2'000'000);  // the answer to a '?'
    s.feed("k1 11\n", 2'000'100);
    s.feed("b1 1\n", 2'000'000 + SerialSession::kSnapshotWindowUs + 1);  // too late: pressed since
    std::vector<std::string> events;
    for (const auto& l : sink.lines)
      if (l.rfind("event ", 0) == 0) events.push_back(l);
    CHECK(events == std::vector<std::string>{"event k1 abs 10 snapshot", "event b1 btn 0 snapshot", "event k1 abs 11",
                                             "event k1 abs 11 snapshot", "event b1 btn 1"});
  }
  SECTION("any other event ends it: a device without a snapshot loses no turn after the first") {
    s.feed(description + "e1 1\nk1 5\nb1 1\n", 10);
    CHECK(sink.lines.back() == "event b1 btn 1");
    CHECK(sink.lines[sink.lines.size() - 2] == "event k1 abs 5");
  }
  SECTION("a reopened port waits for a new description before anything is a snapshot") {
    s.feed(description, 10);
    s.lost("unplugged");
    s.open("/dev/ttyACM0", "termios", false);
    s.feed("k1 5\n", 20);
    CHECK(sink.lines.back() == "event k1 unknown 5");
  }
}

TEST_CASE("uids are 1-16 hex digits") {
  CHECK(parse_uid("3fa9c01e") == 0x3fa9c01eu);
  CHECK(parse_uid("00C0FFEE") == 0xc0ffeeu);
  CHECK(parse_uid("ffffffffffffffff") == 0xffffffffffffffffu);
  for (const char* bad : {"", "0x12", "12345678901234567", "c0ffee ", "g"}) {
    INFO(bad);
    CHECK_FALSE(parse_uid(bad));
  }
}
