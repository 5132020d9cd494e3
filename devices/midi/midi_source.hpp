// A MIDI controller as a source of ControlEvents (docs/midi.md): finds the input port
// whose name contains the configured text, opens it and the matching output, decodes
// what arrives, writes feedback to the output, and watches the port list (every
// poll_ms) so a port that appears is opened and one that vanishes is reported and
// reopened when it is back.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "devices/device_source.hpp"
#include "devices/event_sink.hpp"
#include "devices/poll_thread.hpp"
#include "devices/midi/midi_backend.hpp"
#include "devices/midi/midi_config.hpp"
#include "devices/midi/midi_decoder.hpp"

namespace knoblink::midi {

struct MidiSourceOptions {
  int poll_ms = 250;  ///< how often the port list is read (a new port is opened within ~2x this)
  std::string label;  ///< the device's name in the mapping ("nano"): notices start with "nano: "
};

/// Threading: a watcher thread of its own lists and opens ports; the backend calls back
/// with input on ITS thread, which decodes. So sink calls come from those two threads:
/// the bridge wraps the sink in a PostingSink (bridge/devices.cpp's PostedDevice).
class MidiSource final : public DeviceSource {
 public:
  /// Uses RtMidi (config.api) when backend is null. The sink must outlive the source.
  MidiSource(std::uint16_t device, MidiConfig config, EventSink& sink, std::shared_ptr<MidiBackend> backend = nullptr,
             MidiSourceOptions options = {});
  ~MidiSource() override;
  MidiSource(const MidiSource&) = delete;
  MidiSource& operator=(const MidiSource&) = delete;

  void start() override;
  void stop() override;
  /// cc<ch>_<n> -> CC, note<ch>_<n> -> note on/off, pb<ch> -> pitch bend, on the output port.
  OutputResult write_output(const Name& control, std::int32_t value) override;
  DeviceDescription describe() const override;

  /// One turn of the watcher (start() calls it every poll_ms; tests may call it directly).
  void step();
  DecoderStats stats() const;

 private:
  void on_bytes(std::span<const std::uint8_t> bytes);
  void problem(Severity severity, const std::string& text);
  void close(const std::string& why);

  const std::uint16_t device_;
  const MidiConfig config_;
  EventSink& sink_;
  std::shared_ptr<MidiBackend> backend_;
  const MidiSourceOptions options_;
  const CcModes modes_;
  std::string backend_error_;

  // Watcher-thread state.
  std::string last_problem_;  ///< a repeated problem is told once

  mutable std::mutex mutex_;  // guards what follows (decoder_ is fed under it: the callback thread)
  Decoder decoder_;
  std::unique_ptr<MidiInput> input_;
  std::unique_ptr<MidiOutput> output_;
  std::string input_name_, output_name_, waiting_;
  PollThread watcher_;  ///< calls step() every poll_ms
};

}  // namespace knoblink::midi
