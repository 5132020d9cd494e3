// uid: on real ptys: two boxes of the same kind, two `port: auto` devices that want each
// other's first port. Each source skips the box with the other uid and the port another
// device holds, and both end up on their own box. The ports are listed as USB ports by
// a test lister (libserialport lists no ptys); they open through the termios fallback.
#include <catch2/catch.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "devices/serial_source.hpp"
#include "harness.hpp"

using namespace knoblink;
using namespace kltest;

namespace {

/// Records connections and events per device; the io thread writes, the test reads.
class Recorder final : public EventSink {
 public:
  void on_event(const ControlEvent& e) override {
    std::lock_guard lock(mutex_);
    log_.push_back("event " + std::to_string(e.device) + " " + e.control.str() + " " + std::to_string(e.value));
  }
  void on_notice(std::uint16_t, Severity, std::string_view text) override {
    std::lock_guard lock(mutex_);
    log_.push_back("notice " + std::string(text));
  }
  void on_connection(std::uint16_t device, bool up) override {
    std::lock_guard lock(mutex_);
    log_.push_back((up ? "connected " : "disconnected ") + std::to_string(device));
  }
  void on_control(std::uint16_t, const ControlInfo&) override {}
  bool has(const std::string& line) const {
    std::lock_guard lock(mutex_);
    return std::find(log_.begin(), log_.end(), line) != log_.end();
  }
  std::string text() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& l : log_) out += l + "\n";
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> log_;
};

/// A knob box on a pty: answers every "?" with its hello until stopped.
class FakeBox {
 public:
  explicit FakeBox(std::string uid) : uid_(std::move(uid)), thread_([this] { run(); }) {}
  ~FakeBox() {
    stop_ = true;
    thread_.join();
  }
  const std::string& path() const { return pty_.slave(); }
  void send(const std::string& line) {
    std::lock_guard lock(mutex_);
    pty_.write(line);
  }

 private:
  void run() {
    while (!stop_) {
      const auto line = pty_.read_line(50ms);
      if (line && *line == "?") send("@knoblink 1 knobbox uid=" + uid_ + "\n@ctl k1 abs 0 1023\n@end\n");
    }
  }
  std::string uid_;
  Pty pty_;
  std::mutex mutex_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("port: auto with uid: each device takes its own box, whichever port it tries first") {
  FakeBox first("0000beef"), second("0000c0de");  // listed in this order
  auto ports = std::make_shared<SerialPorts>([&](std::string&) {
    std::vector<PortInfo> out(2);
    out[0].path = first.path();
    out[1].path = second.path();
    for (auto& p : out) p.transport = "usb";
    return out;
  });
  asio::io_context io;
  Recorder sink;
  SerialConfig wants_second;
  wants_second.uid = "C0DE";
  SerialConfig wants_first;
  wants_first.uid = "beef";
  // Both try the first port first: a wants the second box, b the first.
  SerialSource a(io, 0, "a", wants_second, sink, ports);
  SerialSource b(io, 1, "b", wants_first, sink, ports);
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  asio::post(io, [&] {
    a.start();
    b.start();
  });
  const auto until = [&](const std::function<bool()>& f) {
    for (int i = 0; i < 300 && !f(); ++i) std::this_thread::sleep_for(20ms);
    return f();
  };
  const bool both = until([&] { return sink.has("connected 0") && sink.has("connected 1"); });
  INFO(sink.text());
  REQUIRE(both);
  CHECK(sink.has("notice a: found knobbox on " + second.path() + " (termios)"));
  CHECK(sink.has("notice b: found knobbox on " + first.path() + " (termios)"));
  std::promise<std::pair<std::string, std::string>> paths;
  asio::post(io, [&] { paths.set_value({a.path(), b.path()}); });
  CHECK(paths.get_future().get() == std::pair{second.path(), first.path()});

  first.send("k1 100\n");
  second.send("k1 200\n");
  const bool events = until([&] { return sink.has("event 1 k1 100") && sink.has("event 0 k1 200"); });
  INFO(sink.text());
  CHECK(events);
  CHECK_FALSE(sink.has("event 0 k1 100"));
  CHECK_FALSE(sink.has("event 1 k1 200"));

  std::promise<void> stopped;
  asio::post(io, [&] {
    a.stop();
    b.stop();
    stopped.set_value();
  });
  stopped.get_future().get();
  work.reset();
  io.stop();
  runner.join();
}
