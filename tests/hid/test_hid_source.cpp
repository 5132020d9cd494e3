// HidSource against a fake backend behind the HID interface: connect, controls, events,
// malformed reports, unplug (disconnect) and replug (reopen), open errors, outputs, and
// the real reader thread.
#include <catch2/catch.hpp>

#include <chrono>
#include <deque>

#include "devices/hid/hid_describe.hpp"
#include "devices/hid/hid_source.hpp"
#include "firmware/knobbox_hid/knobbox_hid_report.h"
#include "hid_test_util.hpp"

using namespace knoblink;
using namespace knoblink::hid;
using knoblink::test::RecordingSink;
using Bytes = std::vector<std::uint8_t>;

namespace {

// A scripted device world: devices come and go, each open handle reads from a queue.
struct FakeWorld {
  std::mutex mutex;
  std::vector<HidDeviceInfo> present;
  Bytes descriptor{std::begin(knobbox_hid_descriptor), std::end(knobbox_hid_descriptor)};
  std::deque<Bytes> reports;  // what the open device will send
  bool unplugged = false;     // the open handle's next read fails
  std::string open_error;     // non-empty: open fails with this
  std::vector<Bytes> written;
  int opens = 0;
};

class FakeHandle : public HidHandle {
 public:
  explicit FakeHandle(std::shared_ptr<FakeWorld> w) : w_(std::move(w)) {}
  ReadResult read(std::span<std::uint8_t> buf, int timeout_ms) override {
    {
      std::lock_guard lock(w_->mutex);
      if (w_->unplugged) return {ReadStatus::disconnected, 0, "reading /dev/hidraw7: No such device"};
      if (!w_->reports.empty()) {
        const Bytes r = w_->reports.front();
        w_->reports.pop_front();
        std::copy(r.begin(), r.end(), buf.begin());
        return {ReadStatus::report, r.size(), {}};
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(timeout_ms, 5)));
    return {ReadStatus::timeout, 0, {}};
  }
  std::string write(std::span<const std::uint8_t> report) override {
    std::lock_guard lock(w_->mutex);
    w_->written.emplace_back(report.begin(), report.end());
    return {};
  }

 private:
  std::shared_ptr<FakeWorld> w_;
};

class FakeBackend : public HidBackend {
 public:
  explicit FakeBackend(std::shared_ptr<FakeWorld> w) : w_(std::move(w)) {}
  std::vector<HidDeviceInfo> enumerate() override {
    std::lock_guard lock(w_->mutex);
    return w_->present;
  }
  std::unique_ptr<HidHandle> open(const std::string& path, std::string& error) override {
    std::lock_guard lock(w_->mutex);
    if (!w_->open_error.empty()) {
      error = "opening " + path + ": " + w_->open_error;
      return nullptr;
    }
    ++w_->opens;
    w_->unplugged = false;
    return std::make_unique<FakeHandle>(w_);
  }
  Bytes report_descriptor(const std::string& path, std::string& error) override {
    std::lock_guard lock(w_->mutex);
    if (path != "/dev/hidraw7") error = "no descriptor for " + path;
    return path == "/dev/hidraw7" ? w_->descriptor : Bytes{};
  }

 private:
  std::shared_ptr<FakeWorld> w_;
};

const HidDeviceInfo knobbox{0x2341, 0x8036, "KB0001", "knoblink", "Knobbox HID", 1, 5, 2, "/dev/hidraw7"};

void plug(FakeWorld& w) {
  std::lock_guard lock(w.mutex);
  w.present = {HidDeviceInfo{0x046d, 0xc626, "", "", "SpaceNavigator", 1, 8, 0, "/dev/hidraw1"}, knobbox};
}
void unplug(FakeWorld& w) {
  std::lock_guard lock(w.mutex);
  w.present.clear();
  w.unplugged = true;
}
void send(FakeWorld& w, Bytes r) {
  std::lock_guard lock(w.mutex);
  w.reports.push_back(std::move(r));
}

const std::vector<std::string> knobbox_controls = {
    "control x abs 0 1023",  "control y abs 0 1023",  "control z abs 0 1023",  "control rx abs 0 1023",
    "control dial rel -127 127", "control wheel rel -127 127",   "control button1 btn",   "control button2 btn",
    "control button3 btn",   "control button4 btn",   "control button5 btn",   "control button6 btn"};

HidMatch match(const char* text) {
  std::string error;
  auto m = HidMatch::parse(text, error);
  REQUIRE(m);
  return *m;
}

}  // namespace

