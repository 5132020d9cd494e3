#include "devices/serial_describe.hpp"

#include <sstream>

namespace knoblink {

std::string describe_serial_ports(const std::vector<PortInfo>& ports) {
  std::ostringstream out;
  if (ports.empty()) out << "  (none found; ptys and socat ports are not listed: give their path as port:)\n";
  for (const auto& p : ports) {
    out << "  " << p.path << "  " << p.description;
    if (p.vid >= 0) {
      out << "\n      usb " << p.match();
      if (!p.manufacturer.empty() || !p.product.empty()) out << "  " << p.manufacturer << " " << p.product;
      out << "\n      serial: {port: auto, match: \"" << p.match() << "\"}";
    } else {
      out << "\n      serial: {port: " << p.path << "}";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace knoblink
