// A thread that calls a step every period until stopped, woken at once by stop(): the
// watcher loop of a device kind that polls (MIDI's port list).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace knoblink {

class PollThread {
 public:
  PollThread() = default;
  ~PollThread() { stop(); }
  PollThread(const PollThread&) = delete;
  PollThread& operator=(const PollThread&) = delete;

  /// Calls step now and then every period, on a thread of its own (once; later calls do nothing).
  void start(std::chrono::milliseconds period, std::function<void()> step) {
    std::lock_guard lock(mutex_);
    if (thread_.joinable() || stopping_) return;
    thread_ = std::thread([this, period, step = std::move(step)] {
      std::unique_lock held(mutex_);
      while (!stopping_) {
        held.unlock();
        step();
        held.lock();
        wake_.wait_for(held, period, [&] { return stopping_; });
      }
    });
  }
  /// Wakes the thread and joins it (waits for a step in progress to end).
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  bool started() const {
    std::lock_guard lock(mutex_);
    return thread_.joinable() || stopping_;
  }
  bool stopped() const {
    std::lock_guard lock(mutex_);
    return stopping_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace knoblink
