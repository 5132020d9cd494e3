// MIDI on a real JACK server (jackd -d dummy, one per test, under a name of its own):
// a JACK MIDI client (midi_test_ctl, RtMidi's JACK API) is the controller.
// - `knoblink list` shows the port with the line to paste;
// - the real `knoblink monitor`: the controller's port appears after the bridge started
//   and is opened (the time is printed, not asserted); CC, 14-bit CC, the three relative
//   encodings, notes with velocity and pitch bend decode to the right values; the port
//   vanishing is reported and the port is opened again when it is back;
// - MidiSource with RtMidi: feedback (cc, 14-bit cc, note, pb) leaves on the output port;
// - a flood (10,000 CCs a second on one control for 3 s, with note presses, encoder steps,
//   SysEx and program changes) into the real `knoblink run`, whose Blender (a socket with a
//   small receive buffer) does not read meanwhile.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>

#include "devices/midi/midi_source.hpp"
#include "fake_blender.hpp"
#include "harness.hpp"

using namespace kltest;
using namespace knoblink;

namespace {

const std::string kBin = KNOBLINK_BINARY_DIR "/bridge/knoblink";
const std::string kCtl = KNOBLINK_BINARY_DIR "/tests/midi/midi_test_ctl";

/// jackd with the dummy backend under a unique server name, which this process (and so
/// every child) uses through JACK_DEFAULT_SERVER; stopped on destruction. 192 kHz with
/// 2048-frame periods (10.7 ms): a client that is late for a cycle loses that cycle's MIDI
/// events inside JACK, before the bridge sees them, and on a loaded machine clients were
/// late at 48 kHz / 256 frames (5.3 ms; a lost CC, and 53 messages of the flood); a cycle's
/// MIDI buffer also holds little more than what the flood's 10,000 messages a second fill.
class JackServer {
 public:
  explicit JackServer(const TempDir& dir) {
    static int count = 0;
    name_ = "knoblink-test-" + std::to_string(getpid()) + "-" + std::to_string(++count);
    setenv("JACK_DEFAULT_SERVER", name_.c_str(), 1);
    setenv("JACK_NO_AUDIO_RESERVATION", "1", 1);
    jackd_ = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/jackd", "--no-realtime", "-n", name_, "-d", "dummy", "-r", "192000", "-p", "2048"},
        dir.file("jackd.log"));
    ready_ = wait_until(
        [&] {
          Process lsp({"/usr/bin/jack_lsp"}, dir.file("lsp.log"));
          return lsp.wait(5s) == std::optional<int>(0);
        },
        20s);
  }
  ~JackServer() { jackd_->signal(SIGTERM), jackd_->wait(5s); }
  bool ready() const { return ready_; }
  std::string log() const { return jackd_->log(); }

 private:
  std::string name_;
  std::unique_ptr<Process> jackd_;
  bool ready_ = false;
};

/// The test controller, fed through a FIFO.
class Controller {
 public:
  Controller(const TempDir& dir, const std::string& client, const std::string& tag) {
    fifo_ = dir.file(tag + ".fifo");
    mkfifo(fifo_.c_str(), 0600);
    proc_ = std::make_unique<Process>(std::vector<std::string>{kCtl, client, fifo_}, dir.file(tag + ".log"));
    out_.open(fifo_);  // blocks until the controller opens it
  }
  ~Controller() { quit(); }
  void send(const std::string& hex) { out_ << hex << "\n" << std::flush; }
  void quit() {
    if (!proc_) return;
    send("quit");
    out_.close();
    if (!proc_->wait(5s)) proc_->signal(SIGKILL);
    proc_.reset();
  }
  std::string log() const { return proc_ ? proc_->log() : std::string(); }
  bool ready() { return wait_until([&] { return log().find("ready") != std::string::npos; }, 10s); }

 private:
  std::string fifo_;
  std::unique_ptr<Process> proc_;
  std::ofstream out_;
};

