#include "bridge/link_codec.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <algorithm>
#include <cmath>

#include "bridge/data_path.hpp"

namespace knoblink::codec {

namespace {

void append_number(std::string& out, double v) {
  char buf[32];
  if (!std::isfinite(v)) v = 0;  // JSON has no inf/nan; the mapping never makes them
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

std::optional<double> as_number(const nlohmann::json& v) {
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (v.is_number()) return v.get<double>();
  if (v.is_array()) {
    for (const auto& x : v)
      if (as_number(x).value_or(0) != 0) return 1;
    return 0;
  }
  return std::nullopt;
}

std::string text_of(const nlohmann::json& j, const char* key, const char* fallback) {
  const auto it = j.find(key);
  if (it == j.end()) return fallback;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

nlohmann::json summary_json(const LatencySummary& s) {
  return {{"n", s.n}, {"p50_us", s.p50_us}, {"p99_us", s.p99_us}, {"max_us", s.max_us}};
}

LatencySummary summary_of(const nlohmann::json& j) {
  LatencySummary s;
  if (!j.is_object()) return s;
  const auto get = [&](const char* key) -> std::int64_t {
    const auto it = j.find(key);
    return it != j.end() && it->is_number() ? static_cast<std::int64_t>(it->get<double>()) : 0;
  };
  s.n = static_cast<std::uint64_t>(std::max<std::int64_t>(0, get("n")));
  s.p50_us = get("p50_us");
  s.p99_us = get("p99_us");
  s.max_us = get("max_us");
  return s;
}

const char* action_name(Action::Kind k) {
  switch (k) {
    case Action::Kind::call: return "call";
    case Action::Kind::keyframe: return "keyframe";
    case Action::Kind::toggle: return "toggle";
    case Action::Kind::set: return "set";
    case Action::Kind::cycle: return "cycle";
    case Action::Kind::none: break;
  }
  return "none";
}

/// ev learn / forget: the path checked against the grammar, the kind and range against the contract.
void decode_learn(const nlohmann::json& j, Answer& a) {
  const bool learn = j["ev"] == "learn";
  a.kind = learn ? Answer::Kind::learn : Answer::Kind::forget;
  const auto path = j.find("path");
  if (path == j.end() || !path->is_string()) {
    a.message = "the " + std::string(learn ? "learn" : "forget") + " event has no \"path\" string";
    return;
  }
  a.path = a.learn.path = path->get<std::string>();
  if (const auto r = parse_data_path(a.path); !r.path) {
    a.message = "'" + a.path + "' is not a data path: " + r.error;
    return;
  }
  if (!learn) return;
  const auto kind = j.find("kind");
  const auto k = kind != j.end() && kind->is_string() ? parse_learn_kind(kind->get<std::string>()) : std::nullopt;
  if (!k) {
    a.message = "learn \"kind\" must be FLOAT, INT, BOOLEAN or ENUM";
    return;
  }
  a.learn.kind = *k;
  const auto lo = j.find("min"), hi = j.find("max");
  if (lo == j.end() || hi == j.end() || !lo->is_number() || !hi->is_number() ||
      !std::isfinite(lo->get<double>()) || !std::isfinite(hi->get<double>())) {
    a.message = "learn needs \"min\" and \"max\" numbers (the property's soft range)";
    return;
  }
  a.learn.lo = lo->get<double>();
  a.learn.hi = hi->get<double>();
}

}  // namespace

void append_status(std::string& out, const Status& s) {
  nlohmann::json devices = nlohmann::json::array(), layers = nlohmann::json::array(),
                 errors = nlohmann::json::array();
  for (const auto& d : s.devices)
    devices.push_back({{"name", d.name}, {"kind", d.kind}, {"state", d.state}, {"attached", d.attached},
                       {"detail", d.detail}});
  for (const auto& l : s.layers) layers.push_back({{"name", l.name}, {"on", l.on}});
  for (const auto& e : s.errors) errors.push_back({{"text", e.text}, {"count", e.count}, {"at", e.at}});
  nlohmann::json j = {{"op", "status"},
                      {"file", s.file},
                      {"reloads", s.reloads},
                      {"config_errors", s.config_errors},
                      {"devices", devices},
                      {"layers", layers},
                      {"errors", errors}};
  if (s.record) j["record"] = *s.record;
  auto stage = summary_json(s.read_to_sent.window);
  stage["window_s"] = s.read_to_sent.window_s;
  stage["total"] = summary_json(s.read_to_sent.total);
  j["latency"] = {{"read_to_sent", stage}};
  // Text from files and devices may hold any bytes: never fail on invalid UTF-8.
  out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += '\n';
}

void append_mappings(std::string& out, const Config& config) {
  nlohmann::json list = nlohmann::json::array();
  const auto control = [&](const ControlRef& c) { return config.control_name(c); };
  for (const auto& m : config.mappings) {
    nlohmann::json base = {{"control", control(m.control)}, {"line", m.unsaved.empty() ? m.line : 0}};
    if (!m.unsaved.empty()) base["unsaved"] = m.unsaved;  // live, not in the file: why
    if (m.layer >= 0) base["layer"] = config.layers[static_cast<std::size_t>(m.layer)].name;
    if (m.led) base["led"] = control(*m.led);
    const auto add = [&](const char* does, const std::string& target, const char* on) {
      auto e = base;
      e["does"] = does;
      e["target"] = target;
      if (on) e["on"] = on;
      list.push_back(std::move(e));
    };
    if (m.as<SetMapping>()) add("set", m.path(), nullptr);
    else if (m.as<AddMapping>()) add("add", m.path(), nullptr);
    else if (m.as<RateMapping>()) add("rate", m.path(), nullptr);
    else if (const auto* b = m.as<ButtonMapping>()) {
      for (const auto& [a, on] : {std::pair{&b->press, "press"}, std::pair{&b->release, "release"},
                                  std::pair{&b->long_press, "long"}})
        if (a->kind != Action::Kind::none) add(action_name(a->kind), a->target, on);
    } else if (m.as<WatchMapping>()) {
      add("watch", m.watch_path, nullptr);
    }
  }
  nlohmann::json j = {{"op", "mappings"}, {"file", config.file}, {"mappings", list}};
  out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += '\n';
}

void append_learn_answer(std::string& out, const LearnAnswer& a) {
  nlohmann::json j = {{"op", a.op}, {"path", a.path}};
  const bool done = a.op == "learned" || a.op == "forgot";
  if (!a.control.empty()) j["control"] = a.control;
  if (!a.mapping.empty()) j["mapping"] = a.mapping;
  if (a.op == "forgot") j["count"] = a.count;
  if (!a.file.empty()) j["file"] = a.file;
  if (a.line > 0) j["line"] = a.line;
  if (a.op == "forgot" && a.reason.empty()) j["lines"] = a.lines;
  if (!a.reason.empty()) j[done ? "error" : "reason"] = a.reason;
  out += j.dump();
  out += '\n';
}

void append_hello(std::string& out, std::string_view client, std::string_view token, std::string_view session) {
  nlohmann::json hello = {{"hello", kProtocol}, {"client", client}};
  if (!token.empty()) hello["token"] = token;
  if (!session.empty()) hello["session"] = session;
  out += hello.dump();
  out += '\n';
}

void append_command(std::string& out, const Command& c, const TargetTable& targets, std::uint64_t id) {
  out += '{';
  if (id != 0) {
    out += "\"id\":";
    append_uint(out, id);
    out += ',';
  }
  out += "\"op\":\"";
  out += to_string(c.op);
  if (c.op == Op::record) {
    out += c.value != 0 ? "\",\"on\":true}\n" : "\",\"on\":false}\n";
    return;
  }
  out += c.op == Op::call ? "\",\"operator\":" : "\",\"path\":";
  out += targets.json(c.target);
  if (c.op == Op::set || c.op == Op::add) {
    out += ",\"value\":";
    if (c.op == Op::set && c.arg != kNoArg) out += targets.json(c.arg);  // an enum name
    else append_number(out, c.value);
  } else if (c.op == Op::call && c.arg != kNoArg) {
    out += ",\"args\":";
    out += targets.json(c.arg);
  }
  out += "}\n";
}

Answer decode_answer(std::string_view line) {
  Answer a;
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    a.kind = Answer::Kind::malformed;
    a.message = "not a JSON object: " + std::string(line.substr(0, 200));
    return a;
  }
  if (j.contains("hello")) {
    a.kind = Answer::Kind::hello;
    a.server = text_of(j, "server", "?");
    a.blender = text_of(j, "blender", "?");
    if (const auto f = j.find("features"); f != j.end() && f->is_array())
      for (const auto& x : *f)
        if (x.is_string()) a.features.push_back(x.get<std::string>());
    return a;
  }
  if (const auto ev = j.find("ev"); ev != j.end()) {
    const auto path = j.find("path");
    if (*ev == "value" && path != j.end() && path->is_string()) {
      a.kind = Answer::Kind::value;
      a.path = path->get<std::string>();
      a.value = as_number(j.value("value", nlohmann::json()));
    } else if (*ev == "latency" && j.contains("stage") && j["stage"].is_string()) {
      a.kind = Answer::Kind::latency;
      a.stage = j["stage"].get<std::string>();
      a.figures.window = summary_of(j);
      a.figures.total = summary_of(j.value("total", nlohmann::json()));
      if (const auto w = j.find("window_s"); w != j.end() && w->is_number()) a.figures.window_s = w->get<double>();
    } else if (*ev == "learn" || *ev == "forget") {
      decode_learn(j, a);
    } else if (*ev == "record") {
      const auto on = j.find("on");
      if (on == j.end() || !on->is_boolean()) {
        a.kind = Answer::Kind::malformed;
        a.message = "a record event without \"on\": true or false: " + std::string(line.substr(0, 200));
      } else {
        a.kind = Answer::Kind::record;
        a.value = on->get<bool>() ? 1 : 0;
      }
    }
    return a;
  }
  if (const auto id = j.find("id"); id != j.end() && id->is_number_unsigned()) {
    a.has_id = true;
    a.id = id->get<std::uint64_t>();
  }
  if (j.contains("error")) {
    a.kind = Answer::Kind::error;
    a.code = text_of(j, "error", "");
    a.message = text_of(j, "message", "");
  } else if (a.has_id) {
    a.kind = Answer::Kind::ok;
  }
  return a;
}

bool LineReader::feed(std::string_view data, const std::function<bool(std::string_view)>& on_line,
                      const std::function<void(std::size_t)>& on_oversize) {
  while (!data.empty()) {
    const auto nl = data.find('\n');
    const auto chunk = data.substr(0, nl);
    if (!discarding_) {
      if (line_.size() + chunk.size() > max_) {
        on_oversize(line_.size() + chunk.size());
        discarding_ = true;
        line_.clear();
      } else {
        line_.append(chunk);
      }
    }
    if (nl == std::string_view::npos) break;
    const bool deliver = !discarding_;
    discarding_ = false;
    if (deliver) {
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      const bool go_on = line_.empty() || on_line(line_);
      line_.clear();
      if (!go_on) return false;
    }
    data.remove_prefix(nl + 1);
  }
  return true;
}

}  // namespace knoblink::codec
