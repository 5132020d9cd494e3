// A serial device kept open: finds and opens the port, asks for the description,
// passes what it reads to its SerialSession (which decodes Contract 1, docs/firmware.md),
// writes outputs, and when the device vanishes (unplug: hangup or read error) reopens it
// at once when its port appears (Hotplug), with backoff as the fallback, forever. Only
// I/O lives here.
#pragma once

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "devices/device_source.hpp"
#include "devices/event_sink.hpp"
#include "devices/hotplug.hpp"
#include "devices/serial_config.hpp"
#include "devices/serial_port.hpp"
#include "devices/serial_session.hpp"

namespace knoblink {

/// The serial ports as the sources of one bridge see them: what the system lists, and
/// which of them a source holds open, so that port: auto never probes a port another
/// device holds (its bytes would be split between two readers, and another device's box
/// asked to describe itself). Used on the io thread only.
class SerialPorts {
 public:
  using Lister = std::function<std::vector<PortInfo>(std::string& error)>;
  /// lister: list_serial_ports, or a test's own list.
  explicit SerialPorts(Lister lister = list_serial_ports) : lister_(std::move(lister)) {}
  /// The ports there are now; none and error set when they cannot be listed.
  std::vector<PortInfo> list(std::string& error) const { return lister_(error); }
  void claim(const std::string& path) { held_.push_back(path); }
  void release(const std::string& path);
  bool held(const std::string& path) const;

 private:
  Lister lister_;
  std::vector<std::string> held_;  ///< one entry per open port (a path given twice is held twice)
};

class SerialSource final : public DeviceSource {
 public:
  /// index: the device's index in the bridge; label: its name in messages. The config's
  /// uid must be empty or valid hex (the config parser checks it). ports: shared by the
  /// serial sources of one bridge (null: the system's ports, for this source alone).
  /// hotplug: tells when a port appears (null: the backoff timer alone).
  SerialSource(asio::io_context& io, std::uint16_t index, std::string label, SerialConfig config, EventSink& sink,
               std::shared_ptr<SerialPorts> ports = nullptr, std::shared_ptr<Hotplug> hotplug = nullptr);
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
  void close_port();
  void do_read();
  void do_write();
  void lost(const std::string& why);
  void schedule_reopen(const std::string& why);
  /// Hotplug saw something appear: while waiting to reopen, open now.
  void on_appeared(const std::string& what);
  std::vector<std::string> candidates(std::string& error) const;

  std::uint16_t index_;
  std::string label_;
  SerialConfig config_;
  EventSink& sink_;
  std::shared_ptr<SerialPorts> ports_;
  std::string claimed_;  ///< the path this source holds in ports_, empty when none
  std::shared_ptr<Hotplug> hotplug_;
  Hotplug::Subscription watching_;  ///< while started
  SerialSession session_;
  asio::posix::stream_descriptor stream_;
  asio::steady_timer timer_;
  SerialPort port_;
  std::array<char, 512> rbuf_{};
  std::string out_pending_, out_writing_;
  std::vector<std::string> candidates_;
  std::size_t candidate_ = 0;
  std::string skipped_;  ///< auto mode: ports passed over in this round (another uid, held by another device)
  std::vector<std::string> other_uid_;  ///< auto mode with uid: ports last seen with another box; tried last
  bool stopped_ = true;
  bool writing_ = false;
  bool waiting_ = false;  ///< timer_ is the backoff before the next open
  std::string last_problem_;  ///< to say a repeated open failure once
  std::chrono::milliseconds backoff_{100};
};

}  // namespace knoblink
