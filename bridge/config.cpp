#include "bridge/config.hpp"

#include "devices/serial_session.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <initializer_list>
#include <regex>
#include <sstream>

namespace knoblink {

int Config::device_index(std::string_view name) const {
  for (std::size_t i = 0; i < devices.size(); ++i)
    if (devices[i].name == name) return static_cast<int>(i);
  return -1;
}

bool check_data_path(const std::string& p, std::string& why) {
  // bpy.data.<collection>["<name>"] or context.<attr>, then .attr / [int] / ["key"] segments.
  static const std::regex root(R"(^(bpy\.data\.[a-z_]+\["(?:[^"\\]|\\.)*"\]|context\.[a-z_]+))");
  static const std::regex segment(R"(^(\.[A-Za-z][A-Za-z0-9_]*|\[[0-9]+\]|\["(?:[^"\\]|\\.)*"\]))");
  std::smatch m;
  if (!std::regex_search(p, m, root)) {
    why = "a data path starts with bpy.data.<collection>[\"<name>\"] or context.<attribute>, "
          "e.g. bpy.data.objects[\"Cube\"].location[0] (Blender's Copy Full Data Path)";
    return false;
  }
  std::string rest = m.suffix();
  while (!rest.empty()) {
    if (!std::regex_search(rest, m, segment)) {
      why = "cannot read the data path from '" + rest +
            "'; allowed after the root: .attribute (no leading underscore), [index], [\"key\"]";
      return false;
    }
    rest = m.suffix();
  }
  if (p.find("._") != std::string::npos || p.find("__") != std::string::npos) {
    why = "names starting with an underscore are not allowed in a data path";
    return false;
  }
  return true;
}

namespace {


std::string join(std::initializer_list<const char*> words) {
  std::string out;
  for (const char* w : words) {
    if (!out.empty()) out += ", ";
    out += w;
  }
  return out;
}

class Checker {
 public:
  Checker(std::string file, std::vector<std::string>& errors) : file_(std::move(file)), errors_(errors) {}

  void error(const YAML::Node& at, const std::string& what, const std::string& allowed = {}) {
    const auto mark = at.Mark();
    error_at(mark.line, mark.column, what, allowed);
  }
  void error_at(int line0, int col0, const std::string& what, const std::string& allowed = {}) {
    std::ostringstream o;
    o << file_ << ":" << (line0 + 1) << ":" << (col0 + 1) << ": " << what;
    if (!allowed.empty()) o << "; " << allowed;
    errors_.push_back(o.str());
  }

  /// Reports keys of map that are not in allowed; false when map is not a mapping.
  bool keys(const YAML::Node& map, const char* where, std::initializer_list<const char*> allowed) {
    if (!map.IsMap()) {
      error(map, std::string(where) + " must be a mapping (key: value)", "allowed keys: " + join(allowed));
      return false;
    }
    for (const auto& kv : map) {
      const auto key = kv.first.Scalar();
      bool ok = false;
      for (const char* a : allowed) ok = ok || key == a;
      if (!ok) error(kv.first, "unknown key '" + key + "' in " + where, "allowed keys: " + join(allowed));
    }
    return true;
  }

