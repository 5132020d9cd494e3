#include "devices/serial_source.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <asio/read.hpp>
#include <asio/write.hpp>

namespace knoblink {

namespace {
constexpr auto kMaxBackoff = std::chrono::milliseconds(2000);
constexpr auto kProbeTime = std::chrono::milliseconds(2500);

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

SerialSource::SerialSource(asio::io_context& io, std::uint16_t index, std::string label, SerialSpec spec,
                           EventSink& sink)
    : io_(io), index_(index), label_(std::move(label)), spec_(std::move(spec)), sink_(sink), stream_(io), timer_(io) {}

SerialSource::~SerialSource() { stop(); }

void SerialSource::start() {
  stopped_ = false;
  do_open();
}

void SerialSource::stop() {
  stopped_ = true;
  timer_.cancel();
  asio::error_code ignored;
  if (stream_.is_open()) stream_.close(ignored);
  port_.close();
  connected_ = false;
}

std::vector<std::string> SerialSource::candidates(std::string& error) const {
  if (spec_.port != "auto") return {spec_.port};
  std::vector<std::string> out;
  for (const auto& p : list_serial_ports(error))
    if (port_matches(p, spec_.match) && (p.transport == "usb" || !spec_.match.empty())) out.push_back(p.path);
  return out;
}

void SerialSource::do_open() {
  if (stopped_) return;
  std::string error;
  candidates_ = candidates(error);
  candidate_ = 0;
  if (candidates_.empty()) {
    schedule_reopen(error.empty() ? "no USB serial port" + (spec_.match.empty() ? std::string() : " matching " + spec_.match) +
                                        " found; plug the device in, or give port: /dev/... (see `knoblink list`)"
                                  : error);
    return;
  }
  try_candidate();
}

void SerialSource::try_candidate() {
  if (stopped_) return;
  if (candidate_ >= candidates_.size()) {
    schedule_reopen("no serial device said hello on " + std::to_string(candidates_.size()) + " port(s)");
    return;
  }
  const std::string& path = candidates_[candidate_];
  std::string error;
  port_ = SerialPort::open(path, spec_.baud, error);
  if (!port_.is_open()) {
    if (spec_.port != "auto") {
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
  decoder_.reset();
  controls_.clear();
  path_ = path;
  probing_ = spec_.port == "auto";
  if (probing_) {
    timer_.expires_after(kProbeTime);
    timer_.async_wait([this](const asio::error_code& e) {
      if (e || stopped_ || !probing_) return;
      asio::error_code ignored;
      stream_.close(ignored);  // cancels the read; its handler sees operation_aborted
      port_.close();
      ++candidate_;
      try_candidate();
    });
  } else {
    connected_ = true;
    backoff_ = std::chrono::milliseconds(100);
    last_problem_.clear();
    sink_.on_notice(index_, Severity::info, label_ + ": opened " + path + " (" + port_.backend() + ")");
    sink_.on_connection(index_, true);
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
    if (n > 0)
      decoder_.feed(std::string_view(rbuf_.data(), static_cast<std::size_t>(n)),
                    [this](const DecodedLine& l) { on_line(l); });
    if (stream_.is_open()) do_read();
  });
}

void SerialSource::on_line(const DecodedLine& line) {
  std::visit(
      [this](const auto& l) {
        using T = std::decay_t<decltype(l)>;
        if constexpr (std::is_same_v<T, HelloLine>) {
          if (probing_) {
            probing_ = false;
            timer_.cancel();
            connected_ = true;
            backoff_ = std::chrono::milliseconds(100);
            last_problem_.clear();
            sink_.on_notice(index_, Severity::info,
                            label_ + ": found " + std::string(l.device) + " on " + path_ + " (" + port_.backend() + ")");
            sink_.on_connection(index_, true);
          }
          if (l.version > knoblink_proto::kVersion) {
            sink_.on_notice(index_, Severity::error,
                            label_ + ": the device on " + path_ + " speaks knoblink protocol v" +
                                std::to_string(l.version) + "; this knoblink speaks v" +
                                std::to_string(knoblink_proto::kVersion) +
                                ": update knoblink (lines it understands are still used)");
          }
          sink_.on_notice(index_, Severity::debug,
                          label_ + ": hello from " + std::string(l.device) +
                              (l.uid.empty() ? std::string() : " uid=" + std::string(l.uid)));
        } else if constexpr (std::is_same_v<T, CtlLine>) {
          bool known = false;
          for (auto& c : controls_)
            if (c.name == l.name) {
              c.kind = l.kind;
              known = true;
            }
          if (!known) controls_.push_back({l.name, l.kind});
          sink_.on_control(index_, l);
        } else if constexpr (std::is_same_v<T, EndLine>) {
          sink_.on_notice(index_, Severity::debug,
                          label_ + ": described " + std::to_string(controls_.size()) + " controls");
        } else if constexpr (std::is_same_v<T, EventLine>) {
          if (probing_) return;  // not ours until it says hello
          ControlEvent e;
          e.device = index_;
          e.control = l.name;
          e.value = l.value;
          e.t_us = now_us();
          for (const auto& c : controls_)
            if (c.name == l.name) e.kind = c.kind;
          sink_.on_event(e);
        } else if constexpr (std::is_same_v<T, LogLine>) {
          sink_.on_notice(index_, Severity::info, label_ + " says: " + std::string(l.text));
        } else {
          sink_.on_malformed(index_, label_ + " (" + path_ + "): skipped a line: " + std::string(l.reason) +
                                         ": \"" + escape_bytes(l.bytes) + "\"" +
                                         (l.length > l.bytes.size() ? "..." : ""));
        }
      },
      line);
}

void SerialSource::lost(const std::string& why) {
  asio::error_code ignored;
  stream_.close(ignored);
  port_.close();
  const bool was = connected_;
  connected_ = false;
  writing_ = false;
  if (probing_) {
    probing_ = false;
    timer_.cancel();
    ++candidate_;
    try_candidate();
    return;
  }
  if (decoder_.pending()) sink_.on_notice(index_, Severity::warning, label_ + ": a partial line was cut off by the disconnect");
  decoder_.reset();
  if (was) {
    sink_.on_notice(index_, Severity::warning, label_ + ": lost " + path_ + ": " + why + "; reopening");
    sink_.on_connection(index_, false);
    last_problem_ = why;  // said just now: schedule_reopen need not say it again
  }
  path_.clear();
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
  timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec) do_open();
  });
}

void SerialSource::request_description() {
  if (!stream_.is_open()) return;
  out_pending_ += "?\n";
  do_write();
}

void SerialSource::write_output(const Name& control, std::int32_t value) {
  if (!connected_) return;
  char line[knoblink_proto::kMaxLine + 1];
  const std::string name(control.view());
  const auto n = knoblink_proto::format_event(line, sizeof line, name.c_str(), value);
  out_pending_.append(line, n);
  do_write();
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
