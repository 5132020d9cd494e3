#include "bridge/mapper.hpp"

#include <algorithm>
#include <cmath>

#include "bridge/transfer.hpp"

namespace knoblink {

Mapper::Mapper(const Config& cfg, TargetTable& targets) : cfg_(cfg) {
  slots_.reserve(cfg.mappings.size());
  for (const auto& m : cfg.mappings) {
    Slot s;
    s.mapping = &m;
    if (!m.path().empty()) s.target = targets.intern(m.path());
    if (const auto* b = m.as<ButtonMapping>()) {
      if (b->press.kind != Action::Kind::none) s.press = targets.intern(b->press.target);
      if (b->release.kind != Action::Kind::none) s.release = targets.intern(b->release.target);
    }
    const auto* set = m.as<SetMapping>();
    if (set && set->from0) {
      s.from0 = *set->from0;
      s.from1 = *set->from1;
    }
    const auto slot = static_cast<std::uint32_t>(slots_.size());
    slots_.push_back(s);
    if (!m.as<WatchMapping>()) bindings_.push_back({m.control.device, m.control.control, slot});
    auto watch = [&](std::uint32_t w) {
      if (std::find(watched_.begin(), watched_.end(), w) == watched_.end()) watched_.push_back(w);
    };
    if (m.led) {
      const auto w = targets.intern(m.watch_path);
      watch(w);
      leds_.push_back({w, OutputWrite{m.led->device, m.led->control, 0}});
    }
    if (set && set->pickup) watch(s.target);
  }
  absolute_.assign(targets.size(), false);
  for (const auto& s : slots_)
    if (s.mapping->as<SetMapping>()) absolute_[s.target] = true;
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
    if (!set) continue;
    if ((info.kind == ControlKind::rel || info.kind == ControlKind::btn) && warning.empty())
      warning = cfg_.file + ":" + std::to_string(s.mapping->line) + ": set on " + cfg_.devices[device].name + "." +
                info.name.str() + ", which the device describes as " + std::string(to_string(info.kind)) +
                ": its values are taken as positions" +
                (info.kind == ControlKind::rel ? "; for an encoder use add: with step:" : "; for a button use press:");
    if (!info.has_range || info.min == info.max || set->from0) continue;  // the file's from: wins
    s.from0 = info.min;
    s.from1 = info.max;
  }
  return warning;
}

void Mapper::on_reconnect(std::uint16_t device) {
  for (const auto& b : bindings_)
    if (b.device == device) slots_[b.slot].has_last = false;
}

void Mapper::act(const Action& a, std::uint32_t target, CommandSink& out) {
  switch (a.kind) {
    case Action::Kind::none: return;
    case Action::Kind::call: out.push({Op::call, target, 0}); return;
    case Action::Kind::keyframe: out.push({Op::keyframe, target, 0}); return;
    case Action::Kind::toggle: out.push({Op::toggle, target, 0}); return;
    case Action::Kind::set: out.push({Op::set, target, a.value}); return;
  }
}

bool Mapper::on_event(const ControlEvent& e, CommandSink& out) {
  bool used = false;
  for (const auto& b : bindings_) {
    if (b.device != e.device || !(b.control == e.control)) continue;
    used = true;
    Slot& s = slots_[b.slot];
    const Mapping& m = *s.mapping;
    if (const auto* set = m.as<SetMapping>()) {
      if (s.has_last && set->deadband > 0 && std::abs(static_cast<std::int64_t>(e.value) - s.last_raw) < set->deadband)
        continue;
      s.last_raw = e.value;
      s.has_last = true;
      const double v = transfer::denormalize(transfer::normalize(e.value, s.from0, s.from1), set->to0, set->to1);
      if (set->pickup && !picked_up(s, *set, v)) continue;
      out.push({Op::set, s.target, v});
    } else if (const auto* add = m.as<AddMapping>()) {
      if (e.value != 0) out.push({Op::add, s.target, e.value * add->step});
    } else if (const auto* button = m.as<ButtonMapping>()) {
      // Every 1 is a press and every 0 a release: a repeated press is never swallowed.
      if (e.value != 0) act(button->press, s.press, out);
      else act(button->release, s.release, out);
    }
  }
  return used;
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

void Mapper::on_watched_value(std::uint32_t target, std::optional<double> value,
                              const std::function<void(const OutputWrite&)>& write) {
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