bool log_has(Process& p, const std::string& text, Ms timeout = 10s) {
  return wait_until([&] { return p.log().find(text) != std::string::npos; }, timeout);
}

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("MIDI through JACK: knoblink monitor decodes a controller that appears after it started") {
  TempDir dir;
  JackServer jack(dir);
  INFO(jack.log());
  REQUIRE(jack.ready());
  const auto cfg = dir.write("nano.yaml", R"(devices:
  nano:
    midi:
      port: "testctl"
      api: jack
      encodings: {cc1_16: twos, cc1_17: offset, cc1_18: sign}
      fourteen_bit: [cc1_7]
)");
  Process mon({kBin, "monitor", "-c", cfg}, dir.file("mon.log"));
  INFO(mon.log());
  REQUIRE(log_has(mon, "waiting: no MIDI input port contains \"testctl\""));

  auto ctl = std::make_unique<Controller>(dir, "testctl", "ctl1");
  REQUIRE(ctl->ready());
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(log_has(mon, "# nano connected", 10s));
  const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("midi jack: a new port was opened %.0f ms after it appeared (polled every 250 ms)\n", ms);
  REQUIRE(log_has(mon, "opened MIDI input \"testctl:ctl out\""));
  Process list({kBin, "list"}, dir.file("list.log"));
  REQUIRE(list.wait(20s) == std::optional<int>(0));
  CHECK_THAT(list.log(), Catch::Contains("MIDI ports (jack):\n  testctl:ctl out\n    midi: {port: \"testctl:ctl out\", api: jack}"));
  CHECK_THAT(list.log(), !Catch::Contains("knoblink-nano"));  // the bridge's own ports are not listed

  ctl->send("B0 05 2A");        // CC 5 = 42
  ctl->send("B0 07 40");        // 14-bit CC 7: MSB 64 ...
  ctl->send("B0 27 05");        // ... LSB 5 = 8197
  ctl->send("B0 10 7E");        // twos: -2
  ctl->send("B0 11 43");        // offset: +3
  ctl->send("B0 12 44");        // sign: -4
  ctl->send("9F 24 64");        // note 36 on channel 16, velocity 100
  ctl->send("9F 24 00");        // ... off (velocity 0)
  ctl->send("E1 7F 7F");        // pitch bend channel 2: 16383
  ctl->send("F0 42 40 00 F7");  // SysEx: skipped
  ctl->send("B0 05 2B");        // after it, still decoding
  REQUIRE(log_has(mon, "nano.cc1_5 abs 43"));
  const auto log = mon.log();
  CHECK_THAT(log, Catch::Contains("# nano.cc1_5 is abs 0..127") && Catch::Contains("nano.cc1_5 abs 42"));
  CHECK_THAT(log, Catch::Contains("# nano.cc1_7 is abs 0..16383") && Catch::Contains("nano.cc1_7 abs 8192\n") &&
                      Catch::Contains("nano.cc1_7 abs 8197\n"));
  CHECK_THAT(log, Catch::Contains("# nano.cc1_16 is rel") && Catch::Contains("nano.cc1_16 rel -2"));
  CHECK_THAT(log, Catch::Contains("nano.cc1_17 rel 3") && Catch::Contains("nano.cc1_18 rel -4"));
  CHECK_THAT(log, Catch::Contains("nano.vel16_36 abs 100\n# nano.note16_36 is btn\nnano.note16_36 btn 1\n"
                                  "nano.vel16_36 abs 0\nnano.note16_36 btn 0\n"));
  CHECK_THAT(log, Catch::Contains("# nano.pb2 is abs 0..16383") && Catch::Contains("nano.pb2 abs 16383"));

  ctl->quit();  // the port vanishes
  REQUIRE(log_has(mon, "lost MIDI input \"testctl:ctl out\" (the port vanished)"));
  REQUIRE(log_has(mon, "# nano disconnected"));
  ctl = std::make_unique<Controller>(dir, "testctl", "ctl2");
  REQUIRE(ctl->ready());
  REQUIRE(wait_until([&] { return count(mon.log(), "# nano connected") == 2; }, 10s));
  ctl->send("B0 05 10");
  REQUIRE(log_has(mon, "nano.cc1_5 abs 16"));
  CHECK_THAT(mon.log(), Catch::Contains("# nano.cc1_5 is abs 0..127"));  // described again after the reopen
  mon.signal(SIGINT);
  CHECK(mon.wait(5s) == std::optional<int>(0));
}

namespace {
/// Sink calls from MidiSource's threads, under a lock.
class LockedRecorder final : public EventSink {
 public:
  void on_event(const ControlEvent&) override {}
  void on_notice(std::uint16_t, Severity, std::string_view text) override { add(std::string(text)); }
  void on_connection(std::uint16_t, bool up) override { add(up ? "connected" : "disconnected"); }
  void on_control(std::uint16_t, const ControlInfo&) override {}
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 private:
  void add(const std::string& line) {
    std::lock_guard lock(mutex_);
    text_ += line + "\n";
  }
  std::mutex mutex_;
  std::string text_;
};
}  // namespace

TEST_CASE("MIDI through JACK: feedback leaves on the controller's input port") {
  TempDir dir;
  JackServer jack(dir);
  REQUIRE(jack.ready());
  Controller ctl(dir, "testfb", "ctl");
  REQUIRE(ctl.ready());
  MidiConfig config;
  config.port = "testfb";
  config.api = "jack";
  config.fourteen_bit = {"cc1_7"};
  LockedRecorder rec;
  midi::MidiSourceOptions options;
  options.label = "fb";
  midi::MidiSource source(0, config, rec, nullptr, options);
  CHECK_THAT(source.write_output(*Name::from("cc1_8"), 1).error, Catch::Contains("not connected"));
  source.start();
  INFO(rec.text());
  REQUIRE(wait_until([&] { return rec.text().find("connected") != std::string::npos; }, 10s));
  CHECK_THAT(rec.text(), Catch::Contains("and output \"testfb"));
  CHECK(source.write_output(*Name::from("cc2_8"), 100).ok());
  CHECK(source.write_output(*Name::from("cc1_7"), 8197).ok());
  CHECK(source.write_output(*Name::from("note1_36"), 1).ok());
  CHECK(source.write_output(*Name::from("note1_36"), 0).ok());
  CHECK(source.write_output(*Name::from("pb1"), 16383).ok());
  CHECK_THAT(source.write_output(*Name::from("vel1_36"), 1).error, Catch::Contains("input only"));
  CHECK_THAT(source.write_output(*Name::from("k1"), 1).error, Catch::Contains("not a MIDI control"));
  INFO(ctl.log());
  REQUIRE(wait_until([&] { return ctl.log().find("recv E0 7F 7F") != std::string::npos; }, 10s));
  CHECK_THAT(ctl.log(), Catch::Contains("recv B1 08 64\nrecv B0 07 40\nrecv B0 27 05\nrecv 90 24 7F\nrecv 80 24 00\n"));
  CHECK(source.describe().state == "connected");
  source.stop();
}

