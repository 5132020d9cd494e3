#include "devices/serial_source.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <asio/read.hpp>
#include <asio/write.hpp>

namespace knoblink {

namespace {
constexpr auto kMaxBackoff = std::chrono::milliseconds(2000);
constexpr auto kProbeTime = std::chrono::milliseconds(2500);

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
}  // namespace

void SerialPorts::release(const std::string& path) {
  if (auto it = std::find(held_.begin(), held_.end(), path); it != held_.end()) held_.erase(it);
}

bool SerialPorts::held(const std::string& path) const { return contains(held_, path); }

SerialSource::SerialSource(asio::io_context& io, std::uint16_t index, std::string label, SerialConfig config,
                           EventSink& sink, std::shared_ptr<SerialPorts> ports, std::shared_ptr<Hotplug> hotplug)
    : index_(index),
      label_(std::move(label)),
      config_(std::move(config)),
      sink_(sink),
      ports_(ports ? std::move(ports) : std::make_shared<SerialPorts>()),
      hotplug_(std::move(hotplug)),
      session_(index, label_, config_.uid.empty() ? std::nullopt : parse_uid(config_.uid), sink),
      stream_(io),
      timer_(io) {}

SerialSource::~SerialSource() { stop(); }

void SerialSource::start() {
  stopped_ = false;
  if (hotplug_) {
    // A port given by path: its folder (a pty's link, /dev/serial/by-id) and any tty added
    // (the link may point at it); port: auto: any tty added, ttyUSB*/ttyACM* in /dev.
    HotplugInterest interest;
    interest.subsystems = {"tty"};
    if (config_.port == "auto") interest.dev_prefixes = {"ttyUSB", "ttyACM"};
    else interest.path = config_.port;
    watching_ = hotplug_->watch(std::move(interest), [this](const std::string& what) { on_appeared(what); });
    if (const auto problem = hotplug_->problem(); !problem.empty())
      sink_.on_notice(index_, Severity::debug, label_ + ": hot-plug: " + problem + "; reopening on a timer only");
  }
  do_open();
}

void SerialSource::on_appeared(const std::string& what) {
  if (stopped_ || !waiting_) return;
  sink_.on_notice(index_, Severity::info, label_ + ": " + what + "; opening it now");
  waiting_ = false;
  timer_.cancel();  // its handler sees operation_aborted
  backoff_ = std::chrono::milliseconds(100);  // the device is coming: if it is not ready yet, look again soon
  do_open();
}

void SerialSource::stop() {
  stopped_ = true;
  waiting_ = false;
  watching_.reset();
  timer_.cancel();
  close_port();
  session_.close();
}

void SerialSource::close_port() {
  asio::error_code ignored;
  if (stream_.is_open()) stream_.close(ignored);  // cancels the read; its handler sees operation_aborted
  port_.close();
  if (!claimed_.empty()) ports_->release(claimed_);
  claimed_.clear();
}

std::vector<std::string> SerialSource::candidates(std::string& error) const {
  if (config_.port != "auto") return {config_.port};
  std::vector<std::string> out;
  for (const auto& p : ports_->list(error))
    if (port_matches(p, config_.match) && (p.transport == "usb" || !config_.match.empty())) out.push_back(p.path);
  return out;
}

void SerialSource::do_open() {
  if (stopped_) return;
  std::string error;
  candidates_ = candidates(error);
  candidate_ = 0;
  skipped_.clear();
  // Ports last seen with another box go last, so that two sources waiting for each
  // other's boxes swap instead of probing the same port in step.
  std::erase_if(other_uid_, [&](const std::string& p) { return !contains(candidates_, p); });
  std::stable_partition(candidates_.begin(), candidates_.end(),
                        [&](const std::string& p) { return !contains(other_uid_, p); });
  if (candidates_.empty()) {
    schedule_reopen(error.empty() ? "no USB serial port" + (config_.match.empty() ? std::string() : " matching " + config_.match) +
                                        " found; plug the device in, or give port: /dev/... (see `knoblink list`)"
                                  : error);
    return;
  }
  try_candidate();
}

void SerialSource::next_candidate() {
  close_port();
  session_.close();
  ++candidate_;
  try_candidate();
}

void SerialSource::try_candidate() {
  if (stopped_) return;
  if (candidate_ >= candidates_.size()) {
    std::string why = "no serial device" + (config_.uid.empty() ? std::string() : " with uid=" + config_.uid) +
                      " said hello on " + std::to_string(candidates_.size()) + " port(s)";
    if (!skipped_.empty()) why += " (skipped " + skipped_ + ")";
    schedule_reopen(why);
    return;
  }
  const std::string& path = candidates_[candidate_];
  const bool probing = config_.port == "auto";
  if (probing && ports_->held(path)) {
    skipped_ += (skipped_.empty() ? "" : ", ") + path + " in use by another device";
    ++candidate_;
    try_candidate();
    return;
  }
  std::string error;
  port_ = SerialPort::open(path, config_.baud, error);
  if (!port_.is_open()) {
    if (config_.port != "auto") {
      schedule_reopen(error);
      return;
    }
    ++candidate_;
    try_candidate();
    return;
  }
  asio::error_code ec;
  stream_.assign(::dup(port_.fd()), ec);
  if (ec) {
    port_.close();
    schedule_reopen("cannot watch " + path + ": " + ec.message());
    return;
  }
  ports_->claim(path);
  claimed_ = path;
  session_.open(path, port_.backend(), probing);
  if (probing) {
    timer_.expires_after(kProbeTime);
    timer_.async_wait([this](const asio::error_code& e) {
      if (e || stopped_ || session_.state() != SerialSession::State::probing) return;
      next_candidate();
    });
  } else {
    backoff_ = std::chrono::milliseconds(100);
    last_problem_.clear();
  }
  out_pending_.clear();
  request_description();
  do_read();
}

void SerialSource::do_read() {
  // Wait for readiness, then read ourselves: a raw tty with VMIN=0 (as libserialport
  // leaves it) returns 0 both for "no data" and after an unplug, so 0 alone means
  // nothing; POLLHUP/POLLERR or a read error means the device is gone.
  stream_.async_wait(asio::posix::descriptor_base::wait_read, [this](const asio::error_code& ec) {
    if (ec == asio::error::operation_aborted || stopped_ || !stream_.is_open()) return;
    if (ec) return lost("cannot wait for data: " + ec.message());
    const int fd = stream_.native_handle();
    const ssize_t n = ::read(fd, rbuf_.data(), rbuf_.size());
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return lost(errno == EIO ? std::string("the device hung up (unplugged?)") : std::string("read failed: ") + std::strerror(errno));
    if (n == 0) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)))
        return lost("the device hung up (unplugged?)");
    }
    if (n > 0) {
      const bool was_probing = session_.state() == SerialSession::State::probing;
      switch (session_.feed(std::string_view(rbuf_.data(), static_cast<std::size_t>(n)), monotonic_us())) {
        case SerialSession::State::connected:
          if (was_probing) {  // the hello came: this port is ours
            timer_.cancel();
            std::erase(other_uid_, session_.path());
            backoff_ = std::chrono::milliseconds(100);
            last_problem_.clear();
          }
          break;
        case SerialSession::State::rejected:  // another box (uid): leave it to other devices
          skipped_ += (skipped_.empty() ? "" : ", ") + std::string("uid=") + session_.uid() + " on " + session_.path();
          if (!contains(other_uid_, session_.path())) other_uid_.push_back(session_.path());
          timer_.cancel();
          return next_candidate();
        case SerialSession::State::probing:
        case SerialSession::State::closed: break;
      }
    }
    if (stream_.is_open()) do_read();
  });
}

