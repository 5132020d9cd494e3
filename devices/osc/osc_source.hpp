// An OSC sender (TouchOSC, Open Stage Control) as a source of ControlEvents (docs/osc.md):
// a UDP socket on the bridge's io_context, bound to host:port (loopback unless the file
// says otherwise); every packet goes to the pure Session; feedback goes back to the
// address of the last sender.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "devices/device_source.hpp"
#include "devices/event_sink.hpp"
#include "devices/osc/osc_session.hpp"

namespace knoblink::osc {

class OscSource final : public DeviceSource {
 public:
  /// Everything runs on io's thread, and so do the sink calls.
  OscSource(asio::io_context& io, std::uint16_t device, std::string label, OscConfig config, EventSink& sink);
  ~OscSource() override;
  /// Binds the socket (retrying every second while the port is taken) and starts reading.
  void start() override;
  void stop() override;
  /// Sends control's value to the last sender's address (io thread).
  OutputResult write_output(const Name& control, std::int32_t value) override;
  DeviceDescription describe() const override;
  const SessionStats& stats() const { return session_.stats(); }

 private:
  void do_open();
  void do_receive();

  const std::uint16_t device_;
  const std::string label_;
  const OscConfig config_;
  EventSink& sink_;
  Session session_;
  asio::ip::udp::socket socket_;
  asio::steady_timer retry_;
  asio::ip::udp::endpoint from_;
  std::optional<asio::ip::udp::endpoint> last_sender_;
  std::array<std::uint8_t, 65536> buf_{};
  std::vector<std::uint8_t> out_;
  std::string last_problem_, state_ = "not started";
  bool stopped_ = false;
};

}  // namespace knoblink::osc