  std::optional<std::string> string(const YAML::Node& n, const char* what) {
    if (!n.IsScalar()) {
      error(n, std::string(what) + " must be a single value, not a list or mapping",
            "quote data paths: '" + std::string("bpy.data.objects[\"Cube\"].location[0]") + "'");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<double> number(const YAML::Node& n, const char* what) {
    if (n.IsScalar()) {
      try {
        std::size_t used = 0;
        const double v = std::stod(n.Scalar(), &used);
        if (used == n.Scalar().size()) return v;
      } catch (const std::exception&) {
      }
    }
    error(n, std::string(what) + " must be a number", "e.g. 1, -0.5, 6.2832");
    return std::nullopt;
  }

  std::optional<std::int64_t> integer(const YAML::Node& n, const char* what, std::int64_t lo, std::int64_t hi) {
    if (n.IsScalar()) {
      try {
        std::size_t used = 0;
        const long long v = std::stoll(n.Scalar(), &used, 10);
        if (used == n.Scalar().size() && v >= lo && v <= hi) return v;
      } catch (const std::exception&) {
      }
    }
    error(n, std::string(what) + " must be a whole number", "from " + std::to_string(lo) + " to " + std::to_string(hi));
    return std::nullopt;
  }

  /// [a, b] of two numbers.
  bool pair(const YAML::Node& n, const char* what, double& a, double& b) {
    if (!n.IsSequence() || n.size() != 2) {
      error(n, std::string(what) + " must be a list of two numbers", "e.g. " + std::string(what) + ": [0, 6.2832]");
      return false;
    }
    const auto x = number(n[0], what);
    const auto y = number(n[1], what);
    if (!x || !y) return false;
    a = *x;
    b = *y;
    return true;
  }

  std::optional<std::string> data_path(const YAML::Node& n, const char* what) {
    auto s = string(n, what);
    if (!s) return std::nullopt;
    std::string why;
    if (!check_data_path(*s, why)) {
      error(n, std::string(what) + " '" + *s + "' is not a data path", why);
      return std::nullopt;
    }
    return s;
  }

  std::optional<ControlRef> control(const YAML::Node& n, const Config& cfg, const char* what) {
    const auto s = string(n, what);
    if (!s) return std::nullopt;
    const auto dot = s->find('.');
    std::string names;
    for (const auto& d : cfg.devices) names += (names.empty() ? "" : ", ") + d.name;
    if (dot == std::string::npos) {
      error(n, std::string(what) + " '" + *s + "' must be <device>.<control>", "e.g. box.k1; devices: " + names);
      return std::nullopt;
    }
    const int dev = cfg.device_index(s->substr(0, dot));
    if (dev < 0) {
      error(n, "unknown device '" + s->substr(0, dot) + "' in " + what,
            names.empty() ? "declare it under devices:" : "devices: " + names);
      return std::nullopt;
    }
    const auto name = Name::from(s->substr(dot + 1));
    if (!name) {
      error(n, "control name '" + s->substr(dot + 1) + "' is not valid", "names match [a-z][a-z0-9_]{0,15}");
      return std::nullopt;
    }
    return ControlRef{static_cast<std::uint16_t>(dev), *name};
  }

  bool usb_match(const YAML::Node& n, std::string& out) {
    static const std::regex re("^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}(:.+)?$");
    const auto s = string(n, "match");
    if (!s) return false;
    if (!std::regex_match(*s, re)) {
      error(n, "match '" + *s + "' is not VID:PID[:serial]", "four hex digits each, e.g. \"2341:0043\" (see `knoblink list`)");
      return false;
    }
    out = *s;
    return true;
  }

  std::optional<Action> action(const YAML::Node& n, const char* what) {
    if (!keys(n, what, {"call", "keyframe", "toggle", "set", "value"})) return std::nullopt;
    Action a;
    int count = 0;
    if (n["call"]) {
      ++count;
      static const std::regex op("^[a-z_]+\\.[a-z_0-9]+$");
      const auto s = string(n["call"], "call");
      if (!s) return std::nullopt;
      if (!std::regex_match(*s, op)) {
        error(n["call"], "operator '" + *s + "' is not an operator id", "e.g. screen.animation_play");
        return std::nullopt;
      }
      a = {Action::Kind::call, *s, 0};
    }
    for (auto [key, kind] : {std::pair{"keyframe", Action::Kind::keyframe}, std::pair{"toggle", Action::Kind::toggle},
                             std::pair{"set", Action::Kind::set}}) {
      if (!n[key]) continue;
      ++count;
      const auto p = data_path(n[key], key);
      if (!p) return std::nullopt;
      a = {kind, *p, 0};
    }
    if (count != 1) {
      error(n, std::string(what) + " needs exactly one action", "call, keyframe, toggle or set (with value)");
      return std::nullopt;
    }
    if (a.kind == Action::Kind::set) {
      if (!n["value"]) {
        error(n, std::string(what) + ": set needs a value", "e.g. {set: ..., value: 1}");
        return std::nullopt;
      }
      const auto v = number(n["value"], "value");
      if (!v) return std::nullopt;
      a.value = *v;
    } else if (n["value"]) {
      error(n["value"], "value goes only with set", "remove it or use set");
    }
    return a;
  }

 private:
  std::string file_;
  std::vector<std::string>& errors_;
};

void parse_blender(Checker& c, const YAML::Node& n, BlenderConfig& b) {
  if (!c.keys(n, "blender", {"host", "port", "token"})) return;
  if (n["host"])
    if (auto s = c.string(n["host"], "host")) b.host = *s;
  if (n["port"])
    if (auto p = c.integer(n["port"], "port", 1, 65535)) b.port = static_cast<std::uint16_t>(*p);
  if (n["token"])
    if (auto s = c.string(n["token"], "token")) b.token = *s;
}

SerialConfig parse_serial(Checker& c, const YAML::Node& s) {
  SerialConfig sc;
  if (s.IsNull()) return sc;  // serial: with nothing = auto
  if (!c.keys(s, "serial", {"port", "match", "baud", "uid"})) return sc;
  if (s["port"])
    if (auto p = c.string(s["port"], "port")) sc.port = *p;
  if (s["match"]) c.usb_match(s["match"], sc.match);
  if (s["baud"])
    if (auto b = c.integer(s["baud"], "baud", 300, 4000000)) sc.baud = static_cast<int>(*b);
  if (s["uid"])
    if (auto u = c.string(s["uid"], "uid")) {
      if (parse_uid(*u)) sc.uid = *u;
      else
        c.error(s["uid"], "uid '" + *u + "' is not a device uid",
                "1-16 hex digits without 0x, as the box's hello says it, e.g. uid: \"3fa9c01e\" (see `knoblink monitor -v`)");
    }
  return sc;
}

HidConfig parse_hid(Checker& c, const YAML::Node& h) {
  HidConfig hc;
  if (c.keys(h, "hid", {"match"})) {
    if (h["match"]) c.usb_match(h["match"], hc.match);
    else c.error(h, "hid needs match", "match: \"VID:PID[:serial]\" (see `knoblink list`)");
  }
  return hc;
}

void parse_devices(Checker& c, const YAML::Node& n, Config& cfg) {
  if (!n.IsMap()) {
    c.error(n, "devices must map names to devices", "e.g. devices: {box: {serial: {port: auto}}}");
    return;
  }
  for (const auto& kv : n) {
    DeviceConfig d;
    d.name = kv.first.Scalar();
    d.line = kv.first.Mark().line + 1;
    if (!Name::from(d.name)) {
      c.error(kv.first, "device name '" + d.name + "' is not valid", "names match [a-z][a-z0-9_]{0,15}");
      continue;
    }
    const auto& body = kv.second;
    if (!c.keys(body, "a device", {"serial", "hid"})) continue;
    if ((body["serial"] ? 1 : 0) + (body["hid"] ? 1 : 0) != 1) {
      c.error(kv.first, "device '" + d.name + "' needs exactly one of serial or hid",
              "e.g. serial: {port: auto} or hid: {match: \"054c:05c4\"}");
      continue;
    }
    if (body["serial"]) d.kind = parse_serial(c, body["serial"]);
    else d.kind = parse_hid(c, body["hid"]);
    if (cfg.device_index(d.name) >= 0) {
      c.error(kv.first, "device '" + d.name + "' is declared twice", "use a different name");
      continue;
    }
    cfg.devices.push_back(std::move(d));
  }
}

void parse_mapping(Checker& c, const YAML::Node& n, Config& cfg) {
  if (!c.keys(n, "a mapping",
              {"control", "set", "add", "to", "from", "deadband", "takeover", "step", "press", "release", "led", "watch"}))
    return;
  Mapping m;
  m.line = n.Mark().line + 1;
  if (!n["control"]) {
    c.error(n, "a mapping needs control", "control: <device>.<control>, e.g. box.k1");
    return;
  }
  const auto ctl = c.control(n["control"], cfg, "control");
  if (!ctl) return;
  m.control = *ctl;

  const int kinds = (n["set"] ? 1 : 0) + (n["add"] ? 1 : 0) + ((n["press"] || n["release"]) ? 1 : 0);
  if (kinds > 1) {
    c.error(n, "a mapping does one thing", "one of set (knob), add (encoder), press/release (button)");
    return;
  }
  if (kinds == 0 && !n["watch"]) {
    c.error(n, "a mapping needs an action", "set (knob), add (encoder), press/release (button) or watch (output)");
    return;
  }
  bool ok = true;
  if (n["set"]) {
    m.kind = Mapping::Kind::set;
    auto p = c.data_path(n["set"], "set");
    ok = ok && p;
    if (p) m.path = *p;
    if (n["to"]) ok = c.pair(n["to"], "to", m.to0, m.to1) && ok;
    if (n["from"]) {
      double a = 0, b = 0;
      if (c.pair(n["from"], "from", a, b)) {
        if (a == b) {
          c.error(n["from"], "from needs two different numbers", "e.g. from: [0, 1023]");
          ok = false;
        }
        m.from0 = a;
        m.from1 = b;
      } else {
        ok = false;
      }
    }
    if (n["deadband"])
      if (auto d = c.integer(n["deadband"], "deadband", 0, 1 << 30)) m.deadband = static_cast<std::int32_t>(*d);
    if (n["takeover"]) {
      const auto t = c.string(n["takeover"], "takeover");
      if (t && *t != "jump" && *t != "pickup") {
        c.error(n["takeover"], "takeover '" + *t + "' is not known", "jump (default) or pickup");
        ok = false;
      }
      m.pickup = t && *t == "pickup";
    }
  } else if (n["add"]) {
    m.kind = Mapping::Kind::add;
    auto p = c.data_path(n["add"], "add");
    ok = ok && p;
    if (p) m.path = *p;
    if (n["step"])
      if (auto s = c.number(n["step"], "step")) m.step = *s;
  } else if (n["press"] || n["release"]) {
    m.kind = Mapping::Kind::button;
    if (n["press"]) {
      auto a = c.action(n["press"], "press");
      ok = ok && a;
      if (a) m.press = *a;
    }
    if (n["release"]) {
      auto a = c.action(n["release"], "release");
      ok = ok && a;
      if (a) m.release = *a;
    }
  } else {
    m.kind = Mapping::Kind::watch;
    m.led = m.control;
  }
  for (const char* only_set : {"to", "from", "deadband", "takeover"})
    if (n[only_set] && m.kind != Mapping::Kind::set) c.error(n[only_set], std::string(only_set) + " goes only with set");
  if (n["step"] && m.kind != Mapping::Kind::add) c.error(n["step"], "step goes only with add");

  if (n["led"]) {
    auto led = c.control(n["led"], cfg, "led");
    ok = ok && led;
    if (led) m.led = *led;
  }
  if (n["watch"]) {
    auto p = c.data_path(n["watch"], "watch");
    ok = ok && p;
    if (p) m.watch_path = *p;
  } else if (m.led) {
    // The LED follows the mapping's own target.
    m.watch_path = m.kind == Mapping::Kind::button
                       ? (m.press.kind != Action::Kind::call ? m.press.target : m.release.target)
                       : m.path;
    if (m.watch_path.empty() || (m.kind == Mapping::Kind::button && m.press.kind == Action::Kind::call)) {
      c.error(n["led"], "led needs a value to follow", "add watch: <data path>");
      ok = false;
    }
  }
  if (ok) cfg.mappings.push_back(std::move(m));
}

}  // namespace

LoadResult load_config_text(const std::string& text, const std::string& file) {
  LoadResult r;
  Checker c(file, r.errors);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    c.error_at(e.mark.line, e.mark.column, "YAML syntax: " + e.msg,
               "data paths contain [ ] and quotes: quote them or use block style");
    return r;
  }
  Config cfg;
  cfg.file = file;
  if (!root.IsMap()) {
    c.error_at(root.IsDefined() ? root.Mark().line : 0, root.IsDefined() ? root.Mark().column : 0,
               "the file must be a mapping", "top-level keys: blender, devices, mappings");
    return r;
  }
  c.keys(root, "the file", {"blender", "devices", "mappings"});
  if (root["blender"]) parse_blender(c, root["blender"], cfg.blender);
  if (root["devices"]) parse_devices(c, root["devices"], cfg);
  else c.error_at(0, 0, "no devices", "declare at least one under devices:");
  if (root["mappings"]) {
    if (!root["mappings"].IsSequence()) {
      c.error(root["mappings"], "mappings must be a list", "each entry starts with '- control: <device>.<control>'");
    } else {
      for (const auto& m : root["mappings"]) parse_mapping(c, m, cfg);
    }
  }
  if (r.errors.empty()) r.config = std::move(cfg);
  return r;
}

LoadResult load_config_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    LoadResult r;
    r.errors.push_back(path + ":1:1: cannot open the file; check the path and its permissions");
    return r;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return load_config_text(ss.str(), path);
}

}  // namespace knoblink
