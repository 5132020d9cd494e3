#include "devices/hotplug.hpp"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include <asio/posix/stream_descriptor.hpp>

#ifdef KNOBLINK_WITH_UDEV
#include <libudev.h>
#endif

namespace knoblink {

namespace {
constexpr std::uint32_t kDirEvents = IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_ONLYDIR;

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

/// The folder to watch for path and the name in it that leads to path: path's own folder,
/// or while that is missing, its nearest existing ancestor and the next part down.
std::pair<std::string, std::string> watch_point(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  for (;;) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return {".", path};
    std::string dir = slash == 0 ? "/" : path.substr(0, slash);
    if (is_dir(dir) || dir == "/") return {dir, path.substr(slash + 1)};
    path = dir;
  }
}

bool has_prefix(const std::string& name, const std::vector<std::string>& prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return name.rfind(p, 0) == 0; });
}
}  // namespace

struct Hotplug::State {
  explicit State(asio::io_context& io) : inotify(io), udev_stream(io) {}
  ~State();

  struct Sub {
    std::uint64_t id = 0;
    HotplugInterest interest;
    Callback fn;
    int wd = -1;           ///< the folder watched for interest.path
    std::string dir, want; ///< that folder, and the name in it that leads to the path
  };
  void start();
  /// The last watch ended: closes the watchers, so that they keep no io_context running.
  void shutdown();
  void arm(Sub& s);
  void do_read_inotify();
  void do_read_udev();
  /// Calls the callback of each id still subscribed (callbacks may unsubscribe or subscribe).
  void call(const std::vector<std::pair<std::uint64_t, std::string>>& due);

  std::vector<Sub> subs;
  std::uint64_t next_id = 1;
  bool started = false;
  asio::posix::stream_descriptor inotify;
  int dev_wd = -1;  ///< /dev, for dev_prefixes
  std::map<int, std::string> dirs;  ///< watched folders by watch descriptor
  alignas(inotify_event) char buf[4096];
  asio::posix::stream_descriptor udev_stream;
#ifdef KNOBLINK_WITH_UDEV
  struct udev* udev = nullptr;
  struct udev_monitor* monitor = nullptr;
#endif
  std::string inotify_problem, udev_problem;
};

Hotplug::State::~State() { shutdown(); }

void Hotplug::State::shutdown() {
  asio::error_code ignored;
  inotify.close(ignored);  // a pending wait ends with operation_aborted
  udev_stream.close(ignored);
#ifdef KNOBLINK_WITH_UDEV
  if (monitor) udev_monitor_unref(monitor);
  if (udev) udev_unref(udev);
  monitor = nullptr;
  udev = nullptr;
#endif
  dirs.clear();
  dev_wd = -1;
  for (auto& s : subs) s.wd = -1;
  inotify_problem.clear();
  udev_problem.clear();
  started = false;
}

void Hotplug::State::start() {
  started = true;
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    inotify_problem = std::string("inotify_init1: ") + std::strerror(errno);
  } else {
    inotify.assign(fd);
    do_read_inotify();
  }
#ifdef KNOBLINK_WITH_UDEV
  // Where udevd runs, its events come after it made the node's links and permissions;
  // elsewhere (a container, an initramfs) the kernel's uevents are all there is.
  const char* source = ::access("/run/udev/control", F_OK) == 0 ? "udev" : "kernel";
  udev = udev_new();
  monitor = udev ? udev_monitor_new_from_netlink(udev, source) : nullptr;
  if (!monitor) {
    udev_problem = std::string("cannot open a udev monitor (") + source + " events): " + std::strerror(errno);
    return;
  }
  for (const char* subsystem : {"tty", "hidraw"}) udev_monitor_filter_add_match_subsystem_devtype(monitor, subsystem, nullptr);
  if (const int rc = udev_monitor_enable_receiving(monitor); rc < 0) {
    udev_problem = std::string("cannot receive udev events (") + source + "): " + std::strerror(-rc);
    return;
  }
  asio::error_code ec;
  udev_stream.assign(::dup(udev_monitor_get_fd(monitor)), ec);
  if (ec) {
    udev_problem = "cannot watch the udev monitor: " + ec.message();
    return;
  }
  do_read_udev();
#else
  udev_problem = "built without udev (KNOBLINK_WITH_UDEV=OFF)";
#endif
}

void Hotplug::State::arm(Sub& s) {
  if (!inotify.is_open()) return;
  if (!s.interest.dev_prefixes.empty() && dev_wd < 0) {
    dev_wd = ::inotify_add_watch(inotify.native_handle(), "/dev", kDirEvents);
    if (dev_wd >= 0) dirs[dev_wd] = "/dev";
  }
  if (s.interest.path.empty()) return;
  auto [dir, want] = watch_point(s.interest.path);
  if (dir == s.dir && s.wd >= 0 && dirs.count(s.wd)) return;
  const int wd = ::inotify_add_watch(inotify.native_handle(), dir.c_str(), kDirEvents);
  if (wd < 0) {
    inotify_problem = "cannot watch " + dir + ": " + std::strerror(errno);
    s.wd = -1;
    return;
  }
  dirs[wd] = dir;
  s.wd = wd;
  s.dir = std::move(dir);
  s.want = std::move(want);
}

