#include "devices/hid/hid_source.hpp"

#include <chrono>
#include <cstdio>

namespace knoblink::hid {
namespace {

std::string hex4(std::uint16_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04x", v);
  return buf;
}

std::optional<std::uint16_t> parse_hex16(std::string_view s) {
  const auto v = parse_hex(s, 4);
  if (!v) return std::nullopt;
  return static_cast<std::uint16_t>(*v);
}

std::string hex_bytes(std::span<const std::uint8_t> bytes) {
  std::string out;
  char buf[4];
  for (std::size_t i = 0; i < bytes.size() && i < 64; ++i) {
    std::snprintf(buf, sizeof buf, i ? " %02x" : "%02x", bytes[i]);
    out += buf;
  }
  if (bytes.size() > 64) out += " ...";
  return out;
}

}  // namespace

std::optional<HidMatch> HidMatch::parse(std::string_view text, std::string& error) {
  const auto colon = text.find(':');
  const auto colon2 = colon == std::string_view::npos ? colon : text.find(':', colon + 1);
  HidMatch m;
  const auto vid = parse_hex16(text.substr(0, colon));
  const auto pid = colon == std::string_view::npos ? std::nullopt
                                                   : parse_hex16(text.substr(colon + 1, colon2 - colon - 1));
  if (!vid || !pid) {
    error = "HID match \"" + std::string(text) + "\" is not VID:PID[:serial] with hex IDs, e.g. 2341:8036 or 2341:8036:KB0001";
    return std::nullopt;
  }
  m.vid = *vid;
  m.pid = *pid;
  if (colon2 != std::string_view::npos) m.serial = std::string(text.substr(colon2 + 1));
  return m;
}

bool HidMatch::matches(const HidDeviceInfo& info) const {
  return info.vid == vid && info.pid == pid && (serial.empty() || info.serial == serial);
}

std::string HidMatch::str() const {
  return hex4(vid) + ":" + hex4(pid) + (serial.empty() ? "" : ":" + serial);
}

std::string sysfs_descriptor_path(std::string_view hidraw_path) {
  const auto slash = hidraw_path.rfind('/');
  const auto node = slash == std::string_view::npos ? hidraw_path : hidraw_path.substr(slash + 1);
  return "/sys/class/hidraw/" + std::string(node) + "/device/report_descriptor";
}

HidSource::HidSource(std::uint16_t device, HidMatch match, EventSink& sink, std::shared_ptr<HidBackend> backend,
                     HidSourceOptions options)
    : device_(device),
      match_(std::move(match)),
      sink_(sink),
      backend_(backend ? std::move(backend) : std::shared_ptr<HidBackend>(make_hidapi_backend())),
      options_(options),
      buf_(options.max_report) {
  events_.reserve(64);
}

HidSource::~HidSource() { stop(); }

void HidSource::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void HidSource::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HidSource::rescan() {
  {
    std::lock_guard lock(mutex_);
    if (handle_) return;  // open: nothing to look for
    rescan_ = true;
  }
  wake_.notify_all();
}

void HidSource::run() {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    const Step s = step(monotonic_us());
    if (s == Step::waiting || s == Step::disconnected) {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(options_.retry_ms), [this] { return stopping_ || rescan_; });
      rescan_ = false;
    }
  }
}

void HidSource::notice(Severity severity, const std::string& text) {
  sink_.on_notice(device_, severity, options_.label.empty() ? text : options_.label + ": " + text);
}

void HidSource::problem(Severity severity, const std::string& text) {
  if (text == last_problem_) return;
  last_problem_ = text;
  {
    std::lock_guard lock(mutex_);
    waiting_ = text;
  }
  notice(severity, text);
}

