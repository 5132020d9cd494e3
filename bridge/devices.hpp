// The device factory: the one place that knows every device kind (docs/devices.md).
// The bridge, `knoblink monitor` and `knoblink list` reach devices only through it.
#pragma once

#include <asio/io_context.hpp>

#include <memory>
#include <ostream>
#include <string>

#include "bridge/config.hpp"
#include "devices/device_source.hpp"
#include "devices/event_sink.hpp"

namespace knoblink {

class SerialPorts;
class Hotplug;

/// What the devices of one run share: one per Bridge (or `knoblink monitor`), given to
/// every make_device. A kind that needs shared state keeps it here.
struct DeviceContext {
  explicit DeviceContext(asio::io_context& io_context);
  asio::io_context& io;  ///< every source runs on it, and every sink call is made on its thread
  std::shared_ptr<SerialPorts> serial_ports;  ///< listed, and held: port: auto passes held ones over
  std::shared_ptr<Hotplug> hotplug;  ///< tells waiting sources that a port appeared (docs/devices.md, "Hot-plug")
};

/// Makes the source for one device of the mapping file (not started yet). index is the
/// device's index in every sink call; sink is called on the io thread, whatever thread
/// the kind reads on. Returns null and sets error when this build cannot open the kind,
/// or its settings cannot be used (the error names the device).
std::unique_ptr<DeviceSource> make_device(DeviceContext& context, std::uint16_t index, const DeviceConfig& config,
                                          EventSink& sink, std::string& error);

/// `knoblink list`: every kind this build has lists what it finds, under its heading
/// ("Serial ports:", "HID devices:"). False when one could not list (err says why).
bool list_devices(std::ostream& out, std::ostream& err);

/// `knoblink descriptor FILE`: the controls a HID report descriptor declares. False with
/// the reason in text on a bad file or a build without HID.
bool describe_descriptor(const std::string& file, std::string& text);

}  // namespace knoblink