void Hotplug::State::call(const std::vector<std::pair<std::uint64_t, std::string>>& due) {
  for (const auto& [id, what] : due) {
    const auto it = std::find_if(subs.begin(), subs.end(), [id = id](const Sub& s) { return s.id == id; });
    if (it == subs.end()) continue;
    const Callback fn = it->fn;  // subs may change under the call
    fn(what);
  }
}

void Hotplug::State::do_read_inotify() {
  inotify.async_wait(asio::posix::descriptor_base::wait_read, [this](const asio::error_code& ec) {
    if (ec) return;  // closed: the state is going away
    std::vector<std::pair<std::uint64_t, std::string>> due;
    auto add = [&](std::uint64_t id, std::string what) {
      if (std::none_of(due.begin(), due.end(), [&](const auto& d) { return d.first == id; }))
        due.emplace_back(id, std::move(what));
    };
    for (;;) {
      const ssize_t n = ::read(inotify.native_handle(), buf, sizeof buf);
      if (n <= 0) break;
      for (ssize_t off = 0; off < n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
        if (ev->mask & IN_IGNORED) {  // the folder went away; arm() finds its ancestor
          dirs.erase(ev->wd);
          if (ev->wd == dev_wd) dev_wd = -1;
          continue;
        }
        if (ev->len == 0) continue;
        const std::string name(ev->name);
        const auto dir = dirs.find(ev->wd);
        const std::string full = (dir == dirs.end() ? std::string("?") : dir->second) + "/" + name;
        const char* how = ev->mask & IN_ATTRIB ? " changed" : " appeared";
        for (const auto& s : subs) {
          if ((ev->wd == s.wd && name == s.want) || (ev->wd == dev_wd && has_prefix(name, s.interest.dev_prefixes)))
            add(s.id, full + how);
        }
      }
    }
    // A folder on the way to a path may have appeared: watch deeper, and let the source
    // look (the node may be there already).
    for (auto& s : subs) {
      const std::string before = s.dir;
      arm(s);
      if (s.dir != before) add(s.id, s.dir + " appeared");
    }
    call(due);
    if (inotify.is_open()) do_read_inotify();
  });
}

void Hotplug::State::do_read_udev() {
#ifdef KNOBLINK_WITH_UDEV
  udev_stream.async_wait(asio::posix::descriptor_base::wait_read, [this](const asio::error_code& ec) {
    if (ec) return;
    std::vector<std::pair<std::uint64_t, std::string>> due;
    while (udev_device* d = udev_monitor_receive_device(monitor)) {
      const char* action = udev_device_get_action(d);
      const char* subsystem = udev_device_get_subsystem(d);
      const char* name = udev_device_get_sysname(d);
      if (action && subsystem && std::strcmp(action, "add") == 0)
        for (const auto& s : subs)
          if (std::find(s.interest.subsystems.begin(), s.interest.subsystems.end(), subsystem) != s.interest.subsystems.end())
            due.emplace_back(s.id, std::string("udev: add ") + subsystem + " " + (name ? name : "?"));
      udev_device_unref(d);
    }
    call(due);
    if (udev_stream.is_open()) do_read_udev();
  });
#endif
}

Hotplug::Subscription& Hotplug::Subscription::operator=(Subscription&& o) noexcept {
  if (this != &o) {
    reset();
    state_ = std::move(o.state_);
    id_ = o.id_;
    o.id_ = 0;
  }
  return *this;
}

void Hotplug::Subscription::reset() {
  if (id_ == 0) return;
  if (auto s = state_.lock()) {
    std::erase_if(s->subs, [id = id_](const State::Sub& sub) { return sub.id == id; });
    if (s->subs.empty() && s->started) s->shutdown();
  }
  id_ = 0;
  state_.reset();
}

Hotplug::Hotplug(asio::io_context& io) : state_(std::make_shared<State>(io)) {}

Hotplug::~Hotplug() = default;

Hotplug::Subscription Hotplug::watch(HotplugInterest interest, Callback fn) {
  if (!state_->started) state_->start();
  State::Sub s;
  s.id = state_->next_id++;
  s.interest = std::move(interest);
  s.fn = std::move(fn);
  state_->arm(s);
  state_->subs.push_back(std::move(s));
  return Subscription(state_, state_->subs.back().id);
}

std::string Hotplug::problem() const {
  std::string out = state_->inotify_problem;
  if (!state_->udev_problem.empty()) out += (out.empty() ? "" : "; ") + state_->udev_problem;
  return out;
}

}  // namespace knoblink
