// knoblink list's serial section: the match: line and the udev line to paste.
#include <catch2/catch.hpp>

#include "devices/serial_describe.hpp"

using namespace knoblink;

TEST_CASE("a USB serial port gets a match: line and a udev line that starts the user unit") {
  PortInfo usb{"/dev/ttyACM0", "Arduino Uno", "usb", 0x2341, 0x43, "", "Arduino", "Uno"};
  PortInfo native{"/dev/ttyS0", "ttyS0", "native", -1, -1, "", "", ""};
  const auto text = describe_serial_ports({usb, native});
  CHECK_THAT(text, Catch::Contains("serial: {port: auto, match: \"2341:0043\"}"));
  CHECK_THAT(text, Catch::Contains("udev: SUBSYSTEM==\"tty\", ATTRS{idVendor}==\"2341\", ATTRS{idProduct}==\"0043\", "
                                   "TAG+=\"systemd\", ENV{SYSTEMD_USER_WANTS}+=\"knoblink.service\"\n"));
  CHECK_THAT(text, Catch::Contains("serial: {port: /dev/ttyS0}\n"));
  CHECK(text.find("udev:") == text.rfind("udev:"));  // none for the port that is not USB
}
