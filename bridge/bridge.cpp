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

Bridge::Bridge(asio::io_context& io, Config config)
    : io_(io), config_(std::move(config)), session_(new_session()), file_text_(config_.text), base_text_(config_.text) {
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
  learn_timer_.cancel();
  armed_.reset();
  stop_devices();
  if (link_) link_->stop();
}

void Bridge::apply(Config config, const char* why) {
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
    memory_.clear();
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
  spdlog::info("{} {}: {} devices ({}), {} mappings", why, config_.file, config_.devices.size(),
               same_devices ? "kept open" : "reopened", config_.mappings.size());
  layer_changes_seen_ = mapper_->layer_changes();
  send_status(true);  // the panel shows the new mappings at once
}

bool Bridge::reload_file() {
  const auto text = read_file(config_.file);
  if (text && *text == file_text_ && base_text_ == file_text_) {  // a save without changes, or SIGHUP after a save already reloaded
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
  // The learned mappings the file could not take stay live on top of what it holds now.
  std::string error;
  auto live = compose(r.config->text, unsaved_, true, error);
  if (!live) {  // cannot be: the text loaded above
    spdlog::error("reload: {}", error);
    return false;
  }
  base_text_ = r.config->text;
  ++reloads_;  // before apply(), which sends the status
  config_errors_.clear();
  apply(std::move(*live), "reloaded");
  for (const auto& u : unsaved_) {
    const auto text_of = u.control + " -> " + u.path + " is live but not saved: " + u.reason;
    spdlog::warn("reload: learned {}", text_of);
    note_error("learned " + text_of);
  }
  return true;
}

std::optional<Config> Bridge::compose(const std::string& base, std::vector<Unsaved>& unsaved, bool reloaded,
                                      std::string& error) {
  auto loaded = load_config_text(base, config_.file);
  if (!loaded.config) {
    error = loaded.errors.front();
    return std::nullopt;
  }
  Config cfg = std::move(*loaded.config);
  const std::size_t items = cfg.mappings.size();  // every item of the list is a mapping of a loaded file
  std::erase_if(unsaved, [&](const Unsaved& u) {
    if (!reloaded) return false;
    const bool mapped = std::any_of(cfg.mappings.begin(), cfg.mappings.end(), [&](const Mapping& m) {
      return m.layer < 0 && cfg.control_name(m.control) == u.control && m.targets(u.path);
    });
    if (mapped) spdlog::info("{} maps {} to {} now; the learned mapping that was not saved gives way", config_.file,
                             u.control, u.path);
    return mapped;
  });
  for (auto it = unsaved.begin(); it != unsaved.end();) {
    std::string why;
    if (auto text = mapping_edit::append_entry(cfg.text, it->entry, why)) {
      auto next = load_config_text(text->text, config_.file);
      if (next.config) {
        cfg = std::move(*next.config);
        ++it;
        continue;
      }
      why = next.errors.front();
    }
    if (!reloaded) {
      error = why;
      return std::nullopt;
    }
    const auto dropped = "learned " + it->control + " -> " + it->path + " (not saved) no longer fits " + config_.file +
                         " and is dropped: " + why;
    spdlog::warn("reload: {}", dropped);
    note_error(dropped);
    it = unsaved.erase(it);
  }
  for (auto& m : cfg.mappings)
    if (m.item >= items && m.item - items < unsaved.size()) m.unsaved = unsaved[m.item - items].reason;
  if (overrides_) overrides_(cfg);
  return cfg;
}

std::string Bridge::out_of_sync() const {
  if (base_text_ == file_text_) return {};
  if (!config_errors_.empty())
    return "its last reload failed (" + config_errors_.front() + "), so it is not edited; fix it, save it and try again";
  return "it still holds mappings forgotten here that could not be removed from it, so it is not edited; reload it "
         "(save it, or SIGHUP) and try again";
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
    << " learned=" << counters_.learned << " forgotten=" << counters_.forgotten
    << " positions=" << counters_.positions
    << " pending=" << outbox_->pending() << " unacked=" << outbox_->unacked();
  return s.str();
}

void Bridge::on_event(const ControlEvent& e) {
  ++counters_.events;
  // A snapshot value is a position: the first one only informs, an unchanged one is
  // nothing, a changed one was a movement while the device was away (docs/devices.md).
  if (const auto input = memory_.on_input(e); input != DeviceMemory::Input::map) {
    ++counters_.positions;
    if (input == DeviceMemory::Input::inform) mapper_->on_position(e);
    learn_from(e);
    return;
  }
  if (!mapper_->on_event(e, *outbox_)) {
    ++counters_.unmapped;
    spdlog::debug("{}.{} = {} (no mapping uses it)", config_.devices[e.device].name, e.control.view(), e.value);
  } else {
    link_->kick();
    arm_tick();  // a long press or a deflected stick: due later
  }
  if (mapper_->layer_changes() != layer_changes_seen_ || mapper_->recording() != recording_seen_) {
    layer_changes_seen_ = mapper_->layer_changes();
    recording_seen_ = mapper_->recording();
    status_changed();
  }
  learn_from(e);  // after the mapping: the touch itself is not sent through the new one
}

void Bridge::learn_from(const ControlEvent& e) {
  if (learner_.waiting()) {
    ControlKind kind = e.kind;
    std::optional<std::pair<std::int32_t, std::int32_t>> range;
    if (e.device < described_.size())
      for (const auto& c : described_[e.device])
        if (c.name == e.control) {
          if (kind == ControlKind::unknown) kind = c.kind;
          if (c.has_range) range.emplace(c.min, c.max);
        }
    if (auto touched = learner_.on_event(e, kind, range)) {
      learn_timer_.cancel();
      learn(touched->first, touched->second);
    }
  }
}

// ------------------------------------------------------------------ learn and forget

namespace {
/// An answer with its op, path and reason (learn_failed, forget_failed); the rest is added.
codec::LearnAnswer answer_of(const char* op, const std::string& path, std::string reason = {}) {
  codec::LearnAnswer a;
  a.op = op;
  a.path = path;
  a.reason = std::move(reason);
  return a;
}
}  // namespace

void Bridge::answer(const codec::LearnAnswer& a) {
  std::string line;
  codec::append_learn_answer(line, a);
  if (link_) link_->send_line(std::move(line));
}

void Bridge::on_learn(const LearnRequest& request, const std::string& error) {
  if (!error.empty()) {
    spdlog::warn("learn: {}", error);
    return answer(answer_of("learn_failed", request.path, error));
  }
  if (auto replaced = learner_.start(request, monotonic_us()))
    answer(answer_of("learn_failed", replaced->path, "replaced by a learn of " + request.path));
  spdlog::info("learn: touch a control within {} s to map it to {}", Learner::kTimeoutUs / 1'000'000, request.path);
  arm_learn();
}

void Bridge::arm_learn() {
  const auto deadline = learner_.deadline();
  if (!deadline) return;
  learn_timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::microseconds(*deadline)));
  learn_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    if (auto expired = learner_.expire(monotonic_us())) {
      const auto reason = "no control touched within " + std::to_string(Learner::kTimeoutUs / 1'000'000) + " s";
      spdlog::info("learn: {}: {}", expired->path, reason);
      answer(answer_of("learn_failed", expired->path, reason));
    } else {
      arm_learn();  // a newer learn started meanwhile
    }
  });
}

