#include "devices/serial_describe.hpp"

#include <cstdio>
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
      // A udev rule that starts the systemd user unit when this board is plugged in
      // (docs/install.md, "Start on plug-in").
      char ids[96];
      std::snprintf(ids, sizeof ids, "ATTRS{idVendor}==\"%04x\", ATTRS{idProduct}==\"%04x\"", p.vid, p.pid);
      out << "\n      udev: SUBSYSTEM==\"tty\", " << ids
          << ", TAG+=\"systemd\", ENV{SYSTEMD_USER_WANTS}+=\"knoblink.service\"";
    } else {
      out << "\n      serial: {port: " << p.path << "}";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace knoblink
