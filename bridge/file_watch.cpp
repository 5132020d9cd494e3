#include "bridge/file_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace knoblink {

namespace {
/// A save in place (modify, close), a new file renamed over it or created, the file going away.
constexpr std::uint32_t kFileEvents = IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM;
/// The folder itself going away.
constexpr std::uint32_t kFolderGone = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED;
}  // namespace

FileWatch::FileWatch(asio::io_context& io, std::string path, std::function<void()> on_saved,
                     std::chrono::milliseconds debounce)
    : path_(std::move(path)), on_saved_(std::move(on_saved)), debounce_(debounce), fd_(io), quiet_(io) {
  const std::filesystem::path p = std::filesystem::absolute(path_);
  folder_ = p.parent_path().string();
  name_ = p.filename().string();
}

FileWatch::~FileWatch() { stop(); }

bool FileWatch::start(std::string& error) {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    error = "cannot watch " + path_ + " for saves: inotify_init1: " + std::strerror(errno);
    return false;
  }
  if (::inotify_add_watch(fd, folder_.c_str(), kFileEvents | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR) < 0) {
    error = "cannot watch the folder " + folder_ + " for saves of " + name_ + ": " + std::strerror(errno) +
            "; SIGHUP still reloads";
    ::close(fd);
    return false;
  }
  fd_.assign(fd);
  do_wait();
  return true;
}

void FileWatch::stop() {
  quiet_.cancel();
  asio::error_code ignored;
  fd_.close(ignored);
}

void FileWatch::do_wait() {
  fd_.async_wait(asio::posix::descriptor_base::wait_read, [this](const asio::error_code& ec) {
    if (ec) return;  // stopped
    on_readable();
  });
}

void FileWatch::on_readable() {
  bool saved = false, gone = false;
  for (;;) {
    const auto n = ::read(fd_.native_handle(), buf_.data(), buf_.size());
    if (n <= 0) break;  // EAGAIN: all read
    for (std::size_t at = 0; at + sizeof(inotify_event) <= static_cast<std::size_t>(n);) {
      inotify_event ev;
      std::memcpy(&ev, buf_.data() + at, sizeof ev);
      const char* name = buf_.data() + at + sizeof ev;
      if ((ev.mask & kFileEvents) && ev.len > 0 && name_ == name) saved = true;
      if (ev.mask & kFolderGone) gone = true;
      at += sizeof ev + ev.len;
    }
  }
  if (gone) {
    spdlog::warn("{}: its folder {} went away; no longer reloading on save (SIGHUP still reloads)", path_, folder_);
    stop();
    return;
  }
  if (saved) {
    quiet_.expires_after(debounce_);  // every further change pushes the reload back
    quiet_.async_wait([this](const asio::error_code& ec) {
      if (!ec) on_saved_();
    });
  }
  do_wait();
}

}  // namespace knoblink
