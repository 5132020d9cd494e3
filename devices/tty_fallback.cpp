// termios fallback for ptys and ttys that libserialport refuses.
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "devices/serial_port.hpp"

namespace knoblink {

namespace {
speed_t speed_for(int baud) {
  switch (baud) {
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    case 230400: return B230400;
    case 460800: return B460800;
    case 921600: return B921600;
    case 1000000: return B1000000;
    case 2000000: return B2000000;
    default: return B0;
  }
}
}  // namespace

int open_tty_fallback(const std::string& path, int baud, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return -1;
  }
  termios t{};
  if (tcgetattr(fd, &t) != 0) {
    error = path + " is not a serial port or tty: " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  cfmakeraw(&t);
  t.c_cflag |= CLOCAL | CREAD;
  t.c_cc[VMIN] = 1;  // with VMIN=0 a read with no data returns 0, like a hangup
  t.c_cc[VTIME] = 0;
  const speed_t s = speed_for(baud);
  if (s == B0) {
    error = "baud " + std::to_string(baud) + " is not supported for " + path +
            " by the termios fallback; use 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600";
    ::close(fd);
    return -1;
  }
  cfsetispeed(&t, s);
  cfsetospeed(&t, s);
  if (tcsetattr(fd, TCSANOW, &t) != 0) {
    error = "cannot configure " + path + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace knoblink
