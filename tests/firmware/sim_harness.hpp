// Test helpers around the real knoblink-sim process and its pty: spawn it,
// send it commands, read its stdout and the board's serial lines with
// timeouts. Used by the emulator and flashing tests.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace knoblink::test {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// Splits complete lines off a byte buffer.
inline bool take_line(std::string& buf, std::string& line) {
  const auto nl = buf.find('\n');
  if (nl == std::string::npos) return false;
  line = buf.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  buf.erase(0, nl + 1);
  return true;
}

/// Reads from fd into buf until a full line is there or the deadline passes.
/// Returns false on timeout; throws on hangup so a test never waits forever.
inline bool read_line(int fd, std::string& buf, std::string& line, Clock::time_point deadline,
                      const char* what) {
  while (!take_line(buf, line)) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char tmp[4096];
    const ssize_t n = read(fd, tmp, sizeof tmp);
    if (n > 0) {
      buf.append(tmp, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EAGAIN) {
      throw std::runtime_error(std::string(what) + ": hangup while waiting for a line");
    }
  }
  return true;
}

/// A running knoblink-sim; quits it when destroyed.
class SimProcess {
 public:
  explicit SimProcess(std::vector<std::string> args) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    args.insert(args.begin(), KNOBLINK_SIM_EXE);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) throw std::runtime_error(std::string("cannot start " KNOBLINK_SIM_EXE ": ") + std::strerror(rc));
    in_ = in[1];
    out_ = out[0];
    fcntl(out_, F_SETFL, O_NONBLOCK);
    pty_ = expect_prefix("pty ", milliseconds(5000));
  }
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;
  ~SimProcess() {
    const char quit[] = "quit\n";
    (void)!write(in_, quit, sizeof quit - 1);  // never throw here: it may run during unwinding
    close(in_);
    bool exited = false;
    for (int i = 0; i < 100 && !exited; ++i) {
      exited = waitpid(pid_, nullptr, WNOHANG) == pid_;
      if (!exited) usleep(20000);
    }
    if (!exited) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_);
  }

  /// The pty path from the last "pty ..." line.
  const std::string& pty() const { return pty_; }

  void send(const std::string& command) {
    const std::string l = command + "\n";
    if (write(in_, l.data(), l.size()) != static_cast<ssize_t>(l.size())) {
      int st = 0;
      std::string why = "cannot write to knoblink-sim";
      if (waitpid(pid_, &st, WNOHANG) == pid_)
        why += WIFSIGNALED(st) ? ": it died of signal " + std::to_string(WTERMSIG(st))
                               : ": it exited with " + std::to_string(WEXITSTATUS(st));
      throw std::runtime_error(why);
    }
  }

  /// Next stdout line, or "" on timeout.
  std::string line(milliseconds timeout) {
    std::string l;
    return read_line(out_, buf_, l, Clock::now() + timeout, "knoblink-sim stdout") ? l : std::string();
  }

  /// Skips stdout lines until one starts with prefix; returns the rest.
  std::string expect_prefix(const std::string& prefix, milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string l;
    while (read_line(out_, buf_, l, deadline, "knoblink-sim stdout"))
      if (l.rfind(prefix, 0) == 0) {
        if (prefix == "pty ") pty_ = l.substr(4);
        return l.substr(prefix.size());
      }
    throw std::runtime_error("knoblink-sim printed no '" + prefix + "' line in time");
  }

  /// Sends "sync" and waits for the answer: every queued input has happened.
  void sync(milliseconds timeout = milliseconds(5000)) {
    send("sync");
    expect_prefix("sync", timeout);
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  std::string buf_;
  std::string pty_;
};

/// The reading end of the emulated board's serial port.
class Port {
 public:
  explicit Port(const std::string& path) {
    fd_ = open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    termios t;
    tcgetattr(fd_, &t);
    cfmakeraw(&t);
    tcsetattr(fd_, TCSANOW, &t);
  }
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;
  ~Port() { close(fd_); }

  int fd() const { return fd_; }

  void write_line(const std::string& l) {
    const std::string s = l + "\n";
    if (::write(fd_, s.data(), s.size()) != static_cast<ssize_t>(s.size()))
      throw std::runtime_error("cannot write to the pty");
  }

  /// Next line, or "" on timeout.
  std::string line(milliseconds timeout) {
    std::string l;
    return read_line(fd_, buf_, l, Clock::now() + timeout, "pty") ? l : std::string();
  }

  /// Every line that arrives within the window.
  std::vector<std::string> lines_for(milliseconds window) {
    std::vector<std::string> out;
    const auto deadline = Clock::now() + window;
    std::string l;
    while (read_line(fd_, buf_, l, deadline, "pty")) out.push_back(l);
    return out;
  }

  /// Lines up to and including the first one equal to last (throws on timeout).
  std::vector<std::string> lines_until(const std::string& last, milliseconds timeout) {
    std::vector<std::string> out;
    const auto deadline = Clock::now() + timeout;
    std::string l;
    while (read_line(fd_, buf_, l, deadline, "pty")) {
      out.push_back(l);
      if (l == last) return out;
    }
    throw std::runtime_error("no '" + last + "' line on the pty in time");
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

}  // namespace knoblink::test
