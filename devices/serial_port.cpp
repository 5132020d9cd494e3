// The one file that uses libserialport.
#include "devices/serial_port.hpp"

#include <libserialport.h>
#include <unistd.h>

#include <cstdio>
#include <strings.h>
#include <utility>

namespace knoblink {

namespace {
std::string sp_error(const char* what, const std::string& path) {
  char* msg = sp_last_error_message();
  std::string out = std::string(what) + " " + path + ": " + (msg ? msg : "unknown error");
  if (msg) sp_free_error_message(msg);
  return out;
}
std::string str(const char* s) { return s ? s : ""; }
}  // namespace

std::string PortInfo::match() const {
  if (vid < 0) return {};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04x:%04x", vid, pid);
  return serial.empty() ? buf : std::string(buf) + ":" + serial;
}

bool port_matches(const PortInfo& port, const std::string& match) {
  if (match.empty()) return true;
  if (port.vid < 0) return false;
  const std::string mine = port.match();
  // Compare VID:PID case-insensitively, the serial exactly when the match names one.
  if (match.size() < 9 || strncasecmp(mine.c_str(), match.c_str(), 9) != 0) return false;
  return match.size() == 9 || match.substr(10) == port.serial;
}

std::vector<PortInfo> list_serial_ports(std::string& error) {
  std::vector<PortInfo> out;
  sp_port** ports = nullptr;
  if (sp_list_ports(&ports) != SP_OK) {
    error = sp_error("cannot list serial ports", "");
    return out;
  }
  for (sp_port** p = ports; *p; ++p) {
    PortInfo info;
    info.path = str(sp_get_port_name(*p));
    info.description = str(sp_get_port_description(*p));
    const auto t = sp_get_port_transport(*p);
    info.transport = t == SP_TRANSPORT_USB ? "usb" : t == SP_TRANSPORT_BLUETOOTH ? "bluetooth" : "native";
    if (t == SP_TRANSPORT_USB) {
      int vid = 0, pid = 0;
      if (sp_get_port_usb_vid_pid(*p, &vid, &pid) == SP_OK) {
        info.vid = vid;
        info.pid = pid;
      }
      info.serial = str(sp_get_port_usb_serial(*p));
      info.manufacturer = str(sp_get_port_usb_manufacturer(*p));
      info.product = str(sp_get_port_usb_product(*p));
    }
    out.push_back(std::move(info));
  }
  sp_free_port_list(ports);
  return out;
}

SerialPort::SerialPort(SerialPort&& o) noexcept : port_(std::exchange(o.port_, nullptr)), fd_(std::exchange(o.fd_, -1)) {}

SerialPort& SerialPort::operator=(SerialPort&& o) noexcept {
  if (this != &o) {
    close();
    port_ = std::exchange(o.port_, nullptr);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

SerialPort::~SerialPort() { close(); }

void SerialPort::close() {
  if (port_) {
    sp_close(port_);
    sp_free_port(port_);
    port_ = nullptr;
  } else if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = -1;
}

SerialPort SerialPort::open(const std::string& path, int baud, std::string& error) {
  SerialPort sp;
  sp_port* port = nullptr;
  std::string sp_why;
  if (sp_get_port_by_name(path.c_str(), &port) == SP_OK) {
    if (sp_open(port, SP_MODE_READ_WRITE) == SP_OK) {
      int fd = -1;
      const bool ok = sp_set_baudrate(port, baud) == SP_OK && sp_set_bits(port, 8) == SP_OK &&
                      sp_set_parity(port, SP_PARITY_NONE) == SP_OK && sp_set_stopbits(port, 1) == SP_OK &&
                      sp_set_flowcontrol(port, SP_FLOWCONTROL_NONE) == SP_OK &&
                      sp_get_port_handle(port, &fd) == SP_OK;
      if (ok) {
        sp.port_ = port;
        sp.fd_ = fd;
        return sp;
      }
      error = sp_error("cannot configure", path);
      sp_close(port);
      sp_free_port(port);
      return sp;
    }
    sp_why = sp_error("libserialport cannot open", path);
    sp_free_port(port);
  } else {
    sp_why = sp_error("libserialport does not know", path);
  }
  // ptys and other ttys libserialport refuses: plain termios.
  std::string tty_why;
  const int fd = open_tty_fallback(path, baud, tty_why);
  if (fd < 0) {
    error = tty_why + " (" + sp_why + ")";
    return sp;
  }
  sp.fd_ = fd;
  return sp;
}

}  // namespace knoblink
