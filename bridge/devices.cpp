#include "bridge/devices.hpp"

#include <sstream>
#include <type_traits>
#include <variant>

#include "bridge/posting_sink.hpp"
#include "devices/hotplug.hpp"
#include "devices/serial_describe.hpp"
#include "devices/serial_source.hpp"
#ifdef KNOBLINK_WITH_HID
#include "devices/hid/hid_describe.hpp"
#include "devices/hid/hid_source.hpp"
#endif
#ifdef KNOBLINK_WITH_MIDI
#include "devices/midi/midi_source.hpp"
#endif
#ifdef KNOBLINK_WITH_OSC
#include "devices/osc/osc_source.hpp"
#endif

namespace knoblink {

namespace {

/// A source that calls its sink from a thread of its own (HID's reader thread), made to
/// call the real sink on io's thread: its calls go through a PostingSink it owns.
class PostedDevice final : public DeviceSource {
 public:
  template <class Make>
  PostedDevice(asio::io_context& io, EventSink& sink, Make&& make) : posting_(io, sink), inner_(make(posting_)) {}
  ~PostedDevice() override { stop(); }
  void start() override { inner_->start(); }
  void stop() override {
    watching_.reset();
    inner_->stop();  // joins the reader thread: nothing is queued after this
    posting_.stop();
  }
  OutputResult write_output(const Name& control, std::int32_t value) override {
    return inner_->write_output(control, value);
  }
  DeviceDescription describe() const override { return inner_->describe(); }
  /// Keeps a hot-plug watch for as long as the device (it calls into inner_).
  void keep(Hotplug::Subscription watching) { watching_ = std::move(watching); }

