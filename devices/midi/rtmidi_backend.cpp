// The only file that uses RtMidi.
#include <jack/jack.h>
#include <rtmidi/RtMidi.h>

#include <iostream>
#include <mutex>
#include <sstream>

#include "devices/midi/midi_backend.hpp"

namespace knoblink::midi {

namespace {

/// RtMidi's constructors print their warnings ("MidiInJack::initialize: JACK server not
/// running?") on std::cerr, since no error callback can be set before they run. While one
/// of these lives, std::cerr goes into it instead, and text() is what was said.
class CerrCapture {
 public:
  CerrCapture() : lock_(mutex()), old_(std::cerr.rdbuf(text_.rdbuf())) {}
  ~CerrCapture() { std::cerr.rdbuf(old_); }
  CerrCapture(const CerrCapture&) = delete;
  CerrCapture& operator=(const CerrCapture&) = delete;
  /// What was printed, without RtMidi's blank lines around it.
  std::string text() const {
    auto t = text_.str();
    const auto a = t.find_first_not_of(" \n"), b = t.find_last_not_of(" \n");
    return a == std::string::npos ? std::string() : t.substr(a, b - a + 1);
  }

 private:
  static std::mutex& mutex() {
    static std::mutex m;  // one capture at a time: std::cerr is the process's
    return m;
  }
  std::lock_guard<std::mutex> lock_;
  std::ostringstream text_;
  std::streambuf* old_;
};

/// new Port(args...) with its constructor's warnings kept in warning instead of printed.
template <class Port, class... Args>
std::unique_ptr<Port> make_quiet(std::string& warning, Args&&... args) {
  CerrCapture capture;
  auto port = std::make_unique<Port>(std::forward<Args>(args)...);
  warning = capture.text();
  return port;
}

constexpr const char* kOwnPrefix = "knoblink-";

/// libjack prints to stderr on every failed connection ("Cannot connect to server socket",
/// 4 lines per client while no server runs); RtMidi's own error says it in one sentence.
void quiet(const char*) {}

RtMidi::Api parse_api(const std::string& api) { return api == "jack" ? RtMidi::UNIX_JACK : RtMidi::LINUX_ALSA; }

/// RtMidi prints warnings to stderr unless an error callback takes them; we keep the last.
void keep_error(RtMidiError::Type, const std::string& text, void* user) { *static_cast<std::string*>(user) = text; }

template <class Port>
std::vector<std::string> names(Port& port, std::string& error) {
  std::vector<std::string> out;
  try {
    const unsigned n = port.getPortCount();
    for (unsigned i = 0; i < n; ++i) {
      auto name = port.getPortName(i);
      if (!name.empty() && name.rfind(kOwnPrefix, 0) != 0) out.push_back(std::move(name));
    }
  } catch (const RtMidiError& e) {
    error = "listing MIDI ports: " + e.getMessage();
  }
  return out;
}

template <class Port>
int find(Port& port, const std::string& name) {
  const unsigned n = port.getPortCount();
  for (unsigned i = 0; i < n; ++i)
    if (port.getPortName(i) == name) return static_cast<int>(i);
  return -1;
}

class RtInput final : public MidiInput {
 public:
  RtInput(std::unique_ptr<RtMidiIn> in, MidiBytes on_bytes) : in_(std::move(in)), on_bytes_(std::move(on_bytes)) {}
  ~RtInput() override {
    in_->cancelCallback();
    in_->closePort();
  }
  static void callback(double, std::vector<unsigned char>* message, void* user) {
    auto* self = static_cast<RtInput*>(user);
    if (message && !message->empty()) self->on_bytes_({message->data(), message->size()});
  }
  std::unique_ptr<RtMidiIn> in_;
  MidiBytes on_bytes_;
  std::string last_error_;
};

class RtOutput final : public MidiOutput {
 public:
  explicit RtOutput(std::unique_ptr<RtMidiOut> out) : out_(std::move(out)) {}
  ~RtOutput() override { out_->closePort(); }
  std::string send(std::span<const std::uint8_t> message) override {
    last_error_.clear();
    try {
      out_->sendMessage(message.data(), message.size());
    } catch (const RtMidiError& e) {
      return e.getMessage();
    }
    return last_error_;
  }
  std::unique_ptr<RtMidiOut> out_;
  std::string last_error_;
};

class RtBackend final : public MidiBackend {
 public:
  RtBackend(RtMidi::Api api, std::string label) : api_(api), label_(std::move(label)) {
    list_in_ = make_quiet<RtMidiIn>(list_error_, api_, kOwnPrefix + label_ + "-list");
    list_in_->setErrorCallback(keep_error, &list_error_);
    list_out_ = make_quiet<RtMidiOut>(list_error_, api_, kOwnPrefix + label_ + "-list");
    list_out_->setErrorCallback(keep_error, &list_error_);
  }
  std::vector<std::string> inputs(std::string& error) override { return listed(*list_in_, error); }
  std::vector<std::string> outputs(std::string& error) override { return listed(*list_out_, error); }

