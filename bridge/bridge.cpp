#include "bridge/bridge.hpp"

#include <asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>

#include <sstream>

namespace knoblink {

namespace {
/// 128 random bits as hex: this run's session (docs/protocol.md, "Exactly once").
std::string new_session() {
  std::random_device rd;
  std::string out;
  char buf[9];
  for (int i = 0; i < 4; ++i) {
    std::snprintf(buf, sizeof buf, "%08x", rd());
    out += buf;
  }
  return out;
}
}  // namespace

Bridge::Bridge(asio::io_context& io, Config config) : io_(io), config_(std::move(config)), session_(new_session()) {
  build_pipeline();
}

Bridge::~Bridge() { stop(); }

void Bridge::build_pipeline() {
  mapper_ = std::make_unique<Mapper>(config_, targets_, [this](const OutputWrite& w) { write_output(w); });
  std::vector<bool> absolute(targets_.size());
  for (std::uint32_t t = 0; t < targets_.size(); ++t) absolute[t] = mapper_->is_absolute(t);
  if (!outbox_) outbox_ = std::make_unique<Outbox>(targets_.size(), absolute);
  else outbox_->retarget(targets_.size(), absolute);
}

void Bridge::open_devices() {
  stop_devices();
  devices_.resize(config_.devices.size());
  output_errors_.assign(config_.devices.size(), {});
  for (std::size_t i = 0; i < config_.devices.size(); ++i) {
    std::string error;
    devices_[i] = make_device(device_context_, static_cast<std::uint16_t>(i), config_.devices[i], *this, error);
    if (devices_[i]) devices_[i]->start();
    else spdlog::error("{}", error);
  }
}

LinkOptions Bridge::link_options() const {
  LinkOptions lo;
  lo.locate = [blender = config_.blender](std::string& why) { return locate_blender(blender, why); };
  lo.session = session_;
  return lo;
}

void Bridge::start() {
  link_ = std::make_unique<BlenderLink>(io_, link_options(), *outbox_, targets_, *this);
  link_->set_watched(mapper_->watched());
  link_->start();
  open_devices();
}

void Bridge::stop_devices() {
  for (auto& d : devices_)
    if (d) d->stop();
  devices_.clear();  // a HID source has joined its reader thread in stop()
}

void Bridge::stop() {
  tick_timer_.cancel();
  armed_.reset();
  stop_devices();
  if (link_) link_->stop();
}

void Bridge::reload(Config config) {
  const bool same_blender = config.blender == config_.blender;
  const bool same_devices = std::equal(config.devices.begin(), config.devices.end(), config_.devices.begin(),
                                       config_.devices.end(),
                                       [](const auto& a, const auto& b) { return a.same_device(b); });
  if (!same_devices) {
    // The old sources may still have aborted handlers queued on io_: they are
    // destroyed by a handler posted after those, never under them.
    for (auto& d : devices_)
      if (d) d->stop();
    asio::post(io_, [old = std::make_shared<decltype(devices_)>(std::move(devices_))] {});
    devices_.clear();
    described_.clear();
  }
  config_ = std::move(config);
  const bool recording = mapper_->recording();
  build_pipeline();
  mapper_->on_record_state(recording);  // the new mapping's record LED shows it too
  armed_.reset();
  tick_timer_.cancel();  // the new mapping holds nothing yet
  // The devices kept their descriptions: the new mapping learns them without a reopen.
  for (std::size_t d = 0; d < described_.size(); ++d)
    for (const auto& info : described_[d]) on_control(static_cast<std::uint16_t>(d), info);
  link_->set_watched(mapper_->watched());
  if (!same_blender) link_->reconnect(link_options());
  if (!same_devices) open_devices();
  spdlog::info("reloaded {}: {} devices ({}), {} mappings", config_.file, config_.devices.size(),
               same_devices ? "kept open" : "reopened", config_.mappings.size());
}

std::vector<std::string> Bridge::device_lines() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < config_.devices.size(); ++i) {
    if (i >= devices_.size() || !devices_[i]) {
      out.push_back(config_.devices[i].name + ": not opened (see the error above)");
      continue;
    }
    const auto d = devices_[i]->describe();
    out.push_back(d.label + ": " + d.kind + (d.attached.empty() ? "" : " " + d.attached) + ", " + d.state);
  }
  return out;
}