 private:
  PostingSink posting_;  // declared first: outlives inner_
  std::unique_ptr<DeviceSource> inner_;
  Hotplug::Subscription watching_;  // declared last: unwatched before inner_ goes
};

std::unique_ptr<DeviceSource> make_serial(DeviceContext& context, std::uint16_t index, const std::string& name,
                                          const SerialConfig& config, EventSink& sink, std::string&) {
  return std::make_unique<SerialSource>(context.io, index, name, config, sink, context.serial_ports, context.hotplug);
}

/// A kind this build leaves out: null, and an error naming the device and the option.
[[maybe_unused]] std::unique_ptr<DeviceSource> not_built(const std::string& name, const char* kind, const char* option,
                                        std::string& error) {
  error = name + ": " + kind + " devices are not supported by this build (" + option + "=OFF)";
  return nullptr;
}

/// A Source that reads on a thread of its own, made as Source(index, what, sink, nullptr,
/// options) with options.label = name, behind a PostedDevice; made is given the source.
template <class Source, class Options, class What, class Made = void (*)(PostedDevice&, Source&)>
std::unique_ptr<DeviceSource> posted(DeviceContext& context, std::uint16_t index, const std::string& name,
                                     const What& what, EventSink& sink, Made made = [](PostedDevice&, Source&) {}) {
  Options options;
  options.label = name;
  Source* source = nullptr;
  auto device = std::make_unique<PostedDevice>(context.io, sink, [&](EventSink& to) {
    auto s = std::make_unique<Source>(index, what, to, nullptr, options);
    source = s.get();
    return s;
  });
  made(*device, *source);
  return device;
}

std::unique_ptr<DeviceSource> make_hid([[maybe_unused]] DeviceContext& context, [[maybe_unused]] std::uint16_t index,
                                       const std::string& name, [[maybe_unused]] const HidConfig& config,
                                       [[maybe_unused]] EventSink& sink, std::string& error) {
#ifdef KNOBLINK_WITH_HID
  const auto match = hid::HidMatch::parse(config.match, error);
  if (!match) {
    error = name + ": " + error;
    return nullptr;
  }
  // A hidraw node appearing wakes the reader thread at once (docs/devices.md, "Hot-plug").
  return posted<hid::HidSource, hid::HidSourceOptions>(
      context, index, name, *match, sink, [&](PostedDevice& device, hid::HidSource& source) {
        HotplugInterest interest;
        interest.subsystems = {"hidraw"};
        interest.dev_prefixes = {"hidraw"};
        device.keep(context.hotplug->watch(std::move(interest), [&source](const std::string&) { source.rescan(); }));
      });
#else
  return not_built(name, "HID", "KNOBLINK_WITH_HID", error);
#endif
}

std::unique_ptr<DeviceSource> make_midi([[maybe_unused]] DeviceContext& context, [[maybe_unused]] std::uint16_t index,
                                        const std::string& name, [[maybe_unused]] const MidiConfig& config,
                                        [[maybe_unused]] EventSink& sink, [[maybe_unused]] std::string& error) {
#ifdef KNOBLINK_WITH_MIDI
  return posted<midi::MidiSource, midi::MidiSourceOptions>(context, index, name, config, sink);
#else
  return not_built(name, "MIDI", "KNOBLINK_WITH_MIDI", error);
#endif
}

std::unique_ptr<DeviceSource> make_osc([[maybe_unused]] DeviceContext& context, [[maybe_unused]] std::uint16_t index,
                                       const std::string& name, [[maybe_unused]] const OscConfig& config,
                                       [[maybe_unused]] EventSink& sink, [[maybe_unused]] std::string& error) {
#ifdef KNOBLINK_WITH_OSC
  return std::make_unique<osc::OscSource>(context.io, index, name, config, sink);  // on the io thread: no posting
#else
  return not_built(name, "OSC", "KNOBLINK_WITH_OSC", error);
#endif
}

bool list_serial(std::ostream& out, std::ostream& err) {
  std::string error;
  const auto ports = list_serial_ports(error);
  if (!error.empty()) {
    err << "knoblink list: " << error << "\n";
    return false;
  }
  out << "Serial ports:\n" << describe_serial_ports(ports);
  return true;
}

#ifdef KNOBLINK_WITH_HID
bool list_hid(std::ostream& out, std::ostream&) {
  out << "HID devices:\n";
  const auto backend = hid::make_hidapi_backend();
  std::istringstream text(hid::describe_listing(hid::list_devices(*backend)));
  for (std::string line; std::getline(text, line);) out << "  " << line << "\n";
  return true;
}
#endif

#ifdef KNOBLINK_WITH_MIDI
/// The MIDI input ports of each API, each with the line that opens it. ALSA names end in
/// "client:port" numbers that change between boots, so the line leaves them out.
bool list_midi(std::ostream& out, std::ostream&) {
  for (const char* api : {"alsa", "jack"}) {
    out << "MIDI ports (" << api << "):\n";
    std::string error;
    auto backend = midi::make_rtmidi_backend(api, "list", error);
    const auto ports = backend ? backend->inputs(error) : std::vector<std::string>{};
    if (!error.empty()) out << "  (" << error << ")\n";
    else if (ports.empty()) out << "  (none)\n";
    for (const auto& port : ports) {
      std::string part = port;
      if (std::string_view(api) == "alsa")
        if (const auto sp = part.rfind(' '); sp != std::string::npos && part.find(':', sp) != std::string::npos)
          part.erase(sp);
      out << "  " << port << "\n    midi: {port: \"" << part << "\"" << (std::string_view(api) == "jack" ? ", api: jack" : "")
          << "}\n";
    }
  }
  return true;
}
#endif

/// Every kind `knoblink list` asks, in order.
constexpr bool (*kListers[])(std::ostream&, std::ostream&) = {
    list_serial,
#ifdef KNOBLINK_WITH_HID
    list_hid,
#endif
#ifdef KNOBLINK_WITH_MIDI
    list_midi,
#endif
};

}  // namespace

DeviceContext::DeviceContext(asio::io_context& io_context)
    : io(io_context), serial_ports(std::make_shared<SerialPorts>()), hotplug(std::make_shared<Hotplug>(io_context)) {}

std::unique_ptr<DeviceSource> make_device(DeviceContext& context, std::uint16_t index, const DeviceConfig& config,
                                          EventSink& sink, std::string& error) {
  return std::visit(
      [&](const auto& kind) -> std::unique_ptr<DeviceSource> {
        using T = std::decay_t<decltype(kind)>;
        if constexpr (std::is_same_v<T, SerialConfig>) return make_serial(context, index, config.name, kind, sink, error);
        else if constexpr (std::is_same_v<T, HidConfig>) return make_hid(context, index, config.name, kind, sink, error);
        else if constexpr (std::is_same_v<T, MidiConfig>) return make_midi(context, index, config.name, kind, sink, error);
        else if constexpr (std::is_same_v<T, OscConfig>) return make_osc(context, index, config.name, kind, sink, error);
        else static_assert(sizeof(T) == 0, "a device kind without a factory case");
      },
      config.kind);
}

bool list_devices(std::ostream& out, std::ostream& err) {
  for (auto* list : kListers)
    if (!list(out, err)) return false;
  return true;
}

bool describe_descriptor(const std::string& file, std::string& text) {
#ifdef KNOBLINK_WITH_HID
  return hid::describe_descriptor_file(file, text);
#else
  text = "knoblink descriptor " + file + ": this build has no HID support (KNOBLINK_WITH_HID=OFF)";
  return false;
#endif
}

}  // namespace knoblink