TEST_CASE("HidSource waits, connects, decodes, sees the unplug and reopens on replug") {
  auto world = std::make_shared<FakeWorld>();
  RecordingSink sink;
  HidSource src(4, match("2341:8036:KB0001"), sink, std::make_shared<FakeBackend>(world));
  using Step = HidSource::Step;

  CHECK(src.step(0) == Step::waiting);
  CHECK(src.step(0) == Step::waiting);  // told once, not on every retry
  CHECK(sink.take() == std::vector<std::string>{"notice info waiting for HID device 2341:8036:KB0001: not connected"});

  plug(*world);
  CHECK(src.step(0) == Step::connected);
  CHECK(src.connected());
  auto lines = sink.take();
  REQUIRE(lines.size() == 2 + knobbox_controls.size());
  CHECK(lines[0] == "connected");
  CHECK(lines[1] == "notice info opened HID device 2341:8036:KB0001 (Knobbox HID) at /dev/hidraw7: 12 controls");
  CHECK(std::vector<std::string>(lines.begin() + 2, lines.end()) == knobbox_controls);

  CHECK(src.step(1) == Step::timeout);
  send(*world, {1, 0x00, 0x02, 0x00, 0x02, 0x00, 0x02, 0xff, 0x03, 0x02, 0x00, 0x01});
  CHECK(src.step(2) == Step::report);
  CHECK(sink.take() == std::vector<std::string>{"event x 512", "event y 512", "event z 512", "event rx 1023",
                                                "event dial 2", "event button1 1"});
  send(*world, {1, 0x00, 0x02});  // cut short
  CHECK(src.step(3) == Step::malformed);
  CHECK(sink.take() == std::vector<std::string>{
                           "notice warning HID device 2341:8036:KB0001 at /dev/hidraw7: malformed report #1 "
                           "(report too short: 3 bytes, expected 12): 01 00 02"});
  send(*world, {9, 0});
  CHECK(src.step(3) == Step::malformed);
  CHECK(sink.take() == std::vector<std::string>{
                           "notice warning HID device 2341:8036:KB0001 at /dev/hidraw7: malformed report #2 "
                           "(unknown report ID): 09 00"});

  unplug(*world);
  CHECK(src.step(4) == Step::disconnected);
  CHECK_FALSE(src.connected());
  CHECK(sink.take() == std::vector<std::string>{
                           "disconnected",
                           "notice warning HID device 2341:8036:KB0001 disconnected: reading /dev/hidraw7: No such device"});
  CHECK(src.step(5) == Step::waiting);
  CHECK(sink.take() == std::vector<std::string>{"notice info waiting for HID device 2341:8036:KB0001: not connected"});

  plug(*world);
  CHECK(src.step(6) == Step::connected);
  lines = sink.take();
  CHECK(lines.front() == "connected");
  send(*world, {1, 0x00, 0x02, 0x00, 0x02, 0x00, 0x02, 0xff, 0x03, 0x00, 0x00, 0x00});
  CHECK(src.step(7) == Step::report);
  // A fresh decoder after the reopen: every value again, the button still released.
  CHECK(sink.take() == std::vector<std::string>{"event x 512", "event y 512", "event z 512", "event rx 1023"});

  const auto stats = src.stats();
  CHECK(stats.connects == 2);
  CHECK(stats.disconnects == 1);
  CHECK(stats.reports == 2);
  CHECK(stats.malformed == 2);
  CHECK(world->opens == 2);
}

