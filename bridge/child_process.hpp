// A child program with pipes on stdin and stdout, read line by line on an Asio loop
// (the demo's emulator and Blender). POSIX only.
#pragma once

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <sys/types.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

namespace knoblink {

class ChildProcess {
 public:
  /// Each stdout line (without '\n'); on_exit-like end of output is an empty optional: eof=true.
  using LineHandler = std::function<void(const std::string& line, bool eof)>;

  ChildProcess(asio::io_context& io, std::string label);
  ~ChildProcess();
  /// Starts argv[0] (searched in PATH); stderr is inherited, or sent to stderr_file when given.
  /// Returns false with error set when it cannot start.
  bool start(const std::vector<std::string>& argv, LineHandler on_line, std::string& error,
             const std::string& stderr_file = {});
  /// Writes a line to its stdin.
  void send(const std::string& line);
  /// Closes its stdin (many programs quit on that).
  void close_stdin();
  /// SIGTERM, then SIGKILL after grace; waits for it. Returns its exit status (128+signal when killed).
  int stop(std::chrono::milliseconds grace);
  bool running();
  const std::string& label() const { return label_; }

 private:
  void do_read();
  asio::posix::stream_descriptor out_;
  std::string label_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int status_ = -1;
  std::array<char, 4096> buf_{};
  std::string line_;
  LineHandler on_line_;
};

}  // namespace knoblink
