// The real knobbox firmware (build/firmware/knobbox/knobbox.elf) running in
// knoblink-sim, read through its pty exactly as the bridge reads a board.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "sim_harness.hpp"

using namespace knoblink::test;
using std::chrono::milliseconds;

namespace {

const std::vector<std::string> kDescription = {
    "@ctl k1 abs 0 1023", "@ctl k2 abs 0 1023", "@ctl k3 abs 0 1023", "@ctl k4 abs 0 1023",
    "@ctl e1 rel",        "@ctl e2 rel",        "@ctl b1 btn 0 1",    "@ctl b2 btn 0 1",
    "@ctl b3 btn 0 1",    "@ctl b4 btn 0 1",    "@ctl b5 btn 0 1",    "@ctl b6 btn 0 1",
    "@ctl l1 out 0 1",    "@ctl l2 out 0 1",    "@end"};

std::vector<std::string> hello_and_description(const std::string& uid) {
  std::vector<std::string> v = {"@knoblink 1 knobbox uid=" + uid};
  v.insert(v.end(), kDescription.begin(), kDescription.end());
  return v;
}

/// The snapshot after @end (Contract 1 v1.1): every pot, then every button.
std::vector<std::string> snapshot(int k1, int k2, int k3, int k4, const std::string& pressed = "") {
  std::vector<std::string> v = {"k1 " + std::to_string(k1), "k2 " + std::to_string(k2), "k3 " + std::to_string(k3),
                                "k4 " + std::to_string(k4)};
  for (char b = '1'; b <= '6'; ++b) v.push_back(std::string("b") + b + (pressed.find(b) != std::string::npos ? " 1" : " 0"));
  return v;
}

/// The next n lines (fewer on timeout).
std::vector<std::string> next_lines(Port& port, std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    auto l = port.line(milliseconds(3000));
    if (l.empty()) break;
    out.push_back(l);
  }
  return out;
}

/// Values of the "<name> <int>" lines for one control.
std::vector<int> values_of(const std::vector<std::string>& lines, const std::string& name) {
  std::vector<int> out;
  for (const auto& l : lines)
    if (l.rfind(name + " ", 0) == 0) out.push_back(std::atoi(l.c_str() + name.size() + 1));
  return out;
}

/// An emulated box whose boot description has been read: ready for input.
struct BootedBox {
  explicit BootedBox(std::vector<std::string> args = {}) : sim(with_firmware(std::move(args))), port(sim.pty()) {
    boot = port.lines_until("@end", milliseconds(3000));
    boot_snapshot = next_lines(port, 10);
  }
  static std::vector<std::string> with_firmware(std::vector<std::string> args) {
    args.push_back(KNOBLINK_FIRMWARE_ELF);
    return args;
  }
  SimProcess sim;
  Port port;
  std::vector<std::string> boot;  ///< the hello and description lines
  std::vector<std::string> boot_snapshot;  ///< the 10 lines after @end
};

int sum(const std::vector<int>& v) {
  int s = 0;
  for (int x : v) s += x;
  return s;
}

}  // namespace

TEST_CASE("boot: hello with the EEPROM uid, the description, then the snapshot") {
  BootedBox box({"--uid", "c0ffee12"});
  CHECK(box.boot == hello_and_description("c0ffee12"));
  CHECK(box.boot_snapshot == snapshot(0, 0, 0, 0));
  CHECK(box.port.lines_for(milliseconds(300)).empty());  // at rest: nothing more
}

TEST_CASE("'?' describes the box again, with where its controls are now") {
  BootedBox box({"--uid", "1234abcd"});
  auto& port = box.port;
  box.sim.send("knob 2 300");
  box.sim.send("press 4");
  box.sim.sync();
  CHECK(port.lines_for(milliseconds(300)) == std::vector<std::string>{"k2 300", "b4 1"});
  port.write_line("?");
  CHECK(port.lines_until("@end", milliseconds(3000)) == hello_and_description("1234abcd"));
  CHECK(next_lines(port, 10) == snapshot(0, 300, 0, 0, "4"));
  CHECK(port.lines_for(milliseconds(300)).empty());
}

TEST_CASE("a knob turned while unplugged: the snapshot at the next boot has it") {
  BootedBox box({"--uid", "1234abcd"});
  box.sim.send("knob 3 640");
  CHECK(box.port.line(milliseconds(1000)) == "k3 640");
  box.sim.send("unplug");
  box.sim.send("knob 1 900");  // while away
  box.sim.send("replug");
  const std::string pty = box.sim.expect_prefix("pty ", milliseconds(3000));
  Port port(pty);
  CHECK(port.lines_until("@end", milliseconds(3000)) == hello_and_description("1234abcd"));
  CHECK(next_lines(port, 10) == snapshot(900, 0, 640, 0));
}

