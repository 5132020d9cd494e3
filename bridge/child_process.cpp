#include "bridge/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace knoblink {

ChildProcess::ChildProcess(asio::io_context& io, std::string label) : out_(io), label_(std::move(label)) {}

ChildProcess::~ChildProcess() { stop(std::chrono::milliseconds(2000)); }

bool ChildProcess::start(const std::vector<std::string>& argv, LineHandler on_line, std::string& error,
                         const std::string& stderr_file) {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    error = label_ + ": cannot make pipes: " + std::strerror(errno);
    return false;
  }
  pid_ = ::fork();
  if (pid_ < 0) {
    error = label_ + ": cannot fork: " + std::strerror(errno);
    return false;
  }
  if (pid_ == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    if (!stderr_file.empty()) {
      const int fd = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) ::dup2(fd, 2);
    }
    ::setpgid(0, 0);  // its own group: Ctrl-C reaches us, and we stop it cleanly
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    const std::string msg = "cannot run " + argv[0] + ": " + std::strerror(errno) + "\n";
    (void)!::write(2, msg.data(), msg.size());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  stdin_fd_ = in[1];
  out_.assign(out[0]);
  on_line_ = std::move(on_line);
  do_read();
  return true;
}

void ChildProcess::do_read() {
  out_.async_read_some(asio::buffer(buf_), [this](const asio::error_code& ec, std::size_t n) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      if (!line_.empty()) on_line_(line_, false);
      line_.clear();
      on_line_({}, true);
      return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (buf_[i] == '\n') {
        on_line_(line_, false);
        line_.clear();
      } else {
        line_ += buf_[i];
      }
    }
    do_read();
  });
}

void ChildProcess::send(const std::string& line) {
  if (stdin_fd_ < 0) return;
  const std::string l = line + "\n";
  // Small command lines to a pipe: a blocking write is immediate.
  if (::write(stdin_fd_, l.data(), l.size()) < 0) close_stdin();
}

void ChildProcess::close_stdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    pid_ = -1;
    return false;
  }
  return r == 0;
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
  close_stdin();
  if (running()) {
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (running()) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      while (running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  asio::error_code ignored;
  out_.close(ignored);
  return status_;
}

}  // namespace knoblink
