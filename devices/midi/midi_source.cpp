#include "devices/midi/midi_source.hpp"

#include <chrono>

namespace knoblink::midi {

namespace {

/// The first name containing part, or empty.
std::string first_containing(const std::vector<std::string>& names, const std::string& part) {
  for (const auto& n : names)
    if (n.find(part) != std::string::npos) return n;
  return {};
}

std::string quoted_list(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "\"" : ", \"") + n + "\"";
  return out;
}
}  // namespace

MidiSource::MidiSource(std::uint16_t device, MidiConfig config, EventSink& sink, std::shared_ptr<MidiBackend> backend,
                       MidiSourceOptions options)
    : device_(device),
      config_(std::move(config)),
      sink_(sink),
      backend_(std::move(backend)),
      options_(std::move(options)),
      modes_(config_),
      decoder_(device, modes_) {
  if (!backend_) backend_ = make_rtmidi_backend(config_.api, options_.label, backend_error_);
}

MidiSource::~MidiSource() { stop(); }

void MidiSource::start() { watcher_.start(std::chrono::milliseconds(options_.poll_ms), [this] { step(); }); }

void MidiSource::stop() {
  watcher_.stop();
  std::unique_ptr<MidiInput> input;
  {
    std::lock_guard lock(mutex_);
    input = std::move(input_);  // closed outside the lock: its callback may be waiting on it
    output_.reset();
  }
  input.reset();
}

void MidiSource::problem(Severity severity, const std::string& text) {
  {
    std::lock_guard lock(mutex_);
    waiting_ = text;
  }
  if (text == last_problem_) return;
  last_problem_ = text;
  sink_.on_notice(device_, severity, options_.label + ": " + text);
}

void MidiSource::close(const std::string& why) {
  std::unique_ptr<MidiInput> input;
  {
    std::lock_guard lock(mutex_);
    input = std::move(input_);
    output_.reset();
    input_name_.clear();
    output_name_.clear();
  }
  input.reset();
  sink_.on_connection(device_, false);
  problem(Severity::warning, why);
}

void MidiSource::step() {
  if (!backend_) {
    problem(Severity::error, backend_error_);
    return;
  }
  std::string error;
  const auto inputs = backend_->inputs(error);
  if (!error.empty()) {
    problem(Severity::warning, error);
    return;
  }
  std::string open_name;
  {
    std::lock_guard lock(mutex_);
    open_name = input_name_;
  }
  if (!open_name.empty()) {
    bool still = false;
    for (const auto& n : inputs) still = still || n == open_name;
    if (!still) close("lost MIDI input \"" + open_name + "\" (the port vanished); waiting for it to come back");
    return;
  }
  const auto name = first_containing(inputs, config_.port);
  if (name.empty()) {
    problem(Severity::info, "waiting: no MIDI input port contains \"" + config_.port + "\" (" + config_.api +
                                " ports: " + quoted_list(inputs) + "; see `knoblink list`)");
    return;
  }
  {
    std::lock_guard lock(mutex_);
    decoder_.reset();
  }
  auto input = backend_->open_input(name, [this](std::span<const std::uint8_t> b) { on_bytes(b); }, error);
  if (!input) {
    problem(Severity::warning, error);
    return;
  }
  std::string out_error;
  const auto out_name = first_containing(backend_->outputs(out_error), config_.port);
  std::unique_ptr<MidiOutput> output;
  if (!out_name.empty()) output = backend_->open_output(out_name, out_error);
  {
    std::lock_guard lock(mutex_);
    input_ = std::move(input);
    output_ = std::move(output);
    input_name_ = name;
    output_name_ = output_ ? out_name : std::string();
    waiting_.clear();
  }
  last_problem_.clear();
  sink_.on_connection(device_, true);
  std::string text = options_.label + ": opened MIDI input \"" + name + "\"";
  if (!out_name.empty() && out_error.empty()) text += " and output \"" + out_name + "\"";
  else if (!out_error.empty()) text += "; no feedback: " + out_error;
  else text += "; no output port contains \"" + config_.port + "\", so no feedback";
  sink_.on_notice(device_, Severity::info, text);
}

void MidiSource::on_bytes(std::span<const std::uint8_t> bytes) {
  const auto t = monotonic_us();  // stamped once per read
  std::lock_guard lock(mutex_);
  decoder_.feed(bytes, t, sink_);
}

OutputResult MidiSource::write_output(const Name& control, std::int32_t value) {
  const auto id = parse_midi_control(control.view());
  if (!id) return {"'" + control.str() + "' is not a MIDI control (cc<ch>_<n>, note<ch>_<n>, pb<ch>)"};
  std::uint8_t bytes[6];
  const auto n = encode_output(*id, id->type == MidiControlId::Type::cc &&
                                        modes_.at(id->channel - 1, id->number) == CcMode::msb14,
                               value, bytes);
  if (n == 0) return {"'" + control.str() + "' is an input only (velocity); outputs are cc, note and pb"};
  std::lock_guard lock(mutex_);
  if (!output_) {
    if (input_name_.empty()) return {"not connected", true};
    return {"no MIDI output port contains \"" + config_.port + "\"", true};
  }
  for (std::size_t i = 0; i < n; i += 3) {  // one message per send (a 14-bit CC is two)
    auto err = output_->send({bytes + i, 3});
    if (!err.empty()) return {"writing to MIDI output \"" + output_name_ + "\": " + err};
  }
  return {};
}

DeviceDescription MidiSource::describe() const {
  std::lock_guard lock(mutex_);
  DeviceDescription d{"midi", options_.label, input_name_, {}, {}};
  if (!watcher_.started() || watcher_.stopped()) d.state = watcher_.stopped() ? "stopped" : "not started";
  else if (!input_name_.empty()) d.state = "connected";
  else d.state = "waiting: " + (waiting_.empty() ? std::string("looking for the port") : waiting_);
  const auto& s = decoder_.stats();
  d.counters = "messages=" + std::to_string(s.messages) + " sysex=" + std::to_string(s.sysex) +
               " skipped=" + std::to_string(s.skipped);
  return d;
}

DecoderStats MidiSource::stats() const {
  std::lock_guard lock(mutex_);
  return decoder_.stats();
}

}  // namespace knoblink::midi
