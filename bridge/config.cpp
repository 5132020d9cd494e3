#include "bridge/config.hpp"

#include "bridge/data_path.hpp"
#include "devices/serial_session.hpp"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <arpa/inet.h>

#include <fstream>
#include <initializer_list>
#include <regex>
#include <sstream>

namespace knoblink {

const std::string& Mapping::path() const {
  static const std::string none;
  if (const auto* s = as<SetMapping>()) return s->path;
  if (const auto* a = as<AddMapping>()) return a->path;
  if (const auto* r = as<RateMapping>()) return r->path;
  return none;
}

bool Mapping::targets(std::string_view p) const {
  if (path() == p) return true;
  if (const auto* b = as<ButtonMapping>())
    for (const Action* a : {&b->press, &b->release, &b->long_press})
      if (a->kind != Action::Kind::call && a->kind != Action::Kind::none && a->target == p) return true;
  return false;
}

std::string Config::control_name(const ControlRef& c) const { return devices[c.device].name + "." + c.control.str(); }

int Config::device_index(std::string_view name) const {
  for (std::size_t i = 0; i < devices.size(); ++i)
    if (devices[i].name == name) return static_cast<int>(i);
  return -1;
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

  /// The key of a named entry (a device, a layer): its text and line, when it is a valid name.
  bool entry_name(const YAML::Node& key, const char* what, std::string& name, int& line) {
    name = key.Scalar();
    line = key.Mark().line + 1;
    if (Name::from(name)) return true;
    error(key, std::string(what) + " name '" + name + "' is not valid", "names match [a-z][a-z0-9_]{0,15}");
    return false;
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
    if (auto r = parse_data_path(*s); !r.path) {
      error(n, std::string(what) + " '" + *s + "' is not a data path", r.error);
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

  /// A number, true/false (1/0), or an enum item's name.
  std::optional<Value> value(const YAML::Node& n, const char* what) {
    if (!n.IsScalar()) {
      error(n, std::string(what) + " must be a number or an enum name", "e.g. 1, 0.5, true or CYCLES");
      return std::nullopt;
    }
    const auto& t = n.Scalar();
    if (t == "true" || t == "false") return Value{t == "true" ? 1.0 : 0.0, {}};
    try {
      std::size_t used = 0;
      const double v = std::stod(t, &used);
      if (used == t.size()) return Value{v, {}};
    } catch (const std::exception&) {
    }
    static const std::regex name("^[A-Za-z_][A-Za-z0-9_]*$");
    if (!std::regex_match(t, name)) {
      error(n, std::string(what) + " '" + t + "' is neither a number nor an enum name",
            "an enum name is an identifier as Blender shows it, e.g. BLENDER_EEVEE");
      return std::nullopt;
    }
    return Value{0, t};
  }

  /// call args: a mapping of argument names to numbers, bools or enum names, as JSON text.
  std::optional<std::string> args(const YAML::Node& n) {
    if (!n.IsMap()) {
      error(n, "args must be a mapping of argument names to values", "e.g. args: {end: true}");
      return std::nullopt;
    }
    static const std::regex arg("^[a-z][a-z0-9_]*$");
    nlohmann::json j = nlohmann::json::object();
    for (const auto& kv : n) {
      const auto key = kv.first.Scalar();
      if (!std::regex_match(key, arg)) {
        error(kv.first, "argument name '" + key + "' is not valid", "lower-case identifiers, e.g. end");
        return std::nullopt;
      }
      const auto v = value(kv.second, key.c_str());
      if (!v) return std::nullopt;
      if (!v->name.empty()) j[key] = v->name;
      else if (kv.second.Scalar() == "true" || kv.second.Scalar() == "false") j[key] = v->number != 0;
      else j[key] = v->number;
    }
    return j.dump();
  }

  std::optional<Action> action(const YAML::Node& n, const char* what) {
    if (!keys(n, what, {"call", "args", "keyframe", "toggle", "set", "value", "cycle", "values"})) return std::nullopt;
    Action a;
    int count = 0;
    if (n["call"]) {
      ++count;
      const auto s = string(n["call"], "call");
      if (!s) return std::nullopt;
      if (!is_operator_name(*s)) {
        error(n["call"], "operator '" + *s + "' is not an operator id", "e.g. screen.animation_play");
        return std::nullopt;
      }
      a.kind = Action::Kind::call;
      a.target = *s;
      if (n["args"]) {
        auto j = args(n["args"]);
        if (!j) return std::nullopt;
        a.args = *j;
      }
    } else if (n["args"]) {
      error(n["args"], "args goes only with call", "e.g. {call: screen.frame_jump, args: {end: true}}");
      return std::nullopt;
    }
    for (auto [key, kind] : {std::pair{"keyframe", Action::Kind::keyframe}, std::pair{"toggle", Action::Kind::toggle},
                             std::pair{"set", Action::Kind::set}, std::pair{"cycle", Action::Kind::cycle}}) {
      if (!n[key]) continue;
      ++count;
      const auto p = data_path(n[key], key);
      if (!p) return std::nullopt;
      a.kind = kind;
      a.target = *p;
    }
    if (count != 1) {
      error(n, std::string(what) + " needs exactly one action",
            "call, keyframe, toggle, set (with value) or cycle (with values)");
      return std::nullopt;
    }
    if (a.kind == Action::Kind::set) {
      if (!n["value"]) {
        error(n, std::string(what) + ": set needs a value", "e.g. {set: ..., value: 1} or value: CYCLES");
        return std::nullopt;
      }
      const auto v = value(n["value"], "value");
      if (!v) return std::nullopt;
      a.value = *v;
    } else if (n["value"]) {
      error(n["value"], "value goes only with set", "remove it or use set");
      return std::nullopt;
    }
    if (a.kind == Action::Kind::cycle) {
      const auto& vs = n["values"];
      if (!vs || !vs.IsSequence() || vs.size() < 2) {
        error(vs ? vs : n, std::string(what) + ": cycle needs values, a list of two or more",
              "e.g. values: [BLENDER_EEVEE, CYCLES] or values: [0, 0.5, 1]");
        return std::nullopt;
      }
      for (const auto& x : vs) {
        const auto v = value(x, "values");
        if (!v) return std::nullopt;
        a.values.push_back(*v);
      }
    } else if (n["values"]) {
      error(n["values"], "values goes only with cycle", "remove it or use cycle");
      return std::nullopt;
    }
    return a;
  }

 private:
  std::string file_;
  std::vector<std::string>& errors_;
};

void parse_blender(Checker& c, const YAML::Node& n, BlenderConfig& b) {
  if (!c.keys(n, "blender", {"host", "port", "token", "file"})) return;
  if (n["host"])
    if (auto s = c.string(n["host"], "host")) b.host = *s;
  if (n["port"])
    if (auto p = c.integer(n["port"], "port", 1, 65535)) b.port = static_cast<std::uint16_t>(*p);
  if (n["token"])
    if (auto s = c.string(n["token"], "token")) b.token = *s;
  if (n["file"])
    if (auto s = c.string(n["file"], "file")) b.file = *s;
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

/// A CC control name of a midi: device's encodings/fourteen_bit; false (reported) otherwise.
bool midi_cc(Checker& c, const YAML::Node& n, const char* key, bool fourteen_bit, std::string& out) {
  const auto s = c.string(n, key);
  if (!s) return false;
  const auto id = parse_midi_control(*s);
  if (!id || id->type != MidiControlId::Type::cc || (fourteen_bit && id->number > 31)) {
    c.error(n, std::string(key) + ": '" + *s + "' is not " + (fourteen_bit ? "a 14-bit MSB CC" : "a CC control"),
            fourteen_bit ? "cc<channel 1..16>_<CC 0..31>, e.g. cc1_7 (CC 39 is its LSB)"
                         : "cc<channel 1..16>_<CC 0..127>, e.g. cc1_16");
    return false;
  }
  out = *s;
  return true;
}

MidiConfig parse_midi(Checker& c, const YAML::Node& m) {
  MidiConfig mc;
  if (!c.keys(m, "midi", {"port", "api", "encodings", "fourteen_bit"})) return mc;
  if (m["port"]) {
    if (auto p = c.string(m["port"], "port")) mc.port = *p;
    if (mc.port.empty()) c.error(m["port"], "midi port is empty", "a part of the port name, e.g. port: \"nanoKONTROL\" (see `knoblink list`)");
  } else {
    c.error(m, "midi needs port", "port: \"<part of the port name>\", e.g. port: \"nanoKONTROL\" (see `knoblink list`)");
  }
  if (m["api"])
    if (auto a = c.string(m["api"], "api")) {
      if (*a == "alsa" || *a == "jack") mc.api = *a;
      else c.error(m["api"], "midi api '" + *a + "' is not known", "alsa (the default) or jack");
    }
  if (const auto& e = m["encodings"]) {
    if (!e.IsMap()) {
      c.error(e, "encodings must map CC controls to encodings", "e.g. encodings: {cc1_16: twos}; twos, offset or sign");
    } else {
      for (const auto& kv : e) {
        std::string name;
        if (!midi_cc(c, kv.first, "encodings", false, name)) continue;
        const auto enc = kv.second.IsScalar() ? parse_midi_encoding(kv.second.Scalar()) : std::nullopt;
        if (!enc) {
          c.error(kv.second, "encoding of " + name + " is not known", "twos, offset or sign (docs/midi.md)");
          continue;
        }
        mc.encodings.emplace_back(name, *enc);
      }
    }
  }
  if (const auto& f = m["fourteen_bit"]) {
    if (!f.IsSequence()) {
      c.error(f, "fourteen_bit must be a list of MSB CC controls", "e.g. fourteen_bit: [cc1_7]");
    } else {
      for (const auto& item : f) {
        std::string name;
        if (!midi_cc(c, item, "fourteen_bit", true, name)) continue;
        mc.fourteen_bit.push_back(name);
        for (const auto& [enc_name, enc] : mc.encodings)
          if (const auto* pair = mc.fourteen_bit_pair(*parse_midi_control(enc_name)); pair && *pair == name)
            c.error(item, enc_name + " is both an encoder and part of the 14-bit CC " + name, "give it one of them");
      }
    }
  }
  return mc;
}

OscConfig parse_osc(Checker& c, const YAML::Node& o) {
  OscConfig oc;
  if (!c.keys(o, "osc", {"port", "host", "controls"})) return oc;
  if (o["port"]) {
    if (auto p = c.integer(o["port"], "port", 1, 65535)) oc.port = static_cast<std::uint16_t>(*p);
  } else {
    c.error(o, "osc needs port", "the UDP port the OSC sender sends to, e.g. port: 9000");
  }
  if (o["host"])
    if (auto h = c.string(o["host"], "host")) {
      unsigned char buf[16];
      if (inet_pton(AF_INET, h->c_str(), buf) == 1 || inet_pton(AF_INET6, h->c_str(), buf) == 1) oc.host = *h;
      else
        c.error(o["host"], "osc host '" + *h + "' is not an IP address",
                "127.0.0.1 (the default: this machine only), 0.0.0.0 (every network) or one of this machine's addresses");
    }
  const auto& cs = o["controls"];
  if (!cs) {
    c.error(o, "osc needs controls", "name each address, e.g. controls: {fader1: \"/1/fader1\"}");
    return oc;
  }
  if (!cs.IsMap()) {
    c.error(cs, "controls must map control names to OSC addresses", "e.g. controls: {fader1: \"/1/fader1\"}");
    return oc;
  }
  for (const auto& kv : cs) {
    OscControl ctl;
    ctl.name = kv.first.Scalar();
    if (!Name::from(ctl.name)) {
      c.error(kv.first, "control name '" + ctl.name + "' is not valid", "names match [a-z][a-z0-9_]{0,15}");
      continue;
    }
    const auto& v = kv.second;
    YAML::Node address = v;
    if (v.IsMap()) {
      if (!c.keys(v, "an osc control", {"address", "range", "kind"})) continue;
      if (!v["address"]) {
        c.error(v, "osc control " + ctl.name + " needs address", "e.g. {address: \"/1/fader1\", range: [0, 1]}");
        continue;
      }
      address.reset(v["address"]);  // reset: Node's = would write into v
      if (v["range"] && !c.pair(v["range"], "range", ctl.lo, ctl.hi)) continue;
      if (v["kind"]) {
        const auto k = v["kind"].IsScalar() ? parse_kind(v["kind"].Scalar()) : std::nullopt;
        if (!k || (*k != ControlKind::abs && *k != ControlKind::btn)) {
          c.error(v["kind"], "kind of osc control " + ctl.name + " must be abs or btn",
                  "abs (a fader: the range becomes 0..16383) or btn (1 at or above the middle of the range)");
          continue;
        }
        ctl.kind = *k;
      }
    }
    const auto a = c.string(address, "address");
    if (!a) continue;
    if (a->empty() || (*a)[0] != '/' || a->find_first_of(" #*?,[]{}") != std::string::npos) {
      c.error(address, "OSC address '" + *a + "' is not valid",
              "it starts with / and has no spaces or # * ? , [ ] { }, e.g. \"/1/fader1\"");
      continue;
    }
    ctl.address = *a;
    bool dup = false;
    for (const auto& other : oc.controls) dup = dup || other.address == ctl.address;
    if (dup) {
      c.error(address, "OSC address " + ctl.address + " is named twice", "give each address one control name");
      continue;
    }
    oc.controls.push_back(std::move(ctl));
  }
  return oc;
}

void parse_devices(Checker& c, const YAML::Node& n, Config& cfg) {
  if (!n.IsMap()) {
    c.error(n, "devices must map names to devices", "e.g. devices: {box: {serial: {port: auto}}}");
    return;
  }
  for (const auto& kv : n) {
    DeviceConfig d;
    if (!c.entry_name(kv.first, "device", d.name, d.line)) continue;
    const auto& body = kv.second;
    if (!c.keys(body, "a device", {"serial", "hid", "midi", "osc"})) continue;
    if ((body["serial"] ? 1 : 0) + (body["hid"] ? 1 : 0) + (body["midi"] ? 1 : 0) + (body["osc"] ? 1 : 0) != 1) {
      c.error(kv.first, "device '" + d.name + "' needs exactly one of serial, hid, midi or osc",
              "e.g. serial: {port: auto}, hid: {match: \"054c:05c4\"}, midi: {port: \"nanoKONTROL\"} or "
              "osc: {port: 9000, controls: {fader1: \"/1/fader1\"}}");
      continue;
    }
    if (body["serial"]) d.kind = parse_serial(c, body["serial"]);
    else if (body["hid"]) d.kind = parse_hid(c, body["hid"]);
    else if (body["midi"]) d.kind = parse_midi(c, body["midi"]);
    else d.kind = parse_osc(c, body["osc"]);
    if (cfg.device_index(d.name) >= 0) {
      c.error(kv.first, "device '" + d.name + "' is declared twice", "use a different name");
      continue;
    }
    cfg.devices.push_back(std::move(d));
  }
}

/// layers: {name: {hold: dev.ctl} | {toggle: dev.ctl, group: g, led: dev.out}} (docs/mapping.md, "Layers").
void parse_layers(Checker& c, const YAML::Node& n, Config& cfg) {
  if (!n.IsMap()) {
    c.error(n, "layers must map names to layers", "e.g. layers: {shift: {hold: box.b4}}");
    return;
  }
  for (const auto& kv : n) {
    LayerConfig l;
    if (!c.entry_name(kv.first, "layer", l.name, l.line)) continue;
    const auto& body = kv.second;
    if (!c.keys(body, "a layer", {"hold", "toggle", "group", "led"})) continue;
    if (!body["hold"] == !body["toggle"]) {
      c.error(kv.first, "layer '" + l.name + "' needs exactly one of hold or toggle",
              "hold: box.b4 (on while held) or toggle: box.b2 (a press flips it)");
      continue;
    }
    l.toggle = static_cast<bool>(body["toggle"]);
    const auto sw = c.control(body[l.toggle ? "toggle" : "hold"], cfg, l.toggle ? "toggle" : "hold");
    if (!sw) continue;
    l.control = *sw;
    if (body["group"]) {
      const auto g = c.string(body["group"], "group");
      if (!g) continue;
      if (!l.toggle) {
        c.error(body["group"], "group goes only with toggle layers", "a hold layer is on only while held");
        continue;
      }
      l.group = *g;
    }
    if (body["led"]) {
      const auto led = c.control(body["led"], cfg, "led");
      if (!led) continue;
      l.led = *led;
    }
    bool dup = false;
    for (const auto& o : cfg.layers) {
      if (o.name == l.name) {
        c.error(kv.first, "layer '" + l.name + "' is declared twice", "use a different name");
        dup = true;
      } else if (o.control.device == l.control.device && o.control.control == l.control.control) {
        c.error(body[l.toggle ? "toggle" : "hold"], "layer '" + l.name + "' uses the switch of layer '" + o.name + "'",
                "one switch per layer");
        dup = true;
      }
    }
    if (!dup) cfg.layers.push_back(std::move(l));
  }
}

/// The layer that ref switches, or null.
const LayerConfig* layer_switched_by(const Config& cfg, const ControlRef& ref) {
  for (const auto& l : cfg.layers)
    if (l.control.device == ref.device && l.control.control == ref.control) return &l;
  return nullptr;
}

/// record: {toggle: dev.ctl, led: dev.out} (docs/mapping.md, "Recording").
void parse_record(Checker& c, const YAML::Node& n, Config& cfg) {
  if (!c.keys(n, "record", {"toggle", "led"})) return;
  if (!n["toggle"]) {
    c.error(n, "record needs toggle", "record: {toggle: box.b5, led: box.l1} (a press turns recording on or off)");
    return;
  }
  RecordConfig r;
  r.line = n.Mark().line + 1;
  const auto sw = c.control(n["toggle"], cfg, "toggle");
  if (!sw) return;
  r.toggle = *sw;
  if (const auto* l = layer_switched_by(cfg, r.toggle)) {
    c.error(n["toggle"], n["toggle"].Scalar() + " switches layer '" + l->name + "' (line " + std::to_string(l->line) +
                             "), so it cannot switch recording too",
            "one switch for each");
    return;
  }
  if (n["led"]) {
    const auto led = c.control(n["led"], cfg, "led");
    if (!led) return;
    r.led = *led;
  }
  cfg.record = r;
}

// Each kind of mapping has its own keys (docs/mapping.md); the keys every mapping takes:
constexpr std::initializer_list<const char*> kCommonKeys = {"control", "layer", "led", "watch"};

struct KindKeys {
  const char* name;  ///< the key that makes a mapping this kind
  std::initializer_list<const char*> keys;
};
constexpr KindKeys kKinds[] = {
    {"set", {"set", "to", "from", "curve", "deadband", "takeover"}},
    {"add", {"add", "step", "accel", "encoding"}},
    {"rate", {"rate", "speed", "deadzone", "from"}},
    {"press", {"press", "release", "long", "long_ms"}},
};

/// curve: linear | smooth | {power: p} | [[x, y], ...] (docs/mapping.md, "Curves").
bool parse_curve(Checker& c, const YAML::Node& n, transfer::Curve& curve) {
  const char* allowed = "linear, smooth, {power: 2} or points [[0, 0], [0.5, 0.2], [1, 1]] (x rising, 0..1)";
  if (n.IsScalar()) {
    if (n.Scalar() == "linear") return true;
    if (n.Scalar() == "smooth") {
      curve.kind = transfer::Curve::Kind::smooth;
      return true;
    }
  } else if (n.IsMap() && n.size() == 1 && n["power"]) {
    const auto p = c.number(n["power"], "power");
    if (!p) return false;
    if (!(*p > 0) || *p > 100) {
      c.error(n["power"], "power must be above 0 and at most 100", "e.g. {power: 2} (gentle start) or 0.5");
      return false;
    }
    curve.kind = transfer::Curve::Kind::power;
    curve.power = *p;
    return true;
  } else if (n.IsSequence() && n.size() >= 2) {
    curve.kind = transfer::Curve::Kind::points;
    for (const auto& pt : n) {
      double x = 0, y = 0;
      if (!c.pair(pt, "a curve point", x, y)) return false;
      if (x < 0 || x > 1 || y < 0 || y > 1 || (!curve.points.empty() && x <= curve.points.back().first)) {
        c.error(pt, "curve points must lie in 0..1 with x rising", allowed);
        return false;
      }
      curve.points.emplace_back(x, y);
    }
    return true;
  }
  c.error(n, "curve is not one of the known curves", allowed);
  return false;
}

/// from: [a, b] with a != b.
bool parse_from(Checker& c, const YAML::Node& n, std::optional<double>& from0, std::optional<double>& from1) {
  double a = 0, b = 0;
  if (!c.pair(n, "from", a, b)) return false;
  if (a == b) {
    c.error(n, "from needs two different numbers", "e.g. from: [0, 1023]");
    return false;
  }
  from0 = a;
  from1 = b;
  return true;
}

/// A path that fans out over a selection (context.selected_objects[*]...): it is written to
/// every element, but has no one value to watch (docs/mapping.md, "Selections").
bool fans_out(const std::string& path) {
  const auto r = parse_data_path(path);
  return r.path && r.path->fan_out;
}

const char* const kOneElement = "one data path, e.g. context.active_object.location[0]";

bool parse_set(Checker& c, const YAML::Node& n, SetMapping& m) {
  auto p = c.data_path(n["set"], "set");
  bool ok = p.has_value();
  if (p) m.path = *p;
  if (n["to"]) ok = c.pair(n["to"], "to", m.to0, m.to1) && ok;
  if (n["from"]) ok = parse_from(c, n["from"], m.from0, m.from1) && ok;
  if (n["curve"]) ok = parse_curve(c, n["curve"], m.curve) && ok;
  if (n["deadband"]) {
    if (auto d = c.integer(n["deadband"], "deadband", 0, 1 << 30)) m.deadband = static_cast<std::int32_t>(*d);
    else ok = false;
  }
  if (n["takeover"]) {
    const auto t = c.string(n["takeover"], "takeover");
    if (t && *t != "jump" && *t != "pickup") {
      c.error(n["takeover"], "takeover '" + *t + "' is not known", "jump (default) or pickup");
      ok = false;
    }
    m.pickup = t && *t == "pickup";
    if (m.pickup && fans_out(m.path)) {
      c.error(n["takeover"], "takeover: pickup follows Blender's value of one target, and '" + m.path +
                                 "' fans out over the selection",
              "takeover: jump (the default) with a [*] path, or pickup with " + std::string(kOneElement));
      ok = false;
    }
  }
  return ok;
}

bool parse_add(Checker& c, const YAML::Node& n, AddMapping& m) {
  auto p = c.data_path(n["add"], "add");
  bool ok = p.has_value();
  if (p) m.path = *p;
  if (n["step"]) {
    if (auto s = c.number(n["step"], "step")) m.step = *s;
    else ok = false;
  }
  if (n["accel"]) {
    const auto a = c.number(n["accel"], "accel");
    if (a && (*a < 1 || *a > 1000)) c.error(n["accel"], "accel must be from 1 to 1000", "e.g. accel: 8 (fast turns up to 8x step)");
    if (a && *a >= 1 && *a <= 1000) m.accel = *a;
    else ok = false;
  }
  if (const auto& e = n["encoding"]) {
    if (const auto enc = e.IsScalar() ? parse_midi_encoding(e.Scalar()) : std::nullopt) {
      m.encoding = *enc;
    } else {
      c.error(e, "encoding '" + (e.IsScalar() ? e.Scalar() : std::string("...")) + "' is not known",
              "twos, offset or sign: how a MIDI encoder on a CC encodes its turn (docs/midi.md, \"Relative encoders\")");
      ok = false;
    }
  }
  return ok;
}

/// A MIDI CC control an add mapping turns, or null (another device kind or control type).
MidiConfig* midi_cc_of(Config& cfg, const Mapping& m, std::optional<MidiControlId>& id) {
  auto* midi = std::get_if<MidiConfig>(&cfg.devices[m.control.device].kind);
  id = parse_midi_control(m.control.control.view());
  return midi && id && id->type == MidiControlId::Type::cc ? midi : nullptr;
}

/// An add mapping's encoding: (docs/midi.md, "Relative encoders"): only on a MIDI CC that is
/// not part of a 14-bit pair, and one encoding per CC across the file (the device's
/// encodings: included, every mapping and layer); it joins the device's encodings, which
/// its decoder reads.
bool fold_encoding(Checker& c, const YAML::Node& n, Config& cfg, const Mapping& m) {
  const auto& add = *m.as<AddMapping>();
  if (!add.encoding) return true;
  const auto& where = n["encoding"];
  const auto& dev = cfg.devices[m.control.device];
  const std::string control = cfg.control_name(m.control);
  std::optional<MidiControlId> id;
  auto* midi = midi_cc_of(cfg, m, id);
  if (!midi) {
    c.error(where, "encoding goes only with a CC of a midi: device; " + control + " is not one",
            std::holds_alternative<MidiConfig>(dev.kind)
                ? "a MIDI encoder is a CC, e.g. control: " + dev.name + ".cc1_16"
                : "this device's encoders send steps already: remove encoding");
    return false;
  }
  if (const auto* pair = midi->fourteen_bit_pair(*id)) {
    c.error(where, control + " is part of the 14-bit CC " + *pair + " (fourteen_bit:), so it is not an encoder",
            "an encoder is a 7-bit CC: take it out of fourteen_bit or remove encoding");
    return false;
  }
  const auto had = midi->encoding_of(m.control.control.view());
  if (!had) {
    midi->encodings.emplace_back(m.control.control.str(), *add.encoding);
    return true;
  }
  if (*had == *add.encoding) return true;
  std::string who = "the device's encodings: (line " + std::to_string(dev.line) + ")";
  for (const auto& o : cfg.mappings)
    if (const auto* a = o.as<AddMapping>();
        a && a->encoding == had && o.control.device == m.control.device && o.control.control == m.control.control)
      who = "the mapping on line " + std::to_string(o.line);
  c.error(where, std::string("encoding ") + midi_encoding_name(*add.encoding) + " of " + control + " contradicts " +
                     midi_encoding_name(*had) + ", which " + who + " gives it",
          "a CC reads one way in every mapping and layer: give it one encoding");
  return false;
}

/// After every mapping is read: an add on a MIDI CC that no encoding makes an encoder would
/// add the CC's absolute value (0..127) on every move.
void check_midi_adds(Checker& c, Config& cfg, const std::vector<YAML::Mark>& marks) {
  for (std::size_t i = 0; i < cfg.mappings.size(); ++i) {
    const auto& m = cfg.mappings[i];
    std::optional<MidiControlId> id;
    const auto* midi = m.as<AddMapping>() ? midi_cc_of(cfg, m, id) : nullptr;
    if (!midi || midi->encoding_of(m.control.control.view())) continue;
    c.error_at(marks[i].line, marks[i].column,
               "add on " + cfg.control_name(m.control) +
                   ", a MIDI CC that is not an encoder (it sends positions 0..127)",
               "say how the encoder encodes its turn: encoding: twos | offset | sign (docs/midi.md); for a knob use set:");
  }
}

bool parse_rate(Checker& c, const YAML::Node& n, RateMapping& m) {
  auto p = c.data_path(n["rate"], "rate");
  bool ok = p.has_value();
  if (p) m.path = *p;
  if (n["speed"]) {
    if (auto s = c.number(n["speed"], "speed")) m.speed = *s;
    else ok = false;
  }
  if (n["deadzone"]) {
    const auto d = c.number(n["deadzone"], "deadzone");
    if (d && (*d < 0 || *d >= 1)) c.error(n["deadzone"], "deadzone must be from 0 to below 1", "e.g. deadzone: 0.1");
    if (d && *d >= 0 && *d < 1) m.deadzone = *d;
    else ok = false;
  }
  if (n["from"]) ok = parse_from(c, n["from"], m.from0, m.from1) && ok;
  return ok;
}

bool parse_button(Checker& c, const YAML::Node& n, ButtonMapping& m) {
  bool ok = true;
  for (auto [key, action] : {std::pair{"press", &m.press}, std::pair{"release", &m.release},
                             std::pair{"long", &m.long_press}}) {
    if (!n[key]) continue;
    auto a = c.action(n[key], key);
    ok = ok && a;
    if (a) *action = *a;
  }
  if (n["long_ms"]) {
    if (!n["long"]) c.error(n["long_ms"], "long_ms goes only with long", "e.g. long: {call: ...}, long_ms: 500");
    if (auto ms = c.integer(n["long_ms"], "long_ms", 50, 10000); ms && n["long"]) m.long_ms = *ms;
    else ok = false;
  }
  return ok;
}

/// The path an LED follows when the mapping has no watch: (empty: none).
std::string led_default(const Mapping& m) {
  if (const auto* b = m.as<ButtonMapping>()) {
    for (const Action* a : {&b->press, &b->release, &b->long_press})
      if (a->kind != Action::Kind::none) return a->kind == Action::Kind::call ? std::string() : a->target;
    return {};
  }
  return m.path();
}

/// marks: where each entry of cfg.mappings starts, for checks made after every mapping is read.
void parse_mapping(Checker& c, const YAML::Node& n, std::size_t item, Config& cfg, std::vector<YAML::Mark>& marks) {
  if (!n.IsMap()) {
    c.error(n, "a mapping must be a mapping (key: value)", "e.g. - control: box.k1");
    return;
  }
  Mapping m;
  m.line = n.Mark().line + 1;
  m.item = item;
  if (!n["control"]) {
    c.error(n, "a mapping needs control", "control: <device>.<control>, e.g. box.k1");
    return;
  }
  const auto ctl = c.control(n["control"], cfg, "control");
  if (!ctl) return;
  m.control = *ctl;
  if (const auto* l = layer_switched_by(cfg, m.control)) {
    c.error(n["control"], n["control"].Scalar() + " switches layer '" + l->name + "' (line " + std::to_string(l->line) +
                              "), so it is not mapped otherwise",
            "use another control, or another switch for the layer");
    return;
  }
  if (cfg.record && cfg.record->toggle.device == m.control.device && cfg.record->toggle.control == m.control.control) {
    c.error(n["control"], n["control"].Scalar() + " switches recording (line " + std::to_string(cfg.record->line) +
                              "), so it is not mapped otherwise",
            "use another control, or another switch for record:");
    return;
  }
  if (n["layer"]) {
    const auto name = c.string(n["layer"], "layer");
    if (!name) return;
    std::string names;
    for (std::size_t i = 0; i < cfg.layers.size(); ++i) {
      names += (names.empty() ? "" : ", ") + cfg.layers[i].name;
      if (cfg.layers[i].name == *name) m.layer = static_cast<int>(i);
    }
    if (m.layer < 0) {
      c.error(n["layer"], "unknown layer '" + *name + "'", names.empty() ? "declare it under layers:" : "layers: " + names);
      return;
    }
  }

  const KindKeys* kind = nullptr;
  int kinds = 0;
  for (const auto& k : kKinds)
    if (n[k.name] || (k.name == std::string_view("press") && (n["release"] || n["long"]))) {
      kind = &k;
      ++kinds;
    }
  if (kinds > 1) {
    c.error(n, "a mapping does one thing", "one of set (knob), add (encoder), rate (stick), press/release/long (button)");
    return;
  }
  // Keys of another kind, or of none.
  const auto has = [](std::initializer_list<const char*> keys, const std::string& key) {
    for (const char* k : keys)
      if (key == k) return true;
    return false;
  };
  bool ok = true;
  for (const auto& kv : n) {
    const auto key = kv.first.Scalar();
    if (has(kCommonKeys, key) || (kind && has(kind->keys, key))) continue;
    ok = false;
    std::string owners;
    for (const auto& k : kKinds)
      if (has(k.keys, key)) owners += (owners.empty() ? "" : " or ") + std::string(k.name);
    if (!owners.empty()) {
      c.error(kv.second, key + " goes only with " + owners);
    } else {
      std::string allowed;
      for (const char* k : kCommonKeys) allowed += (allowed.empty() ? "" : ", ") + std::string(k);
      for (const auto& k : kKinds)
        for (const char* key2 : k.keys)
          if (allowed.find(", " + std::string(key2) + ",") == std::string::npos) allowed += ", " + std::string(key2);
      c.error(kv.first, "unknown key '" + key + "' in a mapping", "allowed keys: " + allowed);
    }
  }

  if (kinds == 0 && !n["watch"]) {
    c.error(n, "a mapping needs an action",
            "set (knob), add (encoder), rate (stick), press/release/long (button) or watch (output)");
    return;
  }
  if (!kind) {
    m.action = WatchMapping{};
    m.led = m.control;
  } else if (kind == &kKinds[0]) {
    ok = parse_set(c, n, m.action.emplace<SetMapping>()) && ok;
  } else if (kind == &kKinds[1]) {
    ok = parse_add(c, n, m.action.emplace<AddMapping>()) && ok;
    ok = ok && fold_encoding(c, n, cfg, m);
  } else if (kind == &kKinds[2]) {
    ok = parse_rate(c, n, m.action.emplace<RateMapping>()) && ok;
  } else {
    ok = parse_button(c, n, m.action.emplace<ButtonMapping>()) && ok;
  }

  if (n["led"]) {
    auto led = c.control(n["led"], cfg, "led");
    ok = ok && led;
    if (led) m.led = *led;
  }
  if (n["watch"]) {
    auto p = c.data_path(n["watch"], "watch");
    ok = ok && p;
    if (p && fans_out(*p)) {
      c.error(n["watch"], "watch follows one value, and '" + *p + "' fans out over the selection",
              "watch: " + std::string(kOneElement));
      ok = false;
    }
    if (p) m.watch_path = *p;
  } else if (m.led) {
    m.watch_path = led_default(m);  // the LED follows the mapping's own target
    if (m.watch_path.empty()) {
      c.error(n["led"], "led needs a value to follow", "add watch: <data path>");
      ok = false;
    } else if (fans_out(m.watch_path)) {
      c.error(n["led"], "led follows one value, and this mapping's target '" + m.watch_path +
                            "' fans out over the selection",
              "add watch: " + std::string(kOneElement));
      ok = false;
    }
  }
  if (!ok) return;
  cfg.mappings.push_back(std::move(m));
  marks.push_back(n.Mark());
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
  cfg.text = text;
  if (!root.IsMap()) {
    c.error_at(root.IsDefined() ? root.Mark().line : 0, root.IsDefined() ? root.Mark().column : 0,
               "the file must be a mapping", "top-level keys: blender, devices, layers, record, mappings");
    return r;
  }
  c.keys(root, "the file", {"blender", "devices", "layers", "record", "mappings"});
  if (root["blender"]) parse_blender(c, root["blender"], cfg.blender);
  if (root["devices"]) parse_devices(c, root["devices"], cfg);
  else c.error_at(0, 0, "no devices", "declare at least one under devices:");
  if (root["layers"]) parse_layers(c, root["layers"], cfg);
  if (root["record"]) parse_record(c, root["record"], cfg);
  if (root["mappings"] && !root["mappings"].IsNull()) {  // mappings: with nothing: none (yet)
    if (!root["mappings"].IsSequence()) {
      c.error(root["mappings"], "mappings must be a list", "each entry starts with '- control: <device>.<control>'");
    } else {
      std::vector<YAML::Mark> marks;
      std::size_t item = 0;
      for (const auto& m : root["mappings"]) parse_mapping(c, m, item++, cfg, marks);
      check_midi_adds(c, cfg, marks);
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
