// A HID device as a source of ControlEvents: finds the device matching VID:PID[:serial],
// reads its report descriptor, opens it, reads reports, decodes them, and when it is
// unplugged waits for it to come back and opens it again, forever.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "devices/device_source.hpp"
#include "devices/event_sink.hpp"
#include "devices/hid/hid_backend.hpp"
#include "devices/hid/hid_descriptor.hpp"

namespace knoblink::hid {

struct HidSourceOptions {
  int read_timeout_ms = 100;  ///< one read waits at most this long (also bounds how long stop() takes)
  int retry_ms = 250;         ///< pause between attempts to find or open a missing device
  std::size_t max_report = 256;  ///< read buffer; longer reports are cut (and then decode as their own size)
  std::string label;  ///< the device's name in the mapping ("pad"): notices start with "pad: "
};

/// Counters, readable from any thread.
struct HidSourceStats {
  std::uint64_t reports = 0;    ///< input reports decoded
  std::uint64_t malformed = 0;  ///< reports that did not fit the descriptor (reported as notices)
  std::uint64_t connects = 0;
  std::uint64_t disconnects = 0;
};

/// Reads one HID device and feeds an EventSink.
///
/// Threading: start() runs the loop on a reader thread of its own, and every EventSink
/// call (on_connection, on_control, on_event, on_notice) is made FROM THAT THREAD. The
/// bridge wraps its sink so each call is posted onto its io_context; a test sink must
/// lock. Order on connect: on_connection(true), on_notice(info, "opened ..."), one
/// on_control per control (inputs and `out` outputs), then on_event as reports arrive.
/// On unplug: on_connection(false) and a warning naming the path and the error.
class HidSource final : public DeviceSource {
 public:
  /// Uses hidapi when backend is null. The sink must outlive the source.
  HidSource(std::uint16_t device, HidMatch match, EventSink& sink,
            std::shared_ptr<HidBackend> backend = nullptr, HidSourceOptions options = {});
  ~HidSource() override;  ///< stops the reader thread
  HidSource(const HidSource&) = delete;
  HidSource& operator=(const HidSource&) = delete;

  /// Starts the reader thread (once).
  void start() override;
  /// Stops and joins the reader thread; returns within about read_timeout_ms.
  void stop() override;
  /// Something appeared (docs/devices.md, "Hot-plug"): while waiting for the device, look
  /// for it now instead of after retry_ms. Callable from any thread.
  void rescan();

  /// What one step() did.
  enum class Step { waiting, connected, report, malformed, timeout, disconnected };
  /// One turn of the loop (the reader thread calls it; tests call it directly instead of
  /// start()): when closed, look for the device and open it; when open, read one report
  /// and decode it. now_us stamps the events.
  Step step(std::int64_t now_us);

  /// Sets an output control (an LED) on the open device; callable from any thread.
  /// Empty on success, else what went wrong (not connected, no such output, write error).
  std::string write_output(std::string_view control, std::int32_t value);
  /// The same, for the bridge (DeviceSource).
  OutputResult write_output(const Name& control, std::int32_t value) override {
    auto error = write_output(control.view(), value);
    const bool away = !error.empty() && !connected();
    return {std::move(error), away};
  }
  /// kind "hid", the label, the hidraw path while connected; callable from any thread.
  DeviceDescription describe() const override;

  bool connected() const { return connected_.load(); }
  HidSourceStats stats() const;

 private:
  Step try_open();
  void notice(Severity severity, const std::string& text);
  void problem(Severity severity, const std::string& text);
  void run();

  const std::uint16_t device_;
  const HidMatch match_;
  EventSink& sink_;
  std::shared_ptr<HidBackend> backend_;
  const HidSourceOptions options_;

  // Reader-thread state.
  std::unique_ptr<HidDescriptor> descriptor_;
  std::unique_ptr<ReportDecoder> decoder_;
  std::vector<std::uint8_t> buf_;
  std::vector<ControlEvent> events_;
  std::string path_;
  std::string last_problem_;  ///< a repeated problem is told once

  // Shared with write_output() and stats().
  mutable std::mutex mutex_;
  std::shared_ptr<HidHandle> handle_;
  std::string attached_;  ///< path_ while open, for describe()
  std::string waiting_;   ///< last_problem_ while closed, for describe()
  std::unique_ptr<OutputState> outputs_;
  HidSourceStats stats_;
  std::atomic<bool> connected_{false};

  std::thread thread_;
  std::condition_variable wake_;
  bool stopping_ = false;  ///< guarded by mutex_
  bool rescan_ = false;    ///< guarded by mutex_
};

}  // namespace knoblink::hid
