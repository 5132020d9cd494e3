#include "fake_blender.hpp"

#include <nlohmann/json.hpp>

namespace kltest {

using nlohmann::json;

std::unique_ptr<Conn> accept_bridge(Listener& l, Ms timeout, std::string* hello) {
  auto c = l.accept(timeout);
  if (!c) return nullptr;
  const auto line = c->read_line(timeout);
  if (hello) *hello = line.value_or("");
  if (!line) return nullptr;
  const auto j = json::parse(*line, nullptr, false);
  if (!j.is_object() || j.value("hello", 0) != 1) return nullptr;
  c->send(R"({"hello":1,"server":"knoblink-addon/test","blender":"3.4.1"})" "\n");
  return c;
}

namespace {
bool take(Conn& c, Received& r, const json& cmd) {
  if (!cmd.is_object() || !cmd.contains("op")) return false;
  const auto op = cmd["op"].get<std::string>();
  if (op == "batch") {
    for (const auto& sub : cmd["ops"])
      if (!take(c, r, sub)) return false;
  } else if (op == "set") {
    r.sets[cmd["path"].get<std::string>()].push_back(cmd["value"].get<double>());
  } else if (op == "add") {
    r.added[cmd["path"].get<std::string>()] += cmd["value"].get<double>();
  } else {
    r.discrete[op + " " + cmd.value("path", cmd.value("operator", ""))]++;
  }
  if (cmd.contains("id")) c.send(json{{"id", cmd["id"]}, {"ok", true}}.dump() + "\n");
  return true;
}
}  // namespace

bool read_until(Conn& c, Received& received, const std::function<bool(const Received&)>& done, Ms timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done(received)) {
    const auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    const auto line = c.read_line(left);
    if (!line) return false;
    ++received.lines;
    if (!take(c, received, json::parse(*line, nullptr, false))) return false;
  }
  return true;
}

}  // namespace kltest
