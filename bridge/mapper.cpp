#include "bridge/mapper.hpp"

#include <algorithm>
#include <cmath>

namespace knoblink {

Mapper::Mapper(const Config& cfg, TargetTable& targets) {
  slots_.reserve(cfg.mappings.size());
  for (const auto& m : cfg.mappings) {
    Slot s;
    s.mapping = &m;
    if (!m.path.empty()) s.target = targets.intern(m.path);
    if (m.press.kind != Action::Kind::none) s.press = targets.intern(m.press.target);
    if (m.release.kind != Action::Kind::none) s.release = targets.intern(m.release.target);
    if (m.from0) {
      s.from0 = *m.from0;
      s.from1 = *m.from1;
    }
    const auto slot = static_cast<std::uint32_t>(slots_.size());
    slots_.push_back(s);
    if (m.kind != Mapping::Kind::watch) bindings_.push_back({m.control.device, m.control.control, slot});
    auto watch = [&](std::uint32_t w) {
      if (std::find(watched_.begin(), watched_.end(), w) == watched_.end()) watched_.push_back(w);
    };
    if (m.led) {
      const auto w = targets.intern(m.watch_path);
      watch(w);
      leds_.push_back({w, OutputWrite{m.led->device, m.led->control, 0}});
    }
    if (m.pickup) watch(s.target);
  }
  absolute_.assign(targets.size(), false);
  for (const auto& s : slots_)
    if (s.mapping->kind == Mapping::Kind::set) absolute_[s.target] = true;
}

bool Mapper::is_absolute(std::uint32_t target) const {
  return target < absolute_.size() && absolute_[target];
}

void Mapper::on_control(std::uint16_t device, const ControlInfo& info) {
  if (!info.has_range || info.min == info.max) return;
  for (const auto& b : bindings_) {
    if (b.device != device || !(b.control == info.name)) continue;
    Slot& s = slots_[b.slot];
    if (s.mapping->from0) continue;  // the file's from: wins
    s.from0 = info.min;
    s.from1 = info.max;
    s.described = true;
  }
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
    switch (m.kind) {
      case Mapping::Kind::set: {
        if (s.has_last && m.deadband > 0 &&
            std::abs(static_cast<std::int64_t>(e.value) - s.last_raw) < m.deadband)
          break;
        s.last_raw = e.value;
        s.has_last = true;
        const double t = std::clamp((e.value - s.from0) / (s.from1 - s.from0), 0.0, 1.0);
        const double v = m.to0 + t * (m.to1 - m.to0);
        if (m.pickup && !picked_up(s, v)) break;
        out.push({Op::set, s.target, v});
        break;
      }
      case Mapping::Kind::add:
        if (e.value != 0) out.push({Op::add, s.target, e.value * m.step});
        break;
      case Mapping::Kind::button:
        // Every 1 is a press and every 0 a release: a repeated press is never swallowed.
        if (e.value != 0) act(m.press, s.press, out);
        else act(m.release, s.release, out);
        break;
      case Mapping::Kind::watch:
        break;
    }
  }
  return used;
}

namespace {
/// Values closer than this are the same value (Blender stores floats in 32 bits).
double tolerance(const Mapping& m) { return std::max(1e-6, 1e-4 * std::abs(m.to1 - m.to0)); }
}  // namespace

bool Mapper::picked_up(Slot& s, double v) {
  const double tol = tolerance(*s.mapping);
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
    if (!s.mapping->pickup || s.target != target) continue;
    s.has_blender = value.has_value();
    if (!value) {
      s.engaged = true;  // nothing to pick up
      continue;
    }
    s.blender = *value;
    // An echo of something the knob sent is no change; anything else was changed in Blender.
    const double tol = tolerance(*s.mapping);
    const auto n = std::min<std::size_t>(s.sent_count, s.sent.size());
    bool echo = false;
    for (std::size_t i = 0; i < n; ++i) echo = echo || std::abs(s.sent[i] - *value) <= tol;
    if (!echo) s.engaged = false;
  }
}

}  // namespace knoblink
