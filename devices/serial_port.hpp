// Serial ports: libserialport for real ports (ttyUSB, ttyACM, ttyS, rfcomm) and a
// termios fallback for ptys and ttys it refuses (socat, the knob-box emulator).
// libserialport is used in serial_port.cpp only; termios in tty_fallback.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

struct sp_port;

namespace knoblink {

/// A serial port as the system lists it.
struct PortInfo {
  std::string path;         ///< /dev/ttyACM0
  std::string description;  ///< libserialport's description
  std::string transport;    ///< usb, native, bluetooth
  int vid = -1, pid = -1;   ///< USB ids, -1 when not USB
  std::string serial, manufacturer, product;
  /// "VID:PID[:serial]" ready to paste into match:, empty when not USB.
  std::string match() const;
};

/// Every serial port libserialport lists. On failure returns none and sets error.
std::vector<PortInfo> list_serial_ports(std::string& error);
/// True when port fits a "VID:PID[:serial]" match (hex, case-insensitive); an empty match fits all.
bool port_matches(const PortInfo& port, const std::string& match);

/// An open serial port in raw 8N1 mode; closes on destruction.
class SerialPort {
 public:
  SerialPort() = default;
  SerialPort(SerialPort&&) noexcept;
  SerialPort& operator=(SerialPort&&) noexcept;
  ~SerialPort();

  /// Opens path at baud through libserialport, or through termios when libserialport
  /// refuses it (ptys). On failure returns a closed port and sets error to a sentence
  /// naming the port and what was attempted.
  static SerialPort open(const std::string& path, int baud, std::string& error);

  bool is_open() const { return fd_ >= 0; }
  /// The file descriptor to poll/read/write (owned by this object).
  int fd() const { return fd_; }
  /// "libserialport" or "termios".
  const char* backend() const { return port_ ? "libserialport" : "termios"; }
  void close();

 private:
  sp_port* port_ = nullptr;  ///< set when libserialport opened it
  int fd_ = -1;
};

/// termios fallback (tty_fallback.cpp): opens path raw at baud; returns the fd or -1 with error set.
int open_tty_fallback(const std::string& path, int baud, std::string& error);

}  // namespace knoblink
