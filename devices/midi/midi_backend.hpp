// The MIDI ports MidiSource uses, behind a small interface: rtmidi_backend.cpp is the one
// file that wraps RtMidi. Errors come back as text naming the port and what was attempted.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace knoblink::midi {

/// An open output port.
class MidiOutput {
 public:
  virtual ~MidiOutput() = default;
  /// Sends one message; empty on success, else why it failed.
  virtual std::string send(std::span<const std::uint8_t> message) = 0;
};

/// An open input port; destroying it closes the port (and no callback runs after that).
class MidiInput {
 public:
  virtual ~MidiInput() = default;
};

/// Called on the backend's own thread with each message received.
using MidiBytes = std::function<void(std::span<const std::uint8_t>)>;

class MidiBackend {
 public:
  virtual ~MidiBackend() = default;
  /// Names of the ports one can read from (sources), or empty with error set.
  virtual std::vector<std::string> inputs(std::string& error) = 0;
  /// Names of the ports one can write to (destinations), or empty with error set.
  virtual std::vector<std::string> outputs(std::string& error) = 0;
  /// Opens the input port named exactly name; null with error set when it cannot.
  virtual std::unique_ptr<MidiInput> open_input(const std::string& name, MidiBytes on_bytes, std::string& error) = 0;
  /// Opens the output port named exactly name; null with error set when it cannot.
  virtual std::unique_ptr<MidiOutput> open_output(const std::string& name, std::string& error) = 0;
};

/// RtMidi with api "alsa" or "jack". Our own ports are named "knoblink-<label> ..." and are
/// never listed. Null with error set when the API cannot be used (no sequencer, no server).
std::shared_ptr<MidiBackend> make_rtmidi_backend(const std::string& api, const std::string& label, std::string& error);

}  // namespace knoblink::midi