HidSource::Step HidSource::try_open() {
  const std::string what = "HID device " + match_.str();
  const HidDeviceInfo* found = nullptr;
  const auto devices = backend_->enumerate();
  for (const auto& d : devices)
    if (match_.matches(d)) {
      found = &d;
      break;
    }
  if (!found) {
    problem(Severity::info, "waiting for " + what + ": not connected");
    return Step::waiting;
  }
  std::string error;
  const auto bytes = backend_->report_descriptor(found->path, error);
  if (bytes.empty()) {
    problem(Severity::error, what + ": " + error);
    return Step::waiting;
  }
  ParseResult parsed = parse_descriptor(bytes);
  if (!parsed.descriptor) {
    problem(Severity::error, what + " at " + found->path + ": bad report descriptor: " + parsed.error);
    return Step::waiting;
  }
  std::shared_ptr<HidHandle> handle = backend_->open(found->path, error);
  if (!handle) {
    problem(Severity::error, what + ": " + error);
    return Step::waiting;
  }
  path_ = found->path;
  descriptor_ = std::make_unique<HidDescriptor>(std::move(*parsed.descriptor));
  decoder_ = std::make_unique<ReportDecoder>(*descriptor_, device_);
  {
    std::lock_guard lock(mutex_);
    handle_ = std::move(handle);
    attached_ = path_;
    waiting_.clear();
    outputs_ = std::make_unique<OutputState>(*descriptor_);
    ++stats_.connects;
  }
  connected_ = true;
  last_problem_.clear();
  sink_.on_connection(device_, true);
  notice(Severity::info,
                  "opened " + what + " (" + found->product + ") at " + path_ + ": " +
                      std::to_string(descriptor_->controls.size()) + " controls");
  for (const auto& w : descriptor_->warnings)
    notice(Severity::warning, what + " report descriptor: " + w);
  for (const auto& c : descriptor_->controls) sink_.on_control(device_, c.info);
  return Step::connected;
}

HidSource::Step HidSource::step(std::int64_t now_us) {
  std::shared_ptr<HidHandle> handle;
  {
    std::lock_guard lock(mutex_);
    handle = handle_;
  }
  if (!handle) return try_open();

  const ReadResult r = handle->read(buf_, options_.read_timeout_ms);
  switch (r.status) {
    case ReadStatus::timeout: return Step::timeout;
    case ReadStatus::disconnected: {
      {
        std::lock_guard lock(mutex_);
        handle_.reset();
        attached_.clear();
        outputs_.reset();
        ++stats_.disconnects;
      }
      connected_ = false;
      decoder_.reset();
      sink_.on_connection(device_, false);
      problem(Severity::warning, "HID device " + match_.str() + " disconnected: " + r.error);
      return Step::disconnected;
    }
    case ReadStatus::report: break;
  }
  const auto report = std::span<const std::uint8_t>(buf_).first(r.size);
  events_.clear();
  const DecodeStatus status = decoder_->decode(report, now_us, events_);
  if (status != DecodeStatus::ok) {
    std::uint64_t n;
    {
      std::lock_guard lock(mutex_);
      n = ++stats_.malformed;
    }
    // The first few in full, then every 1000th, so a babbling device cannot flood the log.
    if (n <= 5 || n % 1000 == 0) {
      std::string text = "HID device " + match_.str() + " at " + path_ + ": malformed report #" + std::to_string(n) +
                         " (" + std::string(to_string(status));
      if (status == DecodeStatus::too_short)
        text += ": " + std::to_string(r.size) + " bytes, expected " + std::to_string(decoder_->expected_size(descriptor_->numbered ? report[0] : 0));
      sink_.on_malformed(device_, text + "): " + hex_bytes(report));
    }
    return Step::malformed;
  }
  {
    std::lock_guard lock(mutex_);
    ++stats_.reports;
  }
  for (const auto& e : events_) sink_.on_event(e);
  return Step::report;
}

std::string HidSource::write_output(std::string_view control, std::int32_t value) {
  std::vector<std::uint8_t> report;
  std::shared_ptr<HidHandle> handle;
  {
    std::lock_guard lock(mutex_);
    if (!handle_ || !outputs_) return "HID device " + match_.str() + " is not connected";
    if (auto error = outputs_->set(control, value, report); !error.empty())
      return "HID device " + match_.str() + ": " + error;
    handle = handle_;
  }
  return handle->write(report);
}

DeviceDescription HidSource::describe() const {
  std::lock_guard lock(mutex_);
  DeviceDescription d{"hid", options_.label, attached_, {}, {}};
  if (handle_) d.state = "connected";
  else if (!thread_.joinable()) d.state = "stopped";
  else d.state = "waiting: " + (waiting_.empty() ? "looking for HID device " + match_.str() : waiting_);
  return d;
}

HidSourceStats HidSource::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace knoblink::hid
