// Real-part test helpers: ptys, a loopback NDJSON peer, child processes, temp dirs.
// Blocking POSIX calls with timeouts, so a hang fails the test instead of freezing it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kltest {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

/// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  /// Writes text to file(name) and returns its path.
  std::string write(const std::string& name, const std::string& text) const;

 private:
  std::string path_;
};

/// The whole content of a file, byte for byte ("" when it cannot be read).
std::string read_file(const std::string& path);

/// A pseudo-terminal in raw mode; the slave path is what the bridge opens.
class Pty {
 public:
  Pty();
  ~Pty();
  const std::string& slave() const { return slave_; }
  void write(std::string_view bytes);
  /// Reads until a full line arrives (without '\n'), or nullopt after timeout.
  std::optional<std::string> read_line(Ms timeout);
  /// Closing the master is an unplug: the slave side sees a hangup.
  void close();

 private:
  int master_ = -1;
  std::string slave_, buf_;
};

/// One accepted TCP connection, read line by line.
class Conn {
 public:
  explicit Conn(int fd) : fd_(fd) {}
  ~Conn();
  std::optional<std::string> read_line(Ms timeout);
  void send(const std::string& text);
  void close();

 private:
  int fd_;
  std::string buf_;
};

/// A listening socket on 127.0.0.1 (port 0 = any free port). rcvbuf > 0 sets the receive
/// buffer of the connections it accepts (a small one fills at once when nobody reads).
class Listener {
 public:
  explicit Listener(std::uint16_t port = 0, int rcvbuf = 0);
  ~Listener();
  std::uint16_t port() const { return port_; }
  std::unique_ptr<Conn> accept(Ms timeout);
  void close();

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

/// Connects to 127.0.0.1:port, retrying until timeout; nullptr when nobody answers.
std::unique_ptr<Conn> connect_local(std::uint16_t port, Ms timeout);

/// A child process (in a process group of its own) with stdout+stderr going to a log file;
/// its whole group is killed on destruction.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& log_path);
  ~Process();
  bool running();
  void signal(int sig);
  /// Waits for exit; returns the exit status, or nullopt on timeout.
  std::optional<int> wait(Ms timeout);
  std::string log() const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string log_path_;
};

/// A process's memory from /proc/PID/status, in KiB (-1: not there).
struct Memory {
  long rss = -1;  ///< VmRSS: resident now
  long hwm = -1;  ///< VmHWM: the most it was resident
};
Memory memory_of(pid_t pid);

/// Sends p the signal sig every 500 ms until its log contains text; false after timeout.
bool signal_until(Process& p, int sig, const std::string& text, Ms timeout);

/// Polls pred every 10 ms until it is true or timeout passes.
bool wait_until(const std::function<bool()>& pred, Ms timeout);

}  // namespace kltest
