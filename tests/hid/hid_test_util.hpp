// Helpers shared by the HID tests: files, hex, a recording EventSink.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "devices/event_sink.hpp"

namespace knoblink::test {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream s(text);
  for (std::string l; std::getline(s, l);) out.push_back(l);
  return out;
}

/// "01 0a ff  # comment" -> {0x01, 0x0a, 0xff}.
inline std::vector<std::uint8_t> hex_line(std::string line) {
  if (auto p = line.find('#'); p != std::string::npos) line.erase(p);
  std::vector<std::uint8_t> out;
  std::istringstream s(line);
  for (std::string w; s >> w;) out.push_back(static_cast<std::uint8_t>(std::stoul(w, nullptr, 16)));
  return out;
}

/// Records every sink call as a line ("event x 128", "connected", "control x abs 0 255",
/// "notice warning ..."); thread-safe, so a HidSource thread can feed it.
class RecordingSink : public EventSink {
 public:
  void on_event(const ControlEvent& e) override {
    add("event " + e.control.str() + " " + std::to_string(e.value));
  }
  void on_notice(std::uint16_t, Severity s, std::string_view text) override {
    static const char* names[] = {"debug", "info", "warning", "error"};
    add(std::string("notice ") + names[static_cast<int>(s)] + " " + std::string(text));
  }
  void on_connection(std::uint16_t, bool connected) override { add(connected ? "connected" : "disconnected"); }
  void on_control(std::uint16_t, const ControlInfo& info) override {
    std::string l = "control " + info.name.str() + " " + std::string(to_string(info.kind));
    if (info.has_range) l += " " + std::to_string(info.min) + " " + std::to_string(info.max);
    add(l);
  }

  std::vector<std::string> take() {
    std::lock_guard lock(mutex_);
    auto out = std::move(lines_);
    lines_.clear();
    return out;
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  /// Waits until a recorded line starts with prefix (searching from line `from`); false on timeout.
  bool wait_for(const std::string& prefix, int timeout_ms, std::size_t from = 0) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
      for (std::size_t i = from; i < lines_.size(); ++i)
        if (lines_[i].rfind(prefix, 0) == 0) return true;
      return false;
    });
  }

 private:
  void add(std::string line) {
    {
      std::lock_guard lock(mutex_);
      lines_.push_back(std::move(line));
    }
    cv_.notify_all();
  }
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

}  // namespace knoblink::test
