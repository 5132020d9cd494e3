// The emulated knob box (the real firmware in knoblink-sim) behind a pty link, the real
// knoblink binary reading it, and a socket playing Blender: what the replug test
// (tests/bridge/test_pty_replug.cpp) and bench/replug_bench.cpp share. Needs
// KNOBLINK_SIM_EXE, KNOBLINK_FIRMWARE_ELF and KNOBLINK_BINARY_DIR.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "sim_harness.hpp"

namespace kltest {

using knoblink::test::SimProcess;

class ReplugRig {
 public:
  using Clock = std::chrono::steady_clock;

  /// k1 and k2 are set (and l1, l2 follow context.scene.use_gravity and .lamp) by this mapping.
  static std::string mapping(std::uint16_t port, const std::string& link) {
    return "blender: {host: 127.0.0.1, port: " + std::to_string(port) + "}\n"
           "devices:\n  box:\n    serial: {port: " + link + "}\n"
           "mappings:\n"
           "  - control: box.k1\n    set: context.scene.k1\n    to: [0, 1023]\n"
           "  - control: box.k2\n    set: context.scene.k2\n    to: [0, 1023]\n"
           "  - control: box.l1\n    watch: context.scene.use_gravity\n"
           "  - control: box.l2\n    watch: context.scene.lamp\n";
  }

  /// Starts the board with its knobs at k1, k2, then the bridge (-v), accepts its link
  /// and reads its two watches.
  ReplugRig(int k1, int k2)
      : link_(dir_.file("knobbox")),
        sim_({"--link", link_, "--uid", "00c0ffee", KNOBLINK_FIRMWARE_ELF}) {
    sim_.send("knob 1 " + std::to_string(k1));
    sim_.send("knob 2 " + std::to_string(k2));
    sim_.sync();
    const auto cfg = dir_.write("map.yaml", mapping(blender_.port(), link_));
    bridge_ = std::make_unique<Process>(
        std::vector<std::string>{KNOBLINK_BINARY_DIR "/bridge/knoblink", "run", "-v", "--config", cfg},
        dir_.file("bridge.log"));
    conn_ = blender_.accept(15s);
    if (!conn_ || !conn_->read_line(10s)) throw std::runtime_error("the bridge did not connect:\n" + bridge_->log());
    conn_->send(R"({"hello":1,"server":"knoblink-addon/test","blender":"3.4.1"})" "\n");
    for (int i = 0; i < 2; ++i)
      if (!conn_->read_line(10s)) throw std::runtime_error("no watch from the bridge:\n" + bridge_->log());
  }

  SimProcess& sim() { return sim_; }
  Conn& blender() { return *conn_; }
  Process& bridge() { return *bridge_; }
  const std::string& link() const { return link_; }

  /// How often text is in the bridge's log.
  int count(const std::string& text) const {
    const auto log = bridge_->log();
    int n = 0;
    for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  }
  /// Waits until the board has described itself to the bridge n times in all.
  bool described(int n, Ms timeout) const {
    return wait_until([&] { return count("box: described 14 controls") >= n; }, timeout);
  }
  /// Blender reports a watched value (feedback).
  void feedback(const std::string& path, bool value) {
    conn_->send(R"({"ev":"value","path":")" + path + R"(","value":)" + (value ? "true" : "false") + "}\n");
  }
  /// Waits for the sim to print line (e.g. "led 1 1"); the lines before it are kept in seen().
  bool sim_line(const std::string& line, Ms timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      const auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now());
      const auto l = sim_.line(left);
      if (l.empty()) continue;
      seen_.push_back(l);
      if (l == line) return true;
    }
    return false;
  }
  std::vector<std::string>& seen() { return seen_; }

  /// Pulls the cable and waits until the bridge has noticed; then moves happen while away.
  void unplug() {
    const int lost = count("lost " + link_);
    sim_.send("unplug");
    if (!wait_until([&] { return count("lost " + link_) > lost; }, 10s))
      throw std::runtime_error("the bridge did not notice the unplug:\n" + bridge_->log());
  }
  /// Plugs it back; returns when the link is there again (the sim prints the new pty
  /// right after making the link).
  Clock::time_point replug() {
    sim_.send("replug");
    while (sim_.line(10s).rfind("pty ", 0) != 0) {
    }
    return Clock::now();
  }

  /// The bridge's log lines since its n-th line holding marker, for the test output.
  std::string log_since(const std::string& marker, int n) const {
    const auto log = bridge_->log();
    std::size_t at = 0;
    for (int i = 0; i < n && at != std::string::npos; ++i) at = log.find(marker, i ? at + 1 : 0);
    if (at == std::string::npos) return {};
    at = log.rfind('\n', at);
    return log.substr(at == std::string::npos ? 0 : at + 1);
  }

 private:
  TempDir dir_;
  Listener blender_;
  std::string link_;
  SimProcess sim_;
  std::unique_ptr<Process> bridge_;
  std::unique_ptr<Conn> conn_;
  std::vector<std::string> seen_;
};

inline double ms_between(ReplugRig::Clock::time_point a, ReplugRig::Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace kltest
