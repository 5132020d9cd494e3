#include "bridge/mapper.hpp"

#include <algorithm>
#include <cmath>

#include "bridge/transfer.hpp"

namespace knoblink {

Mapper::Mapper(const Config& cfg, TargetTable& targets, OutputFn outputs) : cfg_(cfg), outputs_(std::move(outputs)) {
  slots_.reserve(cfg.mappings.size());
  layer_on_.assign(cfg.layers.size(), false);
  for (std::size_t i = 0; i < cfg.layers.size(); ++i)
    switches_.push_back({cfg.layers[i].control.device, cfg.layers[i].control.control, i});
  auto watch = [&](std::uint32_t w) {
    if (std::find(watched_.begin(), watched_.end(), w) == watched_.end()) watched_.push_back(w);
  };
  for (const auto& m : cfg.mappings) {
    Slot s;
    s.mapping = &m;
    if (!m.path().empty()) s.target = targets.intern(m.path());
    if (const auto* b = m.as<ButtonMapping>()) {
      s.press = compile(b->press, targets);
      s.release = compile(b->release, targets);
      s.long_press = compile(b->long_press, targets);
    }
    const auto* set = m.as<SetMapping>();
    const auto* rate = m.as<RateMapping>();
    const auto& from0 = set ? set->from0 : rate ? rate->from0 : std::optional<double>();
    const auto& from1 = set ? set->from1 : rate ? rate->from1 : std::optional<double>();
    if (from0) {
      s.from0 = *from0;
      s.from1 = *from1;
    }
    const auto slot = static_cast<std::uint32_t>(slots_.size());
    slots_.push_back(std::move(s));
    if (!m.as<WatchMapping>()) bindings_.push_back({m.control.device, m.control.control, slot, m.layer, false});
    if (m.led) {
      const auto w = targets.intern(m.watch_path);
      watch(w);
      leds_.push_back({w, OutputWrite{m.led->device, m.led->control, 0}});
    }
    if (set && set->pickup) watch(slots_.back().target);
  }
  absolute_.assign(targets.size(), false);
  for (const auto& s : slots_)
    if (s.mapping->as<SetMapping>()) absolute_[s.target] = true;
  for (auto& b : bindings_)
    for (const auto& o : bindings_)
      if (o.layer >= 0 && o.device == b.device && o.control == b.control) b.contested = true;
}

Mapper::Compiled Mapper::compile(const Action& a, TargetTable& targets) {
  Compiled c;
  if (a.kind == Action::Kind::none) return c;
  const auto target = targets.intern(a.target);
  const auto set_of = [&](const Value& v) {
    return Command{Op::set, target, v.number, v.name.empty() ? kNoArg : targets.intern(v.name)};
  };
  switch (a.kind) {
    case Action::Kind::none: break;
    case Action::Kind::call:
      c.commands.push_back({Op::call, target, 0, a.args.empty() ? kNoArg : targets.intern_json(a.args)});
      break;
    case Action::Kind::keyframe: c.commands.push_back({Op::keyframe, target, 0}); break;
    case Action::Kind::toggle: c.commands.push_back({Op::toggle, target, 0}); break;
    case Action::Kind::set: c.commands.push_back(set_of(a.value)); break;
    case Action::Kind::cycle:
      for (const auto& v : a.values) c.commands.push_back(set_of(v));
      break;
  }
  return c;
}

void Mapper::fire(Compiled& c, CommandSink& out) {
  if (c.commands.empty()) return;
  out.push(c.commands[c.next]);
  c.next = (c.next + 1) % c.commands.size();  // cycle: the next value; others have one
}

bool Mapper::is_absolute(std::uint32_t target) const {
  return target < absolute_.size() && absolute_[target];
}

std::string Mapper::on_control(std::uint16_t device, const ControlInfo& info) {
  std::string warning;
  for (const auto& b : bindings_) {
    if (b.device != device || !(b.control == info.name)) continue;
    Slot& s = slots_[b.slot];
    const auto* set = s.mapping->as<SetMapping>();
    const auto* rate = s.mapping->as<RateMapping>();
    if (!set && !rate) continue;
    // A rel control with a logical range (a 3D mouse's axis, docs/hid.md) reports a position over
    // it; one without (an encoder) reports steps, which a set would take as positions.
    const bool steps = info.kind == ControlKind::rel && !info.has_range;
    if (set && (steps || info.kind == ControlKind::btn) && warning.empty())
      warning = cfg_.file + ":" + std::to_string(s.mapping->line) + ": set on " + cfg_.control_name({device, info.name}) + ", which the device describes as " + std::string(to_string(info.kind)) +
                ": its values are taken as positions" +
                (info.kind == ControlKind::rel ? "; for an encoder use add: with step:" : "; for a button use press:");
    if (!info.has_range || info.min == info.max || (set ? set->from0 : rate->from0)) continue;  // the file's from: wins
    s.from0 = info.min;
    s.from1 = info.max;
  }
  return warning;
}

void Mapper::on_reconnect(std::uint16_t device) {
  for (const auto& b : bindings_)
    if (b.device == device) slots_[b.slot].has_last = false;
  if (!outputs_) return;
  for (std::size_t i = 0; i < cfg_.layers.size(); ++i) {
    const auto& led = cfg_.layers[i].led;
    if (led && led->device == device) outputs_({led->device, led->control, layer_on_[i] ? 1 : 0});
  }
  if (cfg_.record && cfg_.record->led && cfg_.record->led->device == device) show_record();
}

bool Mapper::set_layer(std::size_t layer, bool on) {
  if (layer_on_[layer] == on) return false;
  layer_on_[layer] = on;
  ++layer_changes_;
  const auto& l = cfg_.layers[layer];
  if (l.led && outputs_) outputs_({l.led->device, l.led->control, on ? 1 : 0});
  return true;
}

bool Mapper::on_switch(const ControlEvent& e) {
  const Switch* sw = nullptr;
  for (const auto& s : switches_)
    if (s.device == e.device && s.control == e.control) sw = &s;
  if (!sw) return false;
  const auto& l = cfg_.layers[sw->layer];
  bool changed = false;
  if (!l.toggle) {
    changed = set_layer(sw->layer, e.value != 0);
  } else if (e.value != 0) {  // a press flips it; the release does nothing
    const bool on = !layer_on_[sw->layer];
    if (on && !l.group.empty())
      for (std::size_t i = 0; i < cfg_.layers.size(); ++i)
        if (i != sw->layer && cfg_.layers[i].group == l.group) changed = set_layer(i, false) || changed;
    changed = set_layer(sw->layer, on) || changed;
  }
  if (!changed) return true;
  // Controls with layered mappings change hands: a held button or deflected stick of the
  // mapping that lost its control stops, and each pickup knob must pass Blender's value again.
  for (auto& b : bindings_) {
    if (!b.contested) continue;
    Slot& s = slots_[b.slot];
    if (s.held && !s.long_fired) --held_;
    s.held = false;
    if (s.deflection != 0) --deflected_;
    s.deflection = 0;
    if (s.has_blender) s.engaged = false;
    s.has_knob = false;  // the knob moved for another mapping meanwhile
    s.has_detent = false;
  }
  return true;
}

namespace {
/// Gives each command the read time of the event that made it (Command::t_us).
class Stamped final : public CommandSink {
 public:
  Stamped(CommandSink& out, std::int64_t t_us) : out_(out), t_us_(t_us) {}
  void push(const Command& c) override {
    Command d = c;
    d.t_us = t_us_;
    out_.push(d);
  }

