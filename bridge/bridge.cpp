#include "bridge/bridge.hpp"

#include <asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <type_traits>
#include <variant>

#include "bridge/link_codec.hpp"

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

/// The status is sent at most this often (docs/protocol.md, "Status").
constexpr auto kStatusGap = std::chrono::milliseconds(250);
/// Latency windows close every kWindowTicks housekeeping seconds.
constexpr unsigned kWindowTicks = 5;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// The file's bytes, or nullopt when it cannot be read.
std::optional<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const char* kind_name(const DeviceKindConfig& k) {
  return std::visit(
      [](const auto& c) -> const char* {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, SerialConfig>) return "serial";
        else if constexpr (std::is_same_v<T, HidConfig>) return "hid";
        else if constexpr (std::is_same_v<T, MidiConfig>) return "midi";
        else return "osc";
      },
      k);
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
  device_state_.assign(config_.devices.size(), "retrying");
  for (std::size_t i = 0; i < config_.devices.size(); ++i) {
    std::string error;
    devices_[i] = make_device(device_context_, static_cast<std::uint16_t>(i), config_.devices[i], *this, error);
    if (devices_[i]) {
      devices_[i]->start();
    } else {
      device_state_[i] = "failed";
      spdlog::error("{}", error);
      note_error(error);
    }
  }
  status_changed();
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
  if (!config_.file.empty()) file_text_ = read_file(config_.file).value_or("");
  open_devices();
  arm_housekeeping();
}

void Bridge::stop_devices() {
  for (auto& d : devices_)
    if (d) d->stop();
  devices_.clear();  // a HID source has joined its reader thread in stop()
}

void Bridge::stop() {
  tick_timer_.cancel();
  status_timer_.cancel();
  housekeeping_.cancel();
  status_armed_ = false;
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
  ++reloads_;
  config_errors_.clear();
  layer_changes_seen_ = mapper_->layer_changes();
  send_status(true);  // the panel shows the new mappings at once
}

bool Bridge::reload_file() {
  const auto text = read_file(config_.file);
  if (text && *text == file_text_) {  // a save without changes, or SIGHUP after a save already reloaded
    spdlog::info("{} is unchanged since it was last read; nothing to reload", config_.file);
    return config_errors_.empty();
  }
  file_text_ = text.value_or("");
  auto r = text ? load_config_text(*text, config_.file) : load_config_file(config_.file);
  if (!r.config) {
    for (const auto& e : r.errors) spdlog::error("reload: {}", e);
    spdlog::error("reload: {} has {} problem{}; keeping the running config", config_.file, r.errors.size(),
                  r.errors.size() == 1 ? "" : "s");
    config_errors_ = std::move(r.errors);
    status_changed();
    return false;
  }
  reload(std::move(*r.config));
  return true;
}

std::vector<std::string> Bridge::device_lines() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < config_.devices.size(); ++i) {
    if (i >= devices_.size() || !devices_[i]) {
      out.push_back(config_.devices[i].name + ": not opened (see the error above)");
      continue;
    }
    const auto d = devices_[i]->describe();
    out.push_back(d.label + ": " + d.kind + (d.attached.empty() ? "" : " " + d.attached) + ", " + d.state +
                  (d.counters.empty() ? "" : ", " + d.counters));
  }
  return out;
}

Status Bridge::status() const {
  Status s;
  s.file = config_.file;
  s.reloads = reloads_;
  s.config_errors = config_errors_;
  for (std::size_t i = 0; i < config_.devices.size(); ++i) {
    DeviceStatus d;
    d.name = config_.devices[i].name;
    d.kind = kind_name(config_.devices[i].kind);
    d.state = i < device_state_.size() ? device_state_[i] : "retrying";
    if (i < devices_.size() && devices_[i]) {
      const auto desc = devices_[i]->describe();
      d.attached = d.state == "open" ? desc.attached : "";
      d.detail = desc.state;
    } else {
      d.detail = "not opened";
    }
    s.devices.push_back(std::move(d));
  }
  for (std::size_t i = 0; i < config_.layers.size(); ++i) s.layers.push_back({config_.layers[i].name, mapper_->layer_on(i)});
  s.errors = errors_.entries();
  if (config_.record) s.record = mapper_->recording();
  if (link_) {
    s.read_to_sent.window = link_->read_to_sent().last_window();
    s.read_to_sent.total = link_->read_to_sent().total();
    s.read_to_sent.window_s = kWindowTicks;
  }
  return s;
}

