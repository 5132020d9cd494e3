#include "devices/osc/osc_source.hpp"

#include <asio/buffer.hpp>
#include <asio/ip/address.hpp>

#include <chrono>

namespace knoblink::osc {

namespace {
constexpr int kReceiveBuffer = 1 << 20;
std::string to_text(const asio::ip::udp::endpoint& ep) { return ep.address().to_string() + ":" + std::to_string(ep.port()); }
}  // namespace

OscSource::OscSource(asio::io_context& io, std::uint16_t device, std::string label, OscConfig config, EventSink& sink)
    : device_(device),
      label_(std::move(label)),
      config_(config),
      sink_(sink),
      session_(device, std::move(config), label_),
      socket_(io),
      retry_(io) {}

OscSource::~OscSource() { stop(); }

void OscSource::start() { do_open(); }

void OscSource::stop() {
  stopped_ = true;
  state_ = "stopped";
  retry_.cancel();
  asio::error_code ec;
  socket_.close(ec);
}

void OscSource::do_open() {
  if (stopped_) return;
  const std::string where = config_.host + ":" + std::to_string(config_.port);
  asio::error_code ec;
  const auto address = asio::ip::make_address(config_.host, ec);
  if (ec) {
    state_ = "waiting: host " + config_.host + " is not an IP address";
    sink_.on_notice(device_, Severity::error, label_ + ": cannot listen on " + where + ": host is not an IP address (" +
                                                  ec.message() + "); use e.g. 127.0.0.1 or 0.0.0.0");
    return;
  }
  const asio::ip::udp::endpoint ep(address, config_.port);
  socket_.open(ep.protocol(), ec);
  if (!ec) socket_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) {
    // Room for a burst while the io thread is busy (the kernel caps it at net.core.rmem_max).
    asio::error_code ignored;
    socket_.set_option(asio::socket_base::receive_buffer_size(kReceiveBuffer), ignored);
  }
  if (!ec) socket_.bind(ep, ec);
  if (ec) {
    socket_.close();
    const auto problem = "cannot listen on UDP " + where + ": " + ec.message() + "; retrying every second";
    state_ = "waiting: " + problem;
    if (problem != last_problem_) sink_.on_notice(device_, Severity::warning, label_ + ": " + problem);
    last_problem_ = problem;
    retry_.expires_after(std::chrono::seconds(1));
    retry_.async_wait([this](const asio::error_code& e) {
      if (!e) do_open();
    });
    return;
  }
  last_problem_.clear();
  state_ = "connected";
  sink_.on_connection(device_, true);
  sink_.on_notice(device_, Severity::info, label_ + ": listening for OSC on UDP " + where);
  session_.describe(sink_);
  do_receive();
}

void OscSource::do_receive() {
  socket_.async_receive_from(asio::buffer(buf_), from_, [this](const asio::error_code& ec, std::size_t n) {
    if (ec == asio::error::operation_aborted || stopped_) return;
    if (ec) {
      sink_.on_notice(device_, Severity::warning, label_ + ": reading UDP: " + ec.message());
    } else {
      // A new sender is the device coming (back): the bridge sends it the outputs' values.
      const bool new_sender = !last_sender_ || *last_sender_ != from_;
      last_sender_ = from_;
      if (new_sender) sink_.on_connection(device_, true);
      session_.feed({buf_.data(), n}, to_text(from_), monotonic_us(), sink_);
    }
    do_receive();
  });
}

OutputResult OscSource::write_output(const Name& control, std::int32_t value) {
  std::string error;
  if (!session_.encode_output(control.view(), value, out_, error)) return {error};
  if (!socket_.is_open()) return {"not listening", true};
  if (!last_sender_) return {"no OSC sender yet (feedback goes to the address of the last sender)", true};
  asio::error_code ec;
  socket_.send_to(asio::buffer(out_), *last_sender_, 0, ec);
  if (ec) return {"sending to " + to_text(*last_sender_) + ": " + ec.message()};
  return {};
}

DeviceDescription OscSource::describe() const {
  const auto& s = session_.stats();
  return {"osc", label_, socket_.is_open() ? "udp " + config_.host + ":" + std::to_string(config_.port) : "", state_,
          "messages=" + std::to_string(s.messages) + " not_osc=" + std::to_string(s.not_osc) +
              " unknown=" + std::to_string(s.unknown)};
}

}  // namespace knoblink::osc