  std::unique_ptr<MidiInput> open_input(const std::string& name, MidiBytes on_bytes, std::string& error) override {
    return open<RtMidiIn, RtInput>("input", name, error, [&](std::unique_ptr<RtMidiIn> in) {
      auto input = std::make_unique<RtInput>(std::move(in), std::move(on_bytes));
      input->in_->ignoreTypes(false, true, true);  // SysEx in (to count it); clock and active sensing out
      input->in_->setCallback(&RtInput::callback, input.get());
      return input;
    });
  }

  std::unique_ptr<MidiOutput> open_output(const std::string& name, std::string& error) override {
    return open<RtMidiOut, RtOutput>("output", name, error,
                                     [](std::unique_ptr<RtMidiOut> out) { return std::make_unique<RtOutput>(std::move(out)); });
  }

 private:
  /// The port names; RtMidi's warning (no JACK server) as the error when there are none.
  template <class Port>
  std::vector<std::string> listed(Port& port, std::string& error) {
    list_error_.clear();
    auto out = names(port, error);
    if (out.empty() && error.empty() && !list_error_.empty()) error = list_error_;
    return out;
  }

  /// Makes a client of our own, wraps it (wrap sets the callback before the port opens),
  /// opens the port named exactly name on it; null with error set when that fails.
  template <class Port, class Wrapped, class Wrap>
  std::unique_ptr<Wrapped> open(const char* what, const std::string& name, std::string& error, Wrap wrap) {
    const auto fail = [&](const std::string& why) {
      error = std::string("opening MIDI ") + what + " \"" + name + "\": " + why;
      return nullptr;
    };
    try {
      std::string last_error;
      auto port = make_quiet<Port>(last_error, api_, kOwnPrefix + label_);
      Port& raw = *port;
      raw.setErrorCallback(keep_error, &last_error);
      const int i = find(raw, name);
      if (i < 0) return fail("it is gone");
      auto wrapped = wrap(std::move(port));
      raw.openPort(static_cast<unsigned>(i), what == std::string("input") ? "in" : "out");
      raw.setErrorCallback(keep_error, &wrapped->last_error_);
      if (!raw.isPortOpen()) return fail(last_error);
      return wrapped;
    } catch (const RtMidiError& e) {
      return fail(e.getMessage());
    }
  }

  RtMidi::Api api_;
  std::string label_;
  std::string list_error_;
  std::unique_ptr<RtMidiIn> list_in_;
  std::unique_ptr<RtMidiOut> list_out_;
};

}  // namespace

std::shared_ptr<MidiBackend> make_rtmidi_backend(const std::string& api, const std::string& label, std::string& error) {
  if (api == "jack") {
    jack_set_error_function(quiet);
    jack_set_info_function(quiet);
  }
  try {
    return std::make_shared<RtBackend>(parse_api(api), label);
  } catch (const RtMidiError& e) {
    error = "MIDI (" + api + "): " + e.getMessage();
    return nullptr;
  }
}

}  // namespace knoblink::midi