TEST_CASE("a knob sweep gives rising abs values, and a noisy resting knob sends nothing") {
  BootedBox box({"--noise", "2"});
  auto& sim = box.sim;
  auto& port = box.port;
  port.lines_for(milliseconds(200));  // a knob resting at 0 may settle once

  for (int v = 0; v <= 1023; v += 31) {
    sim.send("knob 2 " + std::to_string(v));
    std::this_thread::sleep_for(milliseconds(10));
  }
  sim.send("knob 2 1023");
  const auto sweep = port.lines_for(milliseconds(300));
  const auto k2 = values_of(sweep, "k2");
  INFO("sweep lines: " << sweep.size());
  REQUIRE(k2.size() >= 20);
  for (std::size_t i = 1; i < k2.size(); ++i) CHECK(k2[i] > k2[i - 1]);
  CHECK(k2.back() == 1023);
  CHECK(values_of(sweep, "k1").empty());

  sim.send("knob 2 600");
  const auto back = values_of(port.lines_for(milliseconds(300)), "k2");
  REQUIRE(!back.empty());
  CHECK(std::abs(back.back() - 600) <= 2);
  // Resting, with +-2 counts of noise on every conversion: silence.
  CHECK(port.lines_for(milliseconds(1000)).empty());
}

TEST_CASE("an exact knob value arrives exactly (ADC counts and millivolts)") {
  BootedBox box;
  auto& sim = box.sim;
  auto& port = box.port;
  sim.send("knob 4 777");
  CHECK(port.line(milliseconds(1000)) == "k4 777");
  sim.send("knob 3 2500mv");
  CHECK(port.line(milliseconds(1000)) == "k3 511");  // 2500 * 1023 / 5000
}

TEST_CASE("encoder steps give rel deltas with the right sign and count, also when fast") {
  BootedBox box;
  auto& sim = box.sim;
  auto& port = box.port;

  sim.send("enc 1 7");
  sim.send("enc 2 -5");
  sim.sync();
  auto lines = port.lines_for(milliseconds(200));
  CHECK(sum(values_of(lines, "e1")) == 7);
  CHECK(sum(values_of(lines, "e2")) == -5);
  for (int d : values_of(lines, "e1")) CHECK(d > 0);
  for (int d : values_of(lines, "e2")) CHECK(d < 0);

  // One encoder at 20 us per edge (12500 detents/s, far beyond any hand), both ways.
  sim.send("enc 1 300 20");
  sim.send("enc 1 -120 20");
  sim.sync();
  lines = port.lines_for(milliseconds(300));
  CHECK(sum(values_of(lines, "e1")) == 180);
  // Both at once at 60 us per edge (4000 detents/s each). At 30 us per edge on
  // both pin-change vectors at once simavr 1.6 itself crashes (the stack
  // pointer drifts); docs/firmware.md.
  sim.send("enc 1 500 60");
  sim.send("enc 2 -500 60");
  sim.sync();
  lines = port.lines_for(milliseconds(300));
  CHECK(sum(values_of(lines, "e1")) == 500);
  CHECK(sum(values_of(lines, "e2")) == -500);
  CHECK(values_of(lines, "b1").empty());
}

TEST_CASE("buttons: press and release give 1 then 0 once each, through contact bounce") {
  BootedBox box;
  auto& sim = box.sim;
  auto& port = box.port;
  for (int b = 1; b <= 6; ++b) {
    const std::string i = std::to_string(b);
    sim.send("bounce " + i);
    sim.sync();
    std::this_thread::sleep_for(milliseconds(30));
    sim.send("release " + i + " bounce");
    sim.sync();
    CHECK(port.lines_for(milliseconds(100)) == std::vector<std::string>{"b" + i + " 1", "b" + i + " 0"});
  }
  sim.send("press 3");
  CHECK(port.line(milliseconds(1000)) == "b3 1");
  sim.send("release 3");
  CHECK(port.line(milliseconds(1000)) == "b3 0");
}

