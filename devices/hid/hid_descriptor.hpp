// HID report descriptors and reports, pure: bytes in, controls and ControlEvents
// out. No I/O, no clock (time is passed in), no allocation while decoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "devices/control_event.hpp"
#include "devices/event_sink.hpp"

namespace knoblink::hid {

/// Which way a report travels: device -> host (input), host -> device (output), or feature.
enum class ReportType : std::uint8_t { input, output, feature };

/// A 32-bit extended usage: page in the high 16 bits, usage id in the low 16.
constexpr std::uint32_t usage(std::uint16_t page, std::uint16_t id) {
  return (std::uint32_t{page} << 16) | id;
}

/// One control of the device: where its bits are and what it means.
struct HidControl {
  ControlInfo info;              ///< name, kind (abs/rel/btn, out for outputs), logical range
  std::uint32_t usage = 0;       ///< extended usage (page << 16 | id)
  ReportType type = ReportType::input;
  std::uint8_t report_id = 0;    ///< 0 when the descriptor declares no report IDs
  std::uint32_t bit_offset = 0;  ///< from the start of the report's data, after the ID byte
  std::uint8_t bit_size = 0;     ///< 1..32
  bool is_signed = false;        ///< logical minimum < 0: the field is two's complement
  bool null_state = false;       ///< values outside the logical range mean "no value"
  bool hat = false;              ///< a hat switch: out-of-range (centered) is reported as -1
  int array = -1;                ///< >= 0: a usage of an array item (index into HidDescriptor::arrays)
  std::int32_t array_value = 0;  ///< for array usages: the slot value that means "this usage is down"
};

/// An array main item (keyboard keys, consumer keys): `count` slots of `bit_size` bits,
/// each holding the value of one pressed usage.
struct HidArray {
  ReportType type = ReportType::input;
  std::uint8_t report_id = 0;
  std::uint32_t bit_offset = 0;
  std::uint8_t bit_size = 0;
  std::uint16_t count = 0;
};

/// The size of one report, in bits of data (without the ID byte).
struct HidReportLayout {
  ReportType type = ReportType::input;
  std::uint8_t id = 0;
  std::uint32_t bits = 0;
  /// Bytes on the wire: the data rounded up, plus the ID byte when the descriptor uses IDs.
  std::size_t wire_size(bool numbered) const { return (bits + 7) / 8 + (numbered ? 1 : 0); }
};

/// Everything a report descriptor declares that knoblink uses.
struct HidDescriptor {
  std::vector<HidControl> controls;  ///< inputs and outputs in descriptor order; names are unique
  std::vector<HidArray> arrays;
  std::vector<HidReportLayout> reports;
  bool numbered = false;             ///< reports start with a report ID byte
  std::uint32_t application = 0;     ///< usage of the first application collection (e.g. 0x00010005 game pad)
  std::vector<std::string> warnings; ///< things skipped, with the byte offset of the item

  /// The layout of a report, or nullptr when the descriptor declares none with that type and ID.
  const HidReportLayout* report(ReportType type, std::uint8_t id) const;
};

/// A parsed descriptor, or what is wrong with the bytes and where.
struct ParseResult {
  std::optional<HidDescriptor> descriptor;
  std::string error;  ///< e.g. "byte 41: Pop without Push"; empty on success
};

/// Parses a HID report descriptor (items, global/local state, Push/Pop, report IDs,
/// usage ranges). Feature reports are skipped.
ParseResult parse_descriptor(std::span<const std::uint8_t> bytes);

/// The printable name of an extended usage, e.g. "x", "hat", "button3", "key_a", "vendor1";
/// "u<page>_<id>" in hex when knoblink has no name for it. Always a valid Name.
std::string usage_name(std::uint32_t usage);

/// "Generic Desktop", "Button", ... or "0x<page>".
std::string usage_page_name(std::uint16_t page);

/// Why an input report could not be decoded.
enum class DecodeStatus : std::uint8_t {
  ok,
  empty,              ///< zero bytes
  unknown_report_id,  ///< the first byte names no input report of the descriptor
  too_short,          ///< fewer bytes than the descriptor declares for that report
};

/// "ok", "empty report", "unknown report ID", "report too short".
std::string_view to_string(DecodeStatus status);

/// Turns input reports into ControlEvents, changes only: abs and hat values when they
/// differ from the last one (the first report after reset() gives every value), buttons
/// when they differ (initially released), rel deltas when non-zero.
class ReportDecoder {
 public:
  /// Keeps a reference to descriptor: it must outlive the decoder.
  ReportDecoder(const HidDescriptor& descriptor, std::uint16_t device);

  /// Decodes one whole report as read from hidraw (ID byte first when numbered) and
  /// appends the changes to out. Allocates nothing once out has capacity. The first value
  /// of each absolute control and button is marked snapshot (a position, not a movement).
  DecodeStatus decode(std::span<const std::uint8_t> report, std::int64_t t_us,
                      std::vector<ControlEvent>& out);

  /// Forgets the last values, e.g. after a reconnect.
  void reset();

  /// The expected size in bytes of input report `id` (with its ID byte), 0 when unknown.
  std::size_t expected_size(std::uint8_t id) const;

 private:
  /// Where one array's slot values map into slot_control_: value - base indexes [first, first + size).
  struct ArrayIndex {
    std::size_t first = 0, size = 0;
    std::int64_t base = 0;
    bool is_signed = false;
  };

  const HidDescriptor& d_;
  std::uint16_t device_;
  std::vector<std::int32_t> last_;  ///< per control
  std::vector<bool> known_;         ///< per control: last_ holds a value
  std::vector<ArrayIndex> array_index_;  ///< per HidDescriptor::arrays entry
  std::vector<int> slot_control_;        ///< an array slot value -> its control, -1 for none
  std::vector<char> down_;               ///< per control: a slot of its array holds its value now
};

/// Extracts `bits` bits (1..32) at bit offset `offset` of data, little-endian as HID
/// lays them out; sign-extends when is_signed. Bits past the end read as zero.
std::int32_t extract_bits(std::span<const std::uint8_t> data, std::uint32_t offset,
                          std::uint8_t bits, bool is_signed);

/// Writes the low `bits` bits of value at bit offset `offset` of data.
void insert_bits(std::span<std::uint8_t> data, std::uint32_t offset, std::uint8_t bits,
                 std::int32_t value);

}  // namespace knoblink::hid

namespace knoblink::hid {

/// The host's side of the output reports (LEDs): remembers every output control's last
/// value so that setting one keeps the others, and builds the report to send.
class OutputState {
 public:
  explicit OutputState(const HidDescriptor& descriptor);
  /// Sets output control `name` and fills report with the whole output report to write
  /// (ID byte first; 0 when unnumbered). Empty on success, else what is wrong.
  std::string set(std::string_view name, std::int32_t value, std::vector<std::uint8_t>& report);

 private:
  const HidDescriptor& d_;
  std::vector<std::vector<std::uint8_t>> reports_;  ///< per HidDescriptor::reports entry
};

}  // namespace knoblink::hid