void Bridge::learn(const LearnRequest& request, const Touched& touched) {
  const std::string control = config_.control_name({touched.device, touched.control});
  auto a = answer_of("learn_failed", request.path);
  a.control = control;
  const auto made = learned_mapping(request, control, touched.kind);
  if (!made.error.empty()) {
    spdlog::warn("learn: {}", made.error);
    a.reason = made.error;
    return answer(a);
  }
  // Live first (what runs plus the entry; it replaces an unsaved learn of the same control
  // and target), checked before the file is touched.
  auto unsaved = unsaved_;
  std::erase_if(unsaved, [&](const Unsaved& u) { return u.control == control && u.path == request.path; });
  unsaved.push_back({made.entry, control, request.path, {}});
  std::string error;
  auto live = compose(base_text_, unsaved, false, error);
  if (!live) {
    a.reason = "cannot add the mapping to " + config_.file + ": " + error;
    spdlog::warn("learn: {}", a.reason);
    return answer(a);
  }
  // Then the file: its text plus the entry.
  int line = 0;
  std::string written;
  const auto not_saved = save_edit(
      config_.file, file_text_,
      [&](const std::string& text, std::string& err) -> std::optional<std::string> {
        if (err = out_of_sync(); !err.empty()) return std::nullopt;
        auto r = mapping_edit::append_entry(text, made.entry, err);
        if (!r) return std::nullopt;
        line = r->line;
        return std::move(r->text);
      },
      &written);
  if (not_saved.empty()) {  // the file's own now
    unsaved.pop_back();
    base_text_ = file_text_ = written;
  } else {
    unsaved.back().reason = not_saved;
  }
  if (auto now = compose(base_text_, unsaved, false, error)) live = std::move(now);
  else spdlog::error("learn: {}", error);  // cannot be: the same mappings loaded above
  unsaved_ = std::move(unsaved);
  apply(std::move(*live), "learned into");
  ++counters_.learned;
  a.op = "learned";
  a.mapping = made.what;
  a.file = config_.file;
  if (not_saved.empty()) {
    a.line = line;
    spdlog::info("learn: {} -> {} ({}), {} line {}", control, request.path, made.what, config_.file, line);
  } else {
    a.reason = not_saved + "; the mapping is live, not saved, until knoblink stops";
    spdlog::warn("learn: {} -> {} ({}) is live but not saved: {}", control, request.path, made.what, a.reason);
    note_error("learned " + control + " -> " + request.path + " is live but not saved: " + not_saved);
  }
  answer(a);
}

