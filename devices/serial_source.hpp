// A serial device kept open: finds and opens the port, asks for the description,
// decodes Contract 1 lines into ControlEvents, writes outputs, and when the device
// vanishes (unplug: hangup or read error) reopens it with backoff, forever.
#pragma once

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "devices/event_sink.hpp"
#include "devices/line_decoder.hpp"
#include "devices/serial_port.hpp"

namespace knoblink {

/// How to find the port: a path, "auto" (the first port whose device says hello), plus a USB match.
struct SerialSpec {
  std::string port = "auto";
  std::string match;  ///< "VID:PID[:serial]"; with port auto, only matching ports are tried
  int baud = 115200;
};

class SerialSource {
 public:
  /// index: the device's index in the bridge; label: its name in messages.
  SerialSource(asio::io_context& io, std::uint16_t index, std::string label, SerialSpec spec, EventSink& sink);
  ~SerialSource();
  SerialSource(const SerialSource&) = delete;
  SerialSource& operator=(const SerialSource&) = delete;

  /// Starts opening the port (and keeps reopening it).
  void start();
  /// Closes the port and stops retrying.
  void stop();
  /// Sets an output on the device ("<name> <value>" line); dropped while unplugged.
  void write_output(const Name& control, std::int32_t value);
  /// Asks the device to describe itself again ("?").
  void request_description();
  /// The path of the open port, empty when not connected.
  const std::string& path() const { return path_; }
  bool connected() const { return connected_; }

 private:
  void do_open();
  void try_candidate();
  void do_read();
  void do_write();
  void on_line(const DecodedLine& line);
  void lost(const std::string& why);
  void schedule_reopen(const std::string& why);
  std::vector<std::string> candidates(std::string& error) const;

  asio::io_context& io_;
  std::uint16_t index_;
  std::string label_;
  SerialSpec spec_;
  EventSink& sink_;
  asio::posix::stream_descriptor stream_;
  asio::steady_timer timer_;
  SerialPort port_;
  LineDecoder decoder_;
  std::array<char, 512> rbuf_{};
  std::string out_pending_, out_writing_;
  std::vector<std::string> candidates_;
  std::size_t candidate_ = 0;
  bool probing_ = false;   ///< auto mode: waiting for a hello from candidates_[candidate_]
  bool connected_ = false;
  bool stopped_ = true;
  bool writing_ = false;
  std::string path_;
  std::string last_problem_;  ///< to say a repeated open failure once
  std::chrono::milliseconds backoff_{100};
  std::vector<Name> described_;  ///< controls named by @ctl since the last hello
  struct Learned {
    Name name;
    ControlKind kind;
  };
  std::vector<Learned> controls_;
};

}  // namespace knoblink