TEST_CASE("HidSource tells an open error once, with the path, and retries") {
  auto world = std::make_shared<FakeWorld>();
  world->open_error = "Permission denied (install contrib/udev/70-knoblink.rules, see docs/hid.md)";
  plug(*world);
  RecordingSink sink;
  HidSource src(0, match("2341:8036"), sink, std::make_shared<FakeBackend>(world));
  CHECK(src.step(0) == HidSource::Step::waiting);
  CHECK(src.step(0) == HidSource::Step::waiting);
  CHECK(sink.take() == std::vector<std::string>{
                           "notice error HID device 2341:8036: opening /dev/hidraw7: Permission denied "
                           "(install contrib/udev/70-knoblink.rules, see docs/hid.md)"});
  world->open_error.clear();
  CHECK(src.step(0) == HidSource::Step::connected);
}

TEST_CASE("HidSource reports a bad descriptor with its byte offset") {
  auto world = std::make_shared<FakeWorld>();
  world->descriptor = {0x05, 0x01, 0xc0};
  plug(*world);
  RecordingSink sink;
  HidSource src(0, match("2341:8036"), sink, std::make_shared<FakeBackend>(world));
  CHECK(src.step(0) == HidSource::Step::waiting);
  CHECK(sink.take() == std::vector<std::string>{
                           "notice error HID device 2341:8036 at /dev/hidraw7: bad report descriptor: "
                           "byte 2: End Collection without Collection"});
}

TEST_CASE("HidSource writes outputs only while connected") {
  auto world = std::make_shared<FakeWorld>();
  world->descriptor = {0x85, 0x02, 0x05, 0x08, 0x19, 0x01, 0x29, 0x03, 0x15, 0x00, 0x25, 0x01,
                       0x75, 0x01, 0x95, 0x03, 0x91, 0x02, 0x95, 0x05, 0x91, 0x01,  // 3 LEDs, output report 2
                       0x05, 0x09, 0x09, 0x01, 0x95, 0x08, 0x81, 0x02};               // 8 bits input: button1 x8
  RecordingSink sink;
  HidSource src(0, match("2341:8036"), sink, std::make_shared<FakeBackend>(world));
  CHECK(src.write_output("caps_lock", 1) == "HID device 2341:8036 is not connected");
  plug(*world);
  REQUIRE(src.step(0) == HidSource::Step::connected);
  CHECK(src.write_output("caps_lock", 1).empty());
  CHECK(src.write_output("scroll_lock", 1).empty());
  CHECK(src.write_output("kana", 1) == "HID device 2341:8036: no output control named kana");
  CHECK(world->written == std::vector<Bytes>{{2, 0x02}, {2, 0x06}});
}

TEST_CASE("HidSource's reader thread delivers events and stops promptly") {
  auto world = std::make_shared<FakeWorld>();
  RecordingSink sink;
  HidSourceOptions options;
  options.read_timeout_ms = 50;
  options.retry_ms = 20;
  HidSource src(1, match("2341:8036"), sink, std::make_shared<FakeBackend>(world), options);
  src.start();
  REQUIRE(sink.wait_for("notice info waiting", 2000));
  plug(*world);
  REQUIRE(sink.wait_for("connected", 2000));
  send(*world, {1, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x20});
  REQUIRE(sink.wait_for("event button6 1", 2000));
  unplug(*world);
  REQUIRE(sink.wait_for("disconnected", 2000));
  plug(*world);
  const auto before = sink.lines().size();
  REQUIRE(sink.wait_for("connected", 2000, before));
  const auto t0 = std::chrono::steady_clock::now();
  src.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(500));
  const auto lines = sink.lines();
  CHECK(std::count(lines.begin(), lines.end(), "event dial -3") == 1);
  CHECK(std::count(lines.begin(), lines.end(), "connected") == 2);
}