TEST_CASE("MIDI flood through JACK: the newest value wins, every press and step is kept, memory stays put") {
  TempDir dir;
  JackServer jack(dir);
  REQUIRE(jack.ready());
  Controller ctl(dir, "flood", "ctl");
  REQUIRE(ctl.ready());
  Listener blender(0, 4096);  // a small window: the bridge's writes block as soon as Blender stops reading
  const std::string x = R"(bpy.data.objects["Cube"].location[0])";
  const std::string frame = "context.scene.frame_current", key = "context.active_object.location";
  const auto cfg = dir.write("flood.yaml", "blender: {host: 127.0.0.1, port: " + std::to_string(blender.port()) +
                                               "}\ndevices:\n  nano: {midi: {port: \"flood:ctl out\", api: jack}}\n"
                                               "mappings:\n  - control: nano.cc1_5\n    set: '" + x +
                                               "'\n    to: [0, 127]\n"
                                               "  - control: nano.cc1_16\n    add: " + frame +
                                               "\n    encoding: twos\n"
                                               "  - control: nano.note1_36\n    press: {keyframe: " + key + "}\n");
  Process bridge({kBin, "run", "--config", cfg}, dir.file("bridge.log"));
  auto conn = accept_bridge(blender, 15s);
  INFO(bridge.log());
  REQUIRE(conn);
  REQUIRE(log_has(bridge, "opened MIDI input \"flood:ctl out\""));
  Received got;
  ctl.send("B0 05 01");
  REQUIRE(read_until(*conn, got, [&](const Received& r) { return r.sets.count(x) && r.sets.at(x).back() == 1; }, 10s));
  const auto before = memory_of(bridge.pid());

  // The flood, while Blender reads nothing.
  ctl.send("flood 3 10000");
  INFO(ctl.log());
  REQUIRE(wait_until([&] { return ctl.log().find("flooded") != std::string::npos; }, 30s));
  const long cc = 30001, presses = 600, steps = 600, sysex = 60, program = 60;
  REQUIRE_THAT(ctl.log(), Catch::Contains("flooded cc=30001 presses=600 steps=600 sysex=60 program=60"));
  // Every message decoded, SysEx and program changes skipped and counted (SIGUSR1).
  const std::string counted = "messages=" + std::to_string(1 + cc + 2 * presses + steps) + " sysex=" +
                              std::to_string(sysex) + " skipped=" + std::to_string(program);
  const bool told = signal_until(bridge, SIGUSR1, "device nano: midi flood:ctl out, connected, " + counted, 15s);
  INFO(bridge.log());
  REQUIRE(told);
  const auto after = memory_of(bridge.pid());

  // Blender reads again: the newest value, every press, every step.
  const bool all = read_until(
      *conn, got,
      [&](const Received& r) {
        return r.sets.at(x).back() == 77 && r.discrete.count("keyframe " + key) &&
               r.discrete.at("keyframe " + key) == presses && r.added.count(frame) && r.added.at(frame) == steps;
      },
      30s);
  UNSCOPED_INFO("lines " << got.lines << ", sets " << got.sets[x].size() << ", presses "
                         << got.discrete["keyframe " + key] << ", steps " << got.added[frame]);
  REQUIRE(all);
  read_until(*conn, got, [](const Received&) { return false; }, 500ms);  // nothing more comes: no press twice
  CHECK(got.discrete.at("keyframe " + key) == presses);
  CHECK(got.added.at(frame) == steps);
  CHECK(got.sets.at(x).back() == 77);
  const auto messages = cc + 2 * presses + steps + sysex + program;
  std::printf("midi flood: %ld messages in 3 s -> %zu lines to Blender (%zu sets of the CC); bridge VmRSS %ld -> %ld "
              "KiB, VmHWM %ld -> %ld KiB\n",
              messages, got.lines, got.sets.at(x).size(), before.rss, after.rss, before.hwm, after.hwm);
  CHECK(got.lines < static_cast<std::size_t>(messages) / 10);  // coalesced, not a backlog
  CHECK(after.rss - before.rss < 8 * 1024);  // generous
  CHECK(after.hwm - before.hwm < 8 * 1024);
  bridge.signal(SIGTERM);
  CHECK(bridge.wait(10s) == std::optional<int>(0));
}