void Bridge::on_forget(const std::string& path, const std::string& error) {
  auto a = answer_of("forget_failed", path);
  a.file = config_.file;
  if (!error.empty()) {
    a.reason = error;
    spdlog::warn("forget: {}", error);
    return answer(a);
  }
  // The file's items that target path, and the unsaved learns that do.
  std::vector<std::size_t> items;
  const auto file_items = config_.mappings.size() - unsaved_.size();  // the unsaved ones come last
  for (const auto& m : config_.mappings)
    if (m.item < file_items && m.targets(path)) items.push_back(m.item);
  auto unsaved = unsaved_;
  const auto live_only = std::erase_if(unsaved, [&](const Unsaved& u) { return u.path == path; });
  if (items.empty() && live_only == 0) {
    a.reason = "no mapping of " + config_.file + " targets " + path;
    spdlog::info("forget: {}", a.reason);
    return answer(a);
  }
  // Live first: what runs without them, checked before the file is touched.
  std::string why, base = base_text_;
  std::vector<int> lines;
  if (!items.empty()) {
    auto cut = mapping_edit::remove_entries(base_text_, items, why);
    if (cut) {
      base = std::move(cut->text);
      lines = std::move(cut->lines);
    }
  }
  auto live = why.empty() ? compose(base, unsaved, false, why) : std::nullopt;
  if (!live) {
    a.reason = "cannot remove the mappings of " + path + " from " + config_.file + ": " + why;
    spdlog::warn("forget: {}", a.reason);
    return answer(a);
  }
  std::string not_saved, written;
  if (!items.empty())
    not_saved = save_edit(
        config_.file, file_text_,
        [&](const std::string& text, std::string& err) -> std::optional<std::string> {
          if (err = out_of_sync(); !err.empty()) return std::nullopt;
          auto r = mapping_edit::remove_entries(text, items, err);
          if (!r) return std::nullopt;
          return std::move(r->text);
        },
        &written);
  if (!items.empty() && not_saved.empty()) file_text_ = written;
  base_text_ = std::move(base);  // without them, written or not
  unsaved_ = std::move(unsaved);
  apply(std::move(*live), "forgot in");
  const auto count = items.size() + static_cast<std::size_t>(live_only);
  counters_.forgotten += count;
  a.op = "forgot";
  a.count = static_cast<int>(count);
  if (not_saved.empty()) {
    a.lines = lines;
    spdlog::info("forget: {} mappings of {} removed ({} from {})", count, path, items.size(), config_.file);
  } else {
    a.reason = not_saved + "; the mappings are gone until knoblink stops or the file is reloaded";
    spdlog::warn("forget: {} mappings of {} removed, but not from the file: {}", count, path, a.reason);
  }
  answer(a);
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
  memory_.forget_written(device);  // (re)opened or gone: it has none of its outputs now
  if (device < device_state_.size()) device_state_[device] = connected ? "open" : "lost";
  status_changed();
  if (!connected) {
    ++counters_.device_reconnects;
    return;
  }
  // Its outputs are set from the latest values (watched, written while it was away).
  const auto& outputs = memory_.outputs(device);
  for (std::size_t i = 0; i < outputs.size(); ++i) send_output(device, outputs[i].control, outputs[i].value);
  mapper_->on_reconnect(device);
}

void Bridge::on_control(std::uint16_t device, const ControlInfo& info) {
  if (described_.size() <= device) described_.resize(device + 1u);
  auto& known = described_[device];
  const auto it = std::find_if(known.begin(), known.end(), [&](const ControlInfo& c) { return c.name == info.name; });
  if (it == known.end()) known.push_back(info);
  else *it = info;
  if (const auto warning = mapper_->on_control(device, info); !warning.empty()) spdlog::warn("{}", warning);
  if (info.kind == ControlKind::out) {  // described after a reboot or a '?': set it again
    memory_.forget_written(device, info.name);
    for (const auto& o : memory_.outputs(device))
      if (o.control == info.name) return send_output(device, o.control, o.value);
  }
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
  if (memory_.set_output(w.device, w.control, w.value)) send_output(w.device, w.control, w.value);
}

void Bridge::send_output(std::uint16_t device, const Name& control, std::int32_t value) {
  if (device >= devices_.size() || !devices_[device]) return;  // its error was logged when opening
  auto result = devices_[device]->write_output(control, value);
  memory_.output_written(device, control, result.ok());
  std::string& last = output_errors_[device];
  if (!result.ok() && result.error != last) {
    const auto text = config_.control_name({device, control}) + ": " + result.error;
    if (result.away) {
      spdlog::info("{}", text);  // written again when the device is back: not a problem to show
    } else {
      spdlog::warn("{}", text);
      note_error(text);
    }
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
