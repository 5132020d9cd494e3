// The only file that talks to hidapi (hidraw backend, 0.13). hidapi 0.13 has no call
// for the report descriptor, so it is read from sysfs.
#include <hidapi/hidapi.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>

#include "devices/hid/hid_backend.hpp"

namespace knoblink::hid {
namespace {

std::string narrow(const wchar_t* w) {
  std::string out;
  if (!w) return out;
  for (; *w; ++w) out += (*w < 0x80) ? static_cast<char>(*w) : '?';
  return out;
}

std::string error_text(hid_device* dev) {
  const std::string text = narrow(hid_error(dev));
  return text.empty() ? "unknown hidapi error" : text;
}

class HidapiHandle final : public HidHandle {
 public:
  HidapiHandle(hid_device* dev, std::string path) : dev_(dev), path_(std::move(path)) {}
  ~HidapiHandle() override { hid_close(dev_); }

  ReadResult read(std::span<std::uint8_t> buf, int timeout_ms) override {
    const int n = hid_read_timeout(dev_, buf.data(), buf.size(), timeout_ms);
    if (n > 0) return {ReadStatus::report, static_cast<std::size_t>(n), {}};
    if (n == 0) return {ReadStatus::timeout, 0, {}};
    return {ReadStatus::disconnected, 0, "reading " + path_ + ": " + error_text(dev_)};
  }

  std::string write(std::span<const std::uint8_t> report) override {
    if (hid_write(dev_, report.data(), report.size()) >= 0) return {};
    return "writing " + std::to_string(report.size()) + " bytes to " + path_ + ": " + error_text(dev_);
  }

 private:
  hid_device* dev_;
  std::string path_;
};

class HidapiBackend final : public HidBackend {
 public:
  HidapiBackend() {
    static std::once_flag once;
    static int init_result = 0;
    std::call_once(once, [] { init_result = hid_init(); });
    if (init_result != 0) init_error_ = "hid_init failed: " + error_text(nullptr);
  }

  std::vector<HidDeviceInfo> enumerate() override {
    std::vector<HidDeviceInfo> out;
    if (!init_error_.empty()) return out;
    hid_device_info* list = hid_enumerate(0, 0);
    for (const hid_device_info* d = list; d; d = d->next) {
      out.push_back({d->vendor_id, d->product_id, narrow(d->serial_number), narrow(d->manufacturer_string),
                     narrow(d->product_string), d->usage_page, d->usage, d->interface_number,
                     d->path ? d->path : ""});
    }
    hid_free_enumeration(list);
    return out;
  }

  std::unique_ptr<HidHandle> open(const std::string& path, std::string& error) override {
    if (!init_error_.empty()) {
      error = init_error_;
      return nullptr;
    }
    errno = 0;
    hid_device* dev = hid_open_path(path.c_str());
    if (!dev) {
      // hidapi 0.13 keeps no error for a failed open; errno from open(2) survives.
      const int e = errno;
      error = "opening " + path + ": " + (e ? std::strerror(e) : error_text(nullptr));
      if (e == EACCES) error += " (install contrib/udev/70-knoblink.rules, see docs/hid.md)";
      return nullptr;
    }
    return std::make_unique<HidapiHandle>(dev, path);
  }

  std::vector<std::uint8_t> report_descriptor(const std::string& path, std::string& error) override {
    const std::string file = sysfs_descriptor_path(path);
    std::ifstream in(file, std::ios::binary);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.is_open()) error = "reading the report descriptor of " + path + ": cannot open " + file;
    else if (bytes.empty()) error = "reading the report descriptor of " + path + ": " + file + " is empty";
    return bytes;
  }

 private:
  std::string init_error_;
};

}  // namespace

std::unique_ptr<HidBackend> make_hidapi_backend() { return std::make_unique<HidapiBackend>(); }

}  // namespace knoblink::hid
