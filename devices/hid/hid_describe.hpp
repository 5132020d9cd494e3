// Printable text for the CLI: `knoblink descriptor FILE` and the HID part of
// `knoblink list`. Pure except load_descriptor_file (reads a file) and
// list_devices (asks the backend).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "devices/hid/hid_backend.hpp"
#include "devices/hid/hid_descriptor.hpp"

namespace knoblink::hid {

/// The controls a descriptor declares, one per line, e.g.
///   "x                abs 0 255        input report 0 bits 0+8 (Generic Desktop 0x30)"
/// preceded by "# " lines for the application collection, the report sizes and warnings.
std::string describe_controls(const HidDescriptor& descriptor);

/// Reads a report descriptor file: raw bytes (as in /sys/class/hidraw/*/device/report_descriptor)
/// or hex text ("05 01 09 05", "0x05, 0x01,"; "#" and "//" start comments). Empty with
/// error set ("FILE: ...") on failure.
std::vector<std::uint8_t> load_descriptor_file(const std::string& path, std::string& error);

/// Everything `knoblink descriptor FILE` prints. Returns false (and text holding the
/// error, naming the file and byte) when the file cannot be read or parsed.
bool describe_descriptor_file(const std::string& path, std::string& text);

/// A present HID device and what its descriptor declares.
struct HidListing {
  HidDeviceInfo info;
  std::optional<HidDescriptor> descriptor;
  std::string error;  ///< why there is no descriptor
};

/// Every present HID interface with its parsed descriptor.
std::vector<HidListing> list_devices(HidBackend& backend);

/// The HID part of `knoblink list`: per device a header line
///   "hid 2341:8036:KB0001  Arduino LLC Knobbox HID  /dev/hidraw0  (Generic Desktop 0x05)"
/// and the line to paste into the mapping file (hid: {match: "..."}), then its controls indented.
/// "no HID devices found" when the list is empty.
std::string describe_listing(const std::vector<HidListing>& devices);

}  // namespace knoblink::hid
