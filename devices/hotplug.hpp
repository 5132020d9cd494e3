// Hot-plug (docs/devices.md, "Hot-plug"): the one place that watches for devices
// appearing, so that a source waiting for its device opens it at once instead of at its
// next retry. Two watchers, either one is enough: a udev monitor (tty and hidraw devices
// added; the kernel's own uevents where no udevd runs) and inotify on the folder of a
// watched path (a pty's symlink, /dev/serial/by-id/..., /dev). A source's backoff timer
// stays as the fallback: a wake-up is a hint to try now, never the only way back.
// Runs on the io thread; libudev and inotify are used in hotplug.cpp only.
#pragma once

#include <asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace knoblink {

/// What a waiting source wants to hear about.
struct HotplugInterest {
  /// A node or link that may appear (port: /dev/ttyUSB0, a pty's link): its folder is
  /// watched (or, while the folder is missing, its nearest existing ancestor). Empty: none.
  std::string path;
  /// udev subsystems whose "add" wakes the source ("tty", "hidraw").
  std::vector<std::string> subsystems;
  /// Names appearing in /dev that wake the source ("ttyUSB", "hidraw"), for systems
  /// without udevd.
  std::vector<std::string> dev_prefixes;
};

class Hotplug {
 public:
  /// Called on the io thread with what appeared ("/tmp/x/box created", "udev: add tty ttyUSB0").
  using Callback = std::function<void(const std::string& what)>;
  struct State;

  /// Unwatches when destroyed (or reset); may outlive the Hotplug.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(std::weak_ptr<State> state, std::uint64_t id) : state_(std::move(state)), id_(id) {}
    Subscription(Subscription&& o) noexcept : state_(std::move(o.state_)), id_(o.id_) { o.id_ = 0; }
    Subscription& operator=(Subscription&& o) noexcept;
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    ~Subscription() { reset(); }
    void reset();
    bool active() const { return id_ != 0; }

   private:
    std::weak_ptr<State> state_;
    std::uint64_t id_ = 0;
  };

  explicit Hotplug(asio::io_context& io);
  ~Hotplug();
  Hotplug(const Hotplug&) = delete;
  Hotplug& operator=(const Hotplug&) = delete;

  /// Calls fn (on the io thread, never from inside watch) whenever something fitting
  /// interest appears. The watchers start with the first watch and close when the last
  /// one ends (so a stopped run's io_context runs out of work).
  Subscription watch(HotplugInterest interest, Callback fn);
  /// Why a watcher could not start (empty when both run); sources then rely on their timers.
  std::string problem() const;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace knoblink