TEST_CASE("LED lines from the host set the pins; bad lines are answered with a log line") {
  BootedBox box;
  auto& sim = box.sim;
  auto& port = box.port;
  port.write_line("l2 1");
  CHECK(sim.line(milliseconds(1000)) == "led 2 1");
  port.write_line("l1 1");
  CHECK(sim.line(milliseconds(1000)) == "led 1 1");
  port.write_line("l2 0 *4E");  // with the integrity suffix: XOR of "l2 0" is 0x4E
  CHECK(sim.line(milliseconds(1000)) == "led 2 0");
  port.write_line("l1 0 *00");
  CHECK(port.line(milliseconds(1000)) == "# checksum mismatch");
  port.write_line("k1 5");
  CHECK(port.line(milliseconds(1000)) == "# not an output: k1");
  port.write_line("l1 0");
  CHECK(sim.line(milliseconds(1000)) == "led 1 0");
}

TEST_CASE("a button held while the host sets an LED on the same port stays pressed") {
  // l1 and l2 are on port B with b5, b6 and e2: every LED write rewrites the port,
  // which in simavr re-drove the held button's pin high (the press and its release
  // were lost) until the emulator held its input pins as driven from outside.
  BootedBox box;
  auto& sim = box.sim;
  auto& port = box.port;
  for (const char* b : {"5", "6"}) {
    sim.send(std::string("press ") + b);
    sim.sync();
    port.write_line("l1 1");
    CHECK(sim.line(milliseconds(1000)) == "led 1 1");
    port.write_line("l2 1");
    CHECK(sim.line(milliseconds(1000)) == "led 2 1");
    CHECK(port.line(milliseconds(1000)) == std::string("b") + b + " 1");
    port.write_line("l1 0");
    CHECK(sim.line(milliseconds(1000)) == "led 1 0");
    port.write_line("l2 0");
    CHECK(sim.line(milliseconds(1000)) == "led 2 0");
    sim.send(std::string("release ") + b);
    CHECK(port.line(milliseconds(1000)) == std::string("b") + b + " 0");
  }
}

TEST_CASE("a blank EEPROM gets a uid once; it survives a replug") {
  SimProcess sim({"--uid", "blank", KNOBLINK_FIRMWARE_ELF});
  std::string uid;
  {
    Port port(sim.pty());
    const std::string hello = port.line(milliseconds(3000));
    REQUIRE(hello.rfind("@knoblink 1 knobbox uid=", 0) == 0);
    uid = hello.substr(24);
    CHECK(uid.size() == 8);
    CHECK(uid != "ffffffff");
  }
  sim.send("replug");
  sim.expect_prefix("pty ", milliseconds(3000));
  Port port(sim.pty());
  CHECK(port.line(milliseconds(3000)) == "@knoblink 1 knobbox uid=" + uid);
}

TEST_CASE("unplug hangs up the reader; replug brings a new pty behind the same link") {
  const std::string link = std::filesystem::temp_directory_path() / ("knobbox-" + std::to_string(getpid()));
  SimProcess sim({"--link", link, "--uid", "00c0ffee", KNOBLINK_FIRMWARE_ELF});
  CHECK(std::filesystem::read_symlink(link) == sim.pty());
  {
    Port port(link);
    port.lines_until("@end", milliseconds(3000));
    sim.send("unplug");
    pollfd p{port.fd(), POLLIN, 0};
    REQUIRE(poll(&p, 1, 3000) == 1);
    CHECK((p.revents & POLLHUP) != 0);
    CHECK(!std::filesystem::exists(std::filesystem::symlink_status(link)));
  }
  sim.send("replug");
  const std::string pty = sim.expect_prefix("pty ", milliseconds(3000));
  CHECK(std::filesystem::read_symlink(link) == pty);
  Port port(link);
  CHECK(port.lines_until("@end", milliseconds(3000)) == hello_and_description("00c0ffee"));
  CHECK(next_lines(port, 10) == snapshot(0, 0, 0, 0));
  sim.send("enc 1 1");
  CHECK(port.line(milliseconds(1000)) == "e1 1");
}

TEST_CASE("bad commands are reported on stdout and the emulator keeps going") {
  SimProcess sim({KNOBLINK_FIRMWARE_ELF});
  sim.send("knob 9 100");
  CHECK(sim.line(milliseconds(1000)).rfind("error usage: knob I VALUE", 0) == 0);
  sim.send("frobnicate");
  CHECK(sim.line(milliseconds(1000)).rfind("error unknown command 'frobnicate'", 0) == 0);
  Port port(sim.pty());
  CHECK(port.line(milliseconds(3000)).rfind("@knoblink 1 knobbox", 0) == 0);
}
