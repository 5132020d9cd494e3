// `knoblink list` for serial ports: what the system lists, with a ready-to-paste serial:.
#pragma once

#include <string>
#include <vector>

#include "devices/serial_port.hpp"

namespace knoblink {

/// One entry per port (path, description, USB ids and a `serial:` line to paste), two-space indented.
std::string describe_serial_ports(const std::vector<PortInfo>& ports);

}  // namespace knoblink
