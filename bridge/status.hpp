// What the bridge tells the KnobLink panel (docs/protocol.md, "Status"): plain values the
// bridge fills and link_codec.cpp encodes as {"op":"status",...}. No I/O, no clock: times
// are passed in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/latency.hpp"

namespace knoblink {

/// A device of the mapping file as the panel shows it.
struct DeviceStatus {
  std::string name;      ///< the key under devices: ("box")
  std::string kind;      ///< serial | hid | midi | osc
  std::string state;     ///< open | lost | retrying | failed (docs/protocol.md)
  std::string attached;  ///< the port or node it is open on; empty when not open
  std::string detail;    ///< the source's own words ("waiting: no USB serial port ...")
  friend bool operator==(const DeviceStatus&, const DeviceStatus&) = default;
};

/// One of the last distinct problems, with how often it came and when it came last.
struct StatusError {
  std::string text;
  std::uint64_t count = 1;
  double at = 0;  ///< Unix time (s) of the last time
  friend bool operator==(const StatusError&, const StatusError&) = default;
};

/// The last kMax distinct problems, oldest first; a repeated one moves to the end, counted.
class ErrorLog {
 public:
  static constexpr std::size_t kMax = 8;
  void add(std::string_view text, double at);
  const std::vector<StatusError>& entries() const { return entries_; }

 private:
  std::vector<StatusError> entries_;
};

struct LayerStatus {
  std::string name;
  bool on = false;
  friend bool operator==(const LayerStatus&, const LayerStatus&) = default;
};

/// One device stage's latency: the last completed window and everything since the start.
struct StageStatus {
  LatencySummary window, total;
  double window_s = 0;
  friend bool operator==(const StageStatus&, const StageStatus&) = default;
};

/// The whole status line.
struct Status {
  std::string file;                        ///< the mapping file
  std::uint64_t reloads = 0;               ///< successful reloads since the start (save, SIGHUP)
  std::vector<std::string> config_errors;  ///< the problems of the last reload that failed; empty after a good one
  std::vector<DeviceStatus> devices;
  std::vector<LayerStatus> layers;
  std::optional<bool> record;              ///< the record switch, when the mapping has one
  std::vector<StatusError> errors;
  StageStatus read_to_sent;                ///< device read -> written to the socket
  friend bool operator==(const Status&, const Status&) = default;
};

}  // namespace knoblink
