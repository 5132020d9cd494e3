// Flashing: avrdude writes knobbox.hex through the Arduino bootloader running
// in knoblink-sim (flash otherwise blank), verifies it, and the freshly
// flashed firmware then says hello on the next port open.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "sim_harness.hpp"

using namespace knoblink::test;
using std::chrono::milliseconds;

TEST_CASE("avrdude flashes the firmware through the bootloader; it then says hello") {
  // Debian's optiboot hex is broken (runs past the end of flash); the older
  // ATmegaBOOT talks STK500v1 at 57600 like an old-bootloader Nano.
  SimProcess sim({"--bootloader", KNOBLINK_BOOTLOADER_HEX, "--uid", "f1a5f1a5"});
  const std::string cmd = "timeout 60 avrdude -q -q -c arduino -p atmega328p -P " + sim.pty() +
                          " -b 57600 -D -U flash:w:" KNOBLINK_FIRMWARE_HEX ":i 2>&1";
  INFO(cmd);
  const int rc = std::system(cmd.c_str());  // avrdude verifies what it wrote
  REQUIRE(rc == 0);

  // Opening the port resets the board: the bootloader waits for a programmer,
  // gives up and starts the application.
  Port port(sim.pty());
  CHECK(port.line(milliseconds(5000)) == "@knoblink 1 knobbox uid=f1a5f1a5");
  port.lines_until("b6 0", milliseconds(2000));  // the description and the snapshot
  sim.send("press 1");
  CHECK(port.line(milliseconds(1000)) == "b1 1");
}