void SerialSource::lost(const std::string& why) {
  close_port();
  writing_ = false;
  if (session_.state() == SerialSession::State::probing) {
    timer_.cancel();
    session_.close();
    ++candidate_;
    try_candidate();
    return;
  }
  if (session_.lost(why)) last_problem_ = why;  // said just now: schedule_reopen need not say it again
  backoff_ = std::chrono::milliseconds(100);
  schedule_reopen(why);
}

void SerialSource::schedule_reopen(const std::string& why) {
  if (stopped_) return;
  if (why != last_problem_) {
    sink_.on_notice(index_, Severity::warning, label_ + ": " + why + "; retrying");
    last_problem_ = why;
  }
  timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kMaxBackoff));
  waiting_ = true;
  timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || !waiting_) return;
    waiting_ = false;
    do_open();
  });
}

void SerialSource::request_description() {
  if (!stream_.is_open()) return;
  out_pending_ += "?\n";
  do_write();
}

OutputResult SerialSource::write_output(const Name& control, std::int32_t value) {
  const std::string name(control.view());
  if (!session_.connected())
    return {"not connected (" + (last_problem_.empty() ? std::string("opening") : last_problem_) + "); value " +
            std::to_string(value) + " kept for when it is back", true};
  if (const auto kind = session_.kind_of(control); kind != ControlKind::unknown && kind != ControlKind::out)
    return {"the device describes it as " + std::string(to_string(kind)) + ", not as an output (out); not sent"};
  char line[knoblink_proto::kMaxLine + 1];
  const auto n = knoblink_proto::format_event(line, sizeof line, name.c_str(), value);
  out_pending_.append(line, n);
  do_write();
  return {};
}

DeviceDescription SerialSource::describe() const {
  DeviceDescription d{"serial", label_, session_.path(), {}, {}};
  switch (session_.state()) {
    case SerialSession::State::connected: d.state = "connected"; break;
    case SerialSession::State::probing: d.state = "probing " + session_.path(); d.attached.clear(); break;
    case SerialSession::State::rejected:
    case SerialSession::State::closed:
      d.attached.clear();
      d.state = stopped_ ? "stopped" : "waiting: " + (last_problem_.empty() ? std::string("opening") : last_problem_);
      break;
  }
  return d;
}

void SerialSource::do_write() {
  if (writing_ || out_pending_.empty() || !stream_.is_open()) return;
  writing_ = true;
  out_writing_.swap(out_pending_);
  out_pending_.clear();
  asio::async_write(stream_, asio::buffer(out_writing_), [this](const asio::error_code& ec, std::size_t) {
    if (ec == asio::error::operation_aborted) return;  // stopped: this may be going away
    writing_ = false;
    out_writing_.clear();
    if (ec) return;  // the read side notices a vanished device and reopens
    do_write();
  });
}

}  // namespace knoblink
