// A serial device kept open: finds and opens the port, asks for the description,
// passes what it reads to its SerialSession (which decodes Contract 1, docs/firmware.md),
// writes outputs, and when the device vanishes (unplug: hangup or read error) reopens it
// with backoff, forever. Only I/O lives here.
#pragma once

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "devices/device_source.hpp"
#include "devices/event_sink.hpp"
#include "devices/serial_config.hpp"
#include "devices/serial_port.hpp"
#include "devices/serial_session.hpp"

namespace knoblink {

class SerialSource final : public DeviceSource {
 public:
  /// index: the device's index in the bridge; label: its name in messages. The config's
  /// uid must be empty or valid hex (the config parser checks it).
  SerialSource(asio::io_context& io, std::uint16_t index, std::string label, SerialConfig config, EventSink& sink);
  ~SerialSource() override;
  SerialSource(const SerialSource&) = delete;
  SerialSource& operator=(const SerialSource&) = delete;

  /// Starts opening the port (and keeps reopening it).
  void start() override;
  /// Closes the port and stops retrying.
  void stop() override;
  /// Queues "<name> <value>" for the device; an error while not connected or when the
  /// device described the control as something other than an output.
  OutputResult write_output(const Name& control, std::int32_t value) override;
  DeviceDescription describe() const override;
  /// Asks the device to describe itself again ("?").
  void request_description();
  /// The path of the open port, empty when not connected.
  const std::string& path() const { return session_.path(); }
  bool connected() const { return session_.connected(); }

 private:
  void do_open();
  void try_candidate();
  void next_candidate();
  void do_read();
  void do_write();
  void lost(const std::string& why);
  void schedule_reopen(const std::string& why);
  std::vector<std::string> candidates(std::string& error) const;

  std::uint16_t index_;
  std::string label_;
  SerialConfig config_;
  EventSink& sink_;
  SerialSession session_;
  asio::posix::stream_descriptor stream_;
  asio::steady_timer timer_;
  SerialPort port_;
  std::array<char, 512> rbuf_{};
  std::string out_pending_, out_writing_;
  std::vector<std::string> candidates_;
  std::size_t candidate_ = 0;
  std::string skipped_;  ///< auto mode with uid: the other uids seen in this round of candidates
  bool stopped_ = true;
  bool writing_ = false;
  std::string last_problem_;  ///< to say a repeated open failure once
  std::chrono::milliseconds backoff_{100};
};

}  // namespace knoblink
