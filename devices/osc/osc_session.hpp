// OSC packets -> ControlEvents (docs/osc.md). No I/O and no clock: the source hands in
// each UDP packet, who sent it, and the time it was read.
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "devices/event_sink.hpp"
#include "devices/osc/osc_config.hpp"

namespace knoblink::osc {

struct SessionStats {
  std::uint64_t messages = 0;  ///< messages that became events
  std::uint64_t not_osc = 0;   ///< packets dropped because they are not OSC
  std::uint64_t unknown = 0;   ///< messages to an address no control names (or without a number)
};

/// The name a control for address could take: its last part, lower case, [a-z0-9_] only,
/// at most 16 characters, starting with a letter ("/1/fader1" -> "fader1", "/Volume 2" ->
/// "volume_2", "/1/2" -> "c2"). Used in the hint for an unknown address.
std::string suggest_name(const std::string& address);

class Session {
 public:
  Session(std::uint16_t device, OscConfig config, std::string label);
  /// Describes every control to sink (on_control), as when the socket opens.
  void describe(EventSink& sink) const;
  /// One UDP packet from sender ("127.0.0.1:5000"), read at now_us. Bundles are opened.
  /// A packet that is not OSC is reported once per sender (up to 64 senders) and dropped;
  /// an address no control names is reported once per address (up to 64) with a line to paste.
  void feed(std::span<const std::uint8_t> packet, const std::string& sender, std::int64_t now_us, EventSink& sink);
  /// The message that sets control to value (abs: 0..16383 over its range; btn: 0 -> lo,
  /// else hi). False with error set when control is not one of the device's.
  bool encode_output(std::string_view control, std::int32_t value, std::vector<std::uint8_t>& out,
                     std::string& error) const;
  const SessionStats& stats() const { return stats_; }

 private:
  void element(std::span<const std::uint8_t> bytes, const std::string& sender, std::int64_t now_us, EventSink& sink,
               int depth);
  void not_osc(const std::string& sender, const std::string& why, std::span<const std::uint8_t> bytes, EventSink& sink);

  std::uint16_t device_;
  OscConfig config_;
  std::string label_;
  std::vector<Name> names_;  ///< config_.controls[i]'s name
  std::set<std::string> told_senders_, told_addresses_;
  SessionStats stats_;
};

}  // namespace knoblink::osc