std::string Bridge::counters_line() const {
  const auto& o = outbox_->stats();
  std::ostringstream s;
  s << "events=" << counters_.events << " unmapped=" << counters_.unmapped << " malformed=" << counters_.malformed
    << " commands=" << o.pushed << " sent=" << o.sent << " merged=" << o.merged
    << " resent=" << o.resent << " resynced=" << o.resynced
    << " reconnects=" << (link_ ? link_->reconnects() : 0) << " device_reconnects=" << counters_.device_reconnects
    << " pending=" << outbox_->pending() << " unacked=" << outbox_->unacked();
  return s.str();
}

void Bridge::on_event(const ControlEvent& e) {
  ++counters_.events;
  if (!mapper_->on_event(e, *outbox_)) {
    ++counters_.unmapped;
    spdlog::debug("{}.{} = {} (no mapping uses it)", config_.devices[e.device].name, e.control.view(), e.value);
    return;
  }
  link_->kick();
  arm_tick();  // a long press or a deflected stick: due later
}

void log_notice(Severity severity, std::string_view text) {
  switch (severity) {
    case Severity::debug: spdlog::debug("{}", text); break;
    case Severity::info: spdlog::info("{}", text); break;
    case Severity::warning: spdlog::warn("{}", text); break;
    case Severity::error: spdlog::error("{}", text); break;
  }
}

void Bridge::on_notice(std::uint16_t, Severity severity, std::string_view text) { log_notice(severity, text); }

void Bridge::on_connection(std::uint16_t device, bool connected) {
  if (connected) {
    mapper_->on_reconnect(device);
  } else {
    ++counters_.device_reconnects;
  }
}

void Bridge::on_control(std::uint16_t device, const ControlInfo& info) {
  if (described_.size() <= device) described_.resize(device + 1u);
  auto& known = described_[device];
  const auto it = std::find_if(known.begin(), known.end(), [&](const ControlInfo& c) { return c.name == info.name; });
  if (it == known.end()) known.push_back(info);
  else *it = info;
  if (const auto warning = mapper_->on_control(device, info); !warning.empty()) spdlog::warn("{}", warning);
}

void Bridge::on_malformed(std::uint16_t, std::string_view what) {
  ++counters_.malformed;
  spdlog::warn("{}", what);
}

void Bridge::on_link_up(const std::string& server, const std::string& blender) {
  mapper_->on_record_state(false);  // a Blender that records says so right after the hello
  spdlog::info("blender: connected to {} (Blender {}); resending {} latest values, {} queued", server, blender,
               outbox_->stats().resynced, outbox_->pending());
}

void Bridge::on_record(bool on) {
  if (on != mapper_->recording()) spdlog::info("blender: recording {}", on ? "on" : "off");
  mapper_->on_record_state(on);
}

void Bridge::on_link_down(const std::string& why) {
  spdlog::warn("blender: connection lost: {}; reconnecting ({} commands kept)", why,
               outbox_->pending());
}

void Bridge::on_watched(std::uint32_t target, std::optional<double> value) {
  mapper_->on_watched_value(target, value, [this](const OutputWrite& w) { write_output(w); });
}

void Bridge::write_output(const OutputWrite& w) {
  if (w.device >= devices_.size() || !devices_[w.device]) return;  // its error was logged when opening
  auto result = devices_[w.device]->write_output(w.control, w.value);
  std::string& last = output_errors_[w.device];
  if (!result.ok() && result.error != last)
    spdlog::warn("{}.{}: {}", config_.devices[w.device].name, w.control.view(), result.error);
  last = std::move(result.error);  // a repeated error is told once
}

void Bridge::arm_tick() {
  const auto next = mapper_->next_tick();
  if (next == armed_) return;
  armed_ = next;
  if (!next) {
    tick_timer_.cancel();  // at rest: no timer
    return;
  }
  tick_timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::microseconds(*next)));
  tick_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    armed_.reset();
    mapper_->tick(monotonic_us(), *outbox_);
    link_->kick();
    arm_tick();
  });
}

void Bridge::on_remote_error(const std::string& text) {
  if (text == last_remote_error_) {
    if (++repeated_remote_errors_ % 100 == 0)
      spdlog::warn("blender: the same error {} more times: {}", repeated_remote_errors_, text);
    return;
  }
  repeated_remote_errors_ = 0;
  last_remote_error_ = text;
  spdlog::warn("blender: {}", text);
}

}  // namespace knoblink