std::string Bridge::latency_line() const {
  std::string out = "device read -> sent: ";
  if (link_) {
    const auto& st = link_->read_to_sent();
    out += "last 5 s " + to_string(st.last_window()) + "; since start " + to_string(st.total());
  } else {
    out += "none";
  }
  out += " | Blender received -> applied: ";
  if (addon_stage_name_.empty()) out += "not reported";
  else out += "last 5 s " + to_string(addon_stage_.window) + "; since start " + to_string(addon_stage_.total);
  return out;
}

void Bridge::note_error(std::string_view text) {
  errors_.add(text, unix_now());
  status_changed();
}

void Bridge::status_changed() {
  if (status_armed_ || !link_ || !link_->takes_status()) return;
  const auto due = last_status_at_ + kStatusGap;
  status_armed_ = true;
  status_timer_.expires_at(std::max(due, std::chrono::steady_clock::now()));
  status_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    status_armed_ = false;
    send_status(false);
  });
}

void Bridge::send_status(bool with_mappings) {
  if (!link_ || !link_->takes_status()) return;
  std::string line;
  if (with_mappings) codec::append_mappings(line, config_);
  std::string st;
  codec::append_status(st, status());
  if (!with_mappings && st == last_status_) return;
  last_status_ = st;
  line += st;
  if (link_->send_status(line)) last_status_at_ = std::chrono::steady_clock::now();
}

void Bridge::arm_housekeeping() {
  housekeeping_.expires_after(std::chrono::seconds(1));
  housekeeping_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    if (++housekeeping_ticks_ % kWindowTicks == 0 && link_) link_->read_to_sent().roll();
    status_changed();  // a device's details, a closed window: sent only when the line differs
    arm_housekeeping();
  });
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
  if (mapper_->layer_changes() != layer_changes_seen_ || mapper_->recording() != recording_seen_) {
    layer_changes_seen_ = mapper_->layer_changes();
    recording_seen_ = mapper_->recording();
    status_changed();
  }
}

void log_notice(Severity severity, std::string_view text) {
  switch (severity) {
    case Severity::debug: spdlog::debug("{}", text); break;
    case Severity::info: spdlog::info("{}", text); break;
    case Severity::warning: spdlog::warn("{}", text); break;
    case Severity::error: spdlog::error("{}", text); break;
  }
}

void Bridge::on_notice(std::uint16_t, Severity severity, std::string_view text) {
  log_notice(severity, text);
  if (severity >= Severity::warning) note_error(text);
}

void Bridge::on_connection(std::uint16_t device, bool connected) {
  if (connected) {
    mapper_->on_reconnect(device);
  } else {
    ++counters_.device_reconnects;
  }
  if (device < device_state_.size()) device_state_[device] = connected ? "open" : "lost";
  status_changed();
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
  note_error(what);
}

void Bridge::on_link_up(const std::string& server, const std::string& blender) {
  mapper_->on_record_state(false);  // a Blender that records says so right after the hello
  spdlog::info("blender: connected to {} (Blender {}); resending {} latest values, {} queued", server, blender,
               outbox_->stats().resynced, outbox_->pending());
  send_status(true);  // once after every connect: the mappings, then the status
}

void Bridge::on_latency(const std::string& stage, const StageStatus& figures) {
  addon_stage_name_ = stage;
  addon_stage_ = figures;
}

void Bridge::on_record(bool on) {
  if (on != mapper_->recording()) spdlog::info("blender: recording {}", on ? "on" : "off");
  mapper_->on_record_state(on);
  status_changed();
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
  if (!result.ok() && result.error != last) {
    const auto text = config_.devices[w.device].name + "." + w.control.str() + ": " + result.error;
    spdlog::warn("{}", text);
    note_error(text);
  }
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
    errors_.add("Blender refused " + text, unix_now());  // counted, not logged again
    status_changed();
    if (++repeated_remote_errors_ % 100 == 0)
      spdlog::warn("blender: the same error {} more times: {}", repeated_remote_errors_, text);
    return;
  }
  repeated_remote_errors_ = 0;
  last_remote_error_ = text;
  spdlog::warn("blender: {}", text);
  note_error("Blender refused " + text);  // the panel shows it (docs/blender.md)
}

}  // namespace knoblink
