// Real parts shared by the e2e tests: Blender with the add-on (scripts/blender-addon) and a
// second Contract 2 client that watches scene values.
#pragma once

#include <catch2/catch.hpp>

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "harness.hpp"

namespace kltest {

inline const std::string kSrc = KNOBLINK_SOURCE_DIR;  // NOLINT

/// Blender with the add-on, started by scripts/blender-addon; port 0 = any.
struct Blender {
  std::unique_ptr<Process> proc;
  std::uint16_t port = 0;
  /// scene: a .blend to open (empty: the factory startup scene).
  /// extra: more launcher arguments (--gui, --python FILE).
  Blender(const TempDir& dir, std::uint16_t want, const std::string& log, const std::string& scene = {},
          const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{"/bin/sh", "-c", "p=$1; shift; exec \"$0\" --port \"$p\" --no-stdin \"$@\"",
                                  kSrc + "/scripts/blender-addon", std::to_string(want)};
    if (!scene.empty()) argv.insert(argv.end(), {"--scene", scene});
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc = std::make_unique<Process>(argv, dir.file(log));
    std::smatch m;
    const std::regex re("knoblink-addon listening on 127\\.0\\.0\\.1:([0-9]+)");
    std::string text;
    const bool up = wait_until(
        [&] {
          text = proc->log();
          return std::regex_search(text, m, re) || !proc->running();
        },
        90s);
    INFO(text);
    REQUIRE(up);
    REQUIRE(proc->running());
    port = static_cast<std::uint16_t>(std::stoi(m[1].str()));
  }
  void quit() {
    proc->signal(SIGTERM);
    INFO(proc->log());
    REQUIRE(proc->wait(15s).has_value());
  }
};

/// A second Contract 2 client that watches scene values.
class Observer {
 public:
  void connect(std::uint16_t port, const std::vector<std::string>& paths) {
    conn_ = connect_local(port, 30s);
    REQUIRE(conn_);
    // The token every client needs, from the add-on's discovery file (docs/protocol.md).
    std::ifstream f(std::string(std::getenv("XDG_RUNTIME_DIR")) + "/knoblink/blender-" + std::to_string(port) + ".json");
    REQUIRE(f.good());
    const auto token = nlohmann::json::parse(f)["token"].get<std::string>();
    conn_->send(nlohmann::json{{"hello", 1}, {"client", "e2e-observer/1"}, {"token", token}}.dump() + "\n");
    auto hello = read();
    REQUIRE(hello.contains("hello"));
    values_.clear();
    for (const auto& p : paths) REQUIRE(call({{"op", "watch"}, {"path", p}}).value("ok", false));
  }
  /// Sends cmd with a fresh id; returns the answer (values seen meanwhile are kept).
  nlohmann::json call(nlohmann::json cmd) {
    const int id = next_id_++;
    cmd["id"] = id;
    conn_->send(cmd.dump() + "\n");
    for (;;) {
      auto j = read();
      if (j.value("id", -1) == id) return j;
    }
  }
  /// Reads until pred(value of path) holds; false after timeout.
  bool wait_for(const std::string& path, const std::function<bool(const nlohmann::json&)>& pred, Ms timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!(values_.count(path) && pred(values_[path]))) {
      const auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      auto line = conn_->read_line(left);
      if (line) take(nlohmann::json::parse(*line));
    }
    return true;
  }
  /// Every value of path seen so far, in order.
  const std::vector<nlohmann::json>& history(const std::string& path) { return history_[path]; }
  nlohmann::json value(const std::string& path) { return values_[path]; }

 private:
  nlohmann::json read() {
    auto line = conn_->read_line(30s);
    REQUIRE(line);
    auto j = nlohmann::json::parse(*line);
    take(j);
    return j;
  }
  void take(const nlohmann::json& j) {
    if (j.value("ev", "") != "value") return;
    const auto p = j["path"].get<std::string>();
    values_[p] = j["value"];
    history_[p].push_back(j["value"]);
  }
  std::unique_ptr<Conn> conn_;
  std::map<std::string, nlohmann::json> values_;
  std::map<std::string, std::vector<nlohmann::json>> history_;
  int next_id_ = 1;
};

}  // namespace kltest
