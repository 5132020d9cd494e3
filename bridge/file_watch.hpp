// Reload on save (docs/mapping.md, "Reloading"): watches the mapping file's folder with
// inotify, so a save is seen whether the editor writes the file in place or writes a new
// file and renames it over the old one, and calls back once the file has been quiet for
// the debounce time. The one inotify user of the bridge; device hot-plug is devices/'.
#pragma once

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <string>

namespace knoblink {

class FileWatch {
 public:
  /// on_saved is called on io's thread, debounce after the last change to path.
  FileWatch(asio::io_context& io, std::string path, std::function<void()> on_saved,
            std::chrono::milliseconds debounce = std::chrono::milliseconds(100));
  ~FileWatch();
  FileWatch(const FileWatch&) = delete;
  FileWatch& operator=(const FileWatch&) = delete;
  /// Starts watching; false with the reason (naming the folder) when inotify refuses.
  bool start(std::string& error);
  void stop();

 private:
  void do_wait();
  void on_readable();

  std::string path_, folder_, name_;
  std::function<void()> on_saved_;
  std::chrono::milliseconds debounce_;
  asio::posix::stream_descriptor fd_;
  asio::steady_timer quiet_;
  alignas(8) std::array<char, 4096> buf_{};
};

}  // namespace knoblink
