#include "bridge/link_codec.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
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
    return a;
  }
  if (const auto ev = j.find("ev"); ev != j.end()) {
    const auto path = j.find("path");
    if (*ev == "value" && path != j.end() && path->is_string()) {
      a.kind = Answer::Kind::value;
      a.path = path->get<std::string>();
      a.value = as_number(j.value("value", nlohmann::json()));
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
