// The tiny interface between knoblink and the HID library: enumerate, open, read
// with a timeout, write, read the report descriptor. hidapi implements it in
// hidapi_backend.cpp (the only file that includes hidapi.h); tests use a fake.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace knoblink::hid {

/// One HID interface as the system lists it.
struct HidDeviceInfo {
  std::uint16_t vid = 0;
  std::uint16_t pid = 0;
  std::string serial;
  std::string manufacturer;
  std::string product;
  std::uint16_t usage_page = 0;  ///< of the top-level collection
  std::uint16_t usage = 0;
  int interface_number = -1;
  std::string path;  ///< e.g. /dev/hidraw3
};

/// Which device to open: "VID:PID" or "VID:PID:serial", hex IDs as lsusb prints them.
struct HidMatch {
  std::uint16_t vid = 0;
  std::uint16_t pid = 0;
  std::string serial;  ///< empty: any serial

  /// Parses "2341:8036" or "2341:8036:KB0001"; on failure sets error to what is wrong.
  static std::optional<HidMatch> parse(std::string_view text, std::string& error);
  bool matches(const HidDeviceInfo& info) const;
  /// The text form, as parse accepts it.
  std::string str() const;
};

/// How a read ended: with a report, with nothing before the timeout, or because the
/// device is gone (unplugged, or an I/O error: the handle is useless after this).
enum class ReadStatus : std::uint8_t { report, timeout, disconnected };

struct ReadResult {
  ReadStatus status = ReadStatus::timeout;
  std::size_t size = 0;  ///< bytes of the report (ID byte first when the device numbers reports)
  std::string error;     ///< for disconnected: the library's words and the path
};

/// An open device.
class HidHandle {
 public:
  virtual ~HidHandle() = default;
  /// Waits at most timeout_ms for one input report and copies it into buf.
  virtual ReadResult read(std::span<std::uint8_t> buf, int timeout_ms) = 0;
  /// Sends an output report (ID byte first; 0 when the device has no report IDs).
  /// Empty on success, else what went wrong.
  virtual std::string write(std::span<const std::uint8_t> report) = 0;
};

/// The HID library.
class HidBackend {
 public:
  virtual ~HidBackend() = default;
  /// Every HID interface present now.
  virtual std::vector<HidDeviceInfo> enumerate() = 0;
  /// Opens a device by path; nullptr with error set on failure.
  virtual std::unique_ptr<HidHandle> open(const std::string& path, std::string& error) = 0;
  /// The raw report descriptor of the device at path; empty with error set on failure.
  virtual std::vector<std::uint8_t> report_descriptor(const std::string& path, std::string& error) = 0;
};

/// hidapi (hidraw) behind HidBackend. Never null; if hid_init fails the error shows on use.
std::unique_ptr<HidBackend> make_hidapi_backend();

/// The sysfs file holding a hidraw node's report descriptor:
/// /dev/hidraw3 -> /sys/class/hidraw/hidraw3/device/report_descriptor.
std::string sysfs_descriptor_path(std::string_view hidraw_path);

}  // namespace knoblink::hid
