// One serial device's Contract 1 session (docs/firmware.md, "What the box says"):
// bytes in, EventSink calls out. Pure: no I/O, no clock; SerialSource reads the port
// and passes each read here with the time it was read, so every event of one read
// carries that one stamp. Owns the hello gating (port: auto takes a device only once
// it says hello, with the wanted uid), the table of control kinds learned from @ctl,
// the version check, the report of malformed lines, and which values are the device's
// snapshot (docs/firmware.md, "Where the controls are": the value of each abs and btn
// control right after @end).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devices/event_sink.hpp"
#include "devices/line_decoder.hpp"

namespace knoblink {

/// A uid as a hello carries it and `uid:` gives it: 1-16 hex digits; nullopt otherwise.
std::optional<std::uint64_t> parse_uid(std::string_view text);

class SerialSession {
 public:
  /// A snapshot line comes within this long of its @end (the firmware sends it at once).
  static constexpr std::int64_t kSnapshotWindowUs = 250'000;

  /// Where the session is.
  enum class State : std::uint8_t {
    closed,     ///< no port
    probing,    ///< port: auto, port open, waiting for the hello; nothing the device says is used yet
    connected,  ///< the device is ours: events, controls and logs reach the sink
    rejected,   ///< port: auto, the hello named another uid: close the port, leave it to other devices
  };

  /// device: the index in every sink call; label: the device's name in messages ("box");
  /// want_uid: with probing, only a hello with this uid is taken (nullopt: any).
  SerialSession(std::uint16_t device, std::string label, std::optional<std::uint64_t> want_uid, EventSink& sink);

  /// A port was opened (path, and the backend that opened it, for messages): forgets any
  /// partial line and the learned controls. probing (port: auto): the device is ours once
  /// it says hello; else it is connected at once (a notice and on_connection(true)).
  void open(std::string path, std::string_view backend, bool probing);
  /// Bytes read at now_us; every event decoded from them is stamped now_us. Returns the state after.
  State feed(std::string_view bytes, std::int64_t now_us);
  /// The port was lost (why: what the read saw). A connected device is reported lost
  /// (a warning and on_connection(false)); returns whether it was connected.
  bool lost(std::string_view why);
  /// The port was closed on purpose (stop, probe timeout, rejected): nothing is reported.
  void close();

  State state() const { return state_; }
  bool connected() const { return state_ == State::connected; }
  /// The open port's path, empty when closed.
  const std::string& path() const { return path_; }
  /// The uid of the last hello, as the device wrote it (empty when none or no uid).
  const std::string& uid() const { return uid_; }
  /// The kind a control was described with (@ctl), unknown when not described.
  ControlKind kind_of(const Name& control) const;

 private:
  void on_line(const DecodedLine& line, std::int64_t now_us);
  void on_hello(const HelloLine& hello);
  /// Whether an event of control at now_us is a snapshot value (and is then no longer due).
  bool take_snapshot(const Name& control, std::int64_t now_us);
  std::string where() const;

  const std::uint16_t device_;
  const std::string label_;
  const std::optional<std::uint64_t> want_uid_;
  EventSink& sink_;
  LineDecoder decoder_;
  State state_ = State::closed;
  std::string path_, backend_, uid_;
  struct Learned {
    Name name;
    ControlKind kind;
  };
  std::vector<Learned> controls_;  ///< described by @ctl since the port was opened
  std::vector<Name> snapshot_due_;  ///< abs and btn controls whose snapshot value has not come yet
  std::int64_t snapshot_until_us_ = 0;  ///< the snapshot after the last @end ends by then
};

}  // namespace knoblink