 private:
  CommandSink& out_;
  std::int64_t t_us_;
};
}  // namespace

bool Mapper::on_record_switch(const ControlEvent& e, CommandSink& out) {
  const auto& r = *cfg_.record;
  if (r.toggle.device != e.device || !(r.toggle.control == e.control)) return false;
  if (e.value == 0) return true;  // a press flips it; the release does nothing
  recording_ = !recording_;
  out.push({Op::record, 0, recording_ ? 1.0 : 0.0});
  show_record();  // at once; the add-on's record event confirms it
  return true;
}

void Mapper::on_record_state(bool on) {
  recording_ = on;
  show_record();
}

void Mapper::show_record() {
  if (cfg_.record && cfg_.record->led && outputs_)
    outputs_({cfg_.record->led->device, cfg_.record->led->control, recording_ ? 1 : 0});
}

bool Mapper::on_event(const ControlEvent& e, CommandSink& sink) {
  Stamped out(sink, e.t_us);
  if (cfg_.record && on_record_switch(e, out)) return true;
  if (!switches_.empty() && on_switch(e)) return true;
  // A control's mappings in a layer that is on replace its mappings without a layer.
  bool layered = false, used = false;
  if (!switches_.empty())
    for (const auto& b : bindings_)
      if (b.layer >= 0 && layer_on_[b.layer] && b.device == e.device && b.control == e.control) layered = true;
  for (const auto& b : bindings_) {
    if (b.device != e.device || !(b.control == e.control)) continue;
    used = true;
    if (layered ? (b.layer < 0 || !layer_on_[b.layer]) : b.layer >= 0) continue;
    on_slot_event(slots_[b.slot], e, out);
  }
  return used;
}

void Mapper::on_position(const ControlEvent& e) {
  for (const auto& b : bindings_) {
    if (b.device != e.device || !(b.control == e.control)) continue;
    Slot& s = slots_[b.slot];
    const auto* set = s.mapping->as<SetMapping>();
    if (!set) continue;  // a held button or a deflected stick at boot is no gesture either
    s.last_raw = e.value;
    s.has_last = true;
    s.knob = set_value(s, *set, e.value);
    s.has_knob = true;
  }
}

double Mapper::set_value(const Slot& s, const SetMapping& set, std::int32_t raw) {
  const double unit = transfer::curve(set.curve, transfer::normalize(raw, s.from0, s.from1));
  return transfer::denormalize(unit, set.to0, set.to1);
}

void Mapper::on_slot_event(Slot& s, const ControlEvent& e, CommandSink& out) {
  const Mapping& m = *s.mapping;
  if (const auto* set = m.as<SetMapping>()) {
    if (s.has_last && set->deadband > 0 && std::abs(static_cast<std::int64_t>(e.value) - s.last_raw) < set->deadband)
      return;
    // A rel axis read as a position (a 3D mouse) repeats its displacement in every report.
    if (s.has_last && e.kind == ControlKind::rel && e.value == s.last_raw) return;
    s.last_raw = e.value;
    s.has_last = true;
    const double v = set_value(s, *set, e.value);
    if (set->pickup && !picked_up(s, *set, v)) return;
    out.push({Op::set, s.target, v});
  } else if (const auto* add = m.as<AddMapping>()) {
    if (e.value == 0) return;
    const auto detents = std::abs(static_cast<std::int64_t>(e.value));
    const double factor =
        s.has_detent ? transfer::acceleration(add->accel, (e.t_us - s.last_detent_us) / detents) : 1.0;
    s.last_detent_us = e.t_us;
    s.has_detent = true;
    out.push({Op::add, s.target, e.value * add->step * factor});
  } else if (const auto* rate = m.as<RateMapping>()) {
    if (s.deflection != 0) integrate(s, e.t_us, out);  // the old deflection up to now
    const double d = transfer::deflection(transfer::normalize(e.value, s.from0, s.from1), rate->deadzone);
    if ((s.deflection != 0) != (d != 0)) {
      if (d != 0) {
        if (deflected_++ == 0) next_rate_us_ = e.t_us + kRatePeriodUs;
        s.integrated_us = e.t_us;
      } else {
        --deflected_;
      }
    }
    s.deflection = d;
  } else if (m.as<ButtonMapping>()) {
    // Every 1 is a press and every 0 a release: a repeated press is never swallowed.
    const bool has_long = !s.long_press.commands.empty();
    if (e.value != 0) {
      if (!has_long) return fire(s.press, out);
      if (!s.held || s.long_fired) ++held_;  // now waiting for long_ms
      s.held = true;
      s.long_fired = false;
      s.pressed_us = e.t_us;
      return;
    }
    if (has_long && s.held) {
      if (!s.long_fired) {
        --held_;
        fire(s.press, out);  // a short press: its action fires on the release
      }
      s.held = false;
    }
    fire(s.release, out);
  }
}

void Mapper::integrate(Slot& s, std::int64_t now_us, CommandSink& out) {
  const auto* rate = s.mapping->as<RateMapping>();
  if (now_us <= s.integrated_us) return;
  const double delta = rate->speed * s.deflection * static_cast<double>(now_us - s.integrated_us) / 1e6;
  s.integrated_us = now_us;
  if (delta != 0) out.push({Op::add, s.target, delta});
}

void Mapper::tick(std::int64_t now_us, CommandSink& out) {
  for (auto& s : slots_) {
    if (s.held && !s.long_fired) {
      const auto* b = s.mapping->as<ButtonMapping>();
      if (now_us - s.pressed_us >= b->long_ms * 1000) {
        s.long_fired = true;
        --held_;
        fire(s.long_press, out);
      }
    }
    if (s.deflection != 0) integrate(s, now_us, out);
  }
  if (deflected_ > 0)
    while (next_rate_us_ <= now_us) next_rate_us_ += kRatePeriodUs;
}

std::optional<std::int64_t> Mapper::next_tick() const {
  if (held_ == 0 && deflected_ == 0) return std::nullopt;  // at rest: no timer at all
  std::optional<std::int64_t> next;
  if (deflected_ > 0) next = next_rate_us_;
  if (held_ > 0)
    for (const auto& s : slots_)
      if (s.held && !s.long_fired) {
        const auto due = s.pressed_us + s.mapping->as<ButtonMapping>()->long_ms * 1000;
        if (!next || due < *next) next = due;
      }
  return next;
}

bool Mapper::picked_up(Slot& s, const SetMapping& m, double v) {
  const double tol = transfer::tolerance(m.to0, m.to1);
  if (!s.engaged && s.has_blender) {
    const bool reached = std::abs(v - s.blender) <= tol;
    const bool passed = s.has_knob && (s.knob - s.blender) * (v - s.blender) <= 0;
    if (!reached && !passed) {
      s.knob = v;
      s.has_knob = true;
      return false;
    }
  }
  s.engaged = true;
  s.knob = v;
  s.has_knob = true;
  s.sent[s.sent_count++ % s.sent.size()] = v;
  return true;
}

void Mapper::on_watched_value(std::uint32_t target, std::optional<double> value, const OutputFn& write) {
  for (const auto& [t, w] : leds_) {
    if (t != target) continue;
    OutputWrite o = w;
    o.value = value && *value != 0 ? 1 : 0;
    write(o);
  }
  for (auto& s : slots_) {
    const auto* set = s.mapping->as<SetMapping>();
    if (!set || !set->pickup || s.target != target) continue;
    s.has_blender = value.has_value();
    if (!value) {
      s.engaged = true;  // nothing to pick up
      continue;
    }
    s.blender = *value;
    // An echo of something the knob sent is no change; anything else was changed in Blender.
    const double tol = transfer::tolerance(set->to0, set->to1);
    const auto n = std::min<std::size_t>(s.sent_count, s.sent.size());
    bool echo = false;
    for (std::size_t i = 0; i < n; ++i) echo = echo || std::abs(s.sent[i] - *value) <= tol;
    if (!echo) s.engaged = false;
  }
}

}  // namespace knoblink
