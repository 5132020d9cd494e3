// The HID report-descriptor parser, report decoder and OutputState
// (devices/hid/hid_descriptor.hpp) on arbitrary bytes. Input layout (tests/fuzz/make_seeds.py
// writes seeds in it):
//   u16 LE n, n descriptor bytes, then records until the end:
//     op even below 0xf0: an input report of op/2 bytes follows;
//     op even from 0xf0: an input report of 128 << (op - 0xf0) / 2 bytes (up to 16 KiB), one
//       byte m, then m bytes repeated to fill it (long reports from short inputs);
//     op odd:  an output write: one byte picks the output control, 4 bytes (LE) are the value.
// Checked: what the parser promises (bounded controls and warnings, unique valid names, field
// sizes 1..32, reports no longer than the bits they declare), and that decoding and writing
// never leave the report's bounds.
#include <algorithm>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "devices/hid/hid_descriptor.hpp"
#include "fuzz_split.hpp"

namespace {

using namespace knoblink;
using namespace knoblink::hid;

struct Reader {
  const std::uint8_t* p;
  std::size_t n;
  bool empty() const { return n == 0; }
  std::uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  std::span<const std::uint8_t> take(std::size_t k) {
    k = std::min(k, n);
    std::span<const std::uint8_t> out(p, k);
    p += k, n -= k;
    return out;
  }
};

void check_descriptor(const HidDescriptor& d, std::size_t descriptor_size) {
  KNOBLINK_FUZZ_CHECK(d.controls.size() <= 1024);
  // At most one warning per item (and one for unclosed collections): never a flood.
  KNOBLINK_FUZZ_CHECK(d.warnings.size() <= descriptor_size + 1);
  std::set<std::string> names;
  for (const HidControl& c : d.controls) {
    KNOBLINK_FUZZ_CHECK(Name::from(c.info.name.view()).has_value());
    KNOBLINK_FUZZ_CHECK(names.insert(c.info.name.str()).second);
    KNOBLINK_FUZZ_CHECK(c.bit_size >= 1 && c.bit_size <= 32);
    const HidReportLayout* r = d.report(c.type, c.report_id);
    KNOBLINK_FUZZ_CHECK(r != nullptr);
    KNOBLINK_FUZZ_CHECK(std::uint64_t{c.bit_offset} + c.bit_size <= r->bits);
    KNOBLINK_FUZZ_CHECK(c.array < static_cast<int>(d.arrays.size()));
  }
  for (const HidArray& a : d.arrays) {
    const HidReportLayout* r = d.report(a.type, a.report_id);
    KNOBLINK_FUZZ_CHECK(r != nullptr);
    KNOBLINK_FUZZ_CHECK(std::uint64_t{a.bit_offset} + std::uint64_t{a.count} * a.bit_size <= r->bits);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in{data, size};
  const std::size_t n = in.byte() | std::size_t{in.byte()} << 8;
  const auto bytes = in.take(n);
  const ParseResult parsed = parse_descriptor(bytes);
  KNOBLINK_FUZZ_CHECK(parsed.descriptor.has_value() != !parsed.error.empty());
  if (!parsed.descriptor) return 0;
  const HidDescriptor& d = *parsed.descriptor;
  check_descriptor(d, bytes.size());

  std::vector<const HidControl*> outputs;
  for (const HidControl& c : d.controls)
    if (c.type == ReportType::output) outputs.push_back(&c);

  ReportDecoder decoder(d, 7);
  OutputState state(d);
  std::vector<ControlEvent> events;
  std::vector<std::uint8_t> out, long_report;
  std::int64_t t = 0;
  while (!in.empty()) {
    const std::uint8_t op = in.byte();
    if ((op & 1) == 0) {
      std::span<const std::uint8_t> report = in.take(op < 0xf0 ? op / 2 : 0);
      if (op >= 0xf0) {
        long_report.assign(std::size_t{128} << (op - 0xf0) / 2, 0);
        const auto pattern = in.take(in.byte());
        for (std::size_t i = 0; !pattern.empty() && i < long_report.size(); ++i)
          long_report[i] = pattern[i % pattern.size()];
        report = long_report;
      }
      events.clear();
      const DecodeStatus status = decoder.decode(report, ++t, events);
      KNOBLINK_FUZZ_CHECK(status == DecodeStatus::ok || events.empty());
      KNOBLINK_FUZZ_CHECK(events.size() <= d.controls.size());
      for (const ControlEvent& e : events) {
        KNOBLINK_FUZZ_CHECK(e.device == 7 && e.t_us == t);
        if (e.kind == ControlKind::btn) KNOBLINK_FUZZ_CHECK(e.value == 0 || e.value == 1);
      }
      if (!report.empty() && status == DecodeStatus::ok) {
        const std::uint8_t id = d.numbered ? report[0] : 0;
        KNOBLINK_FUZZ_CHECK(report.size() >= decoder.expected_size(id));
      }
      if (op == 0) decoder.reset();
    } else {
      const std::uint8_t pick = in.byte();
      std::uint32_t raw = 0;
      for (int i = 0; i < 4; ++i) raw |= std::uint32_t{in.byte()} << (8 * i);
      const auto value = static_cast<std::int32_t>(raw);
      if (outputs.empty()) {
        KNOBLINK_FUZZ_CHECK(!state.set("led_01", value, out).empty());
        continue;
      }
      const HidControl& c = *outputs[pick % outputs.size()];
      out.clear();
      const std::string error = state.set(c.info.name.view(), value, out);
      const bool in_range = !c.info.has_range || (value >= c.info.min && value <= c.info.max);
      KNOBLINK_FUZZ_CHECK(error.empty() == in_range);
      if (error.empty()) {
        const HidReportLayout* r = d.report(ReportType::output, c.report_id);
        KNOBLINK_FUZZ_CHECK(out.size() == r->wire_size(d.numbered) + (d.numbered ? 0 : 1));
        KNOBLINK_FUZZ_CHECK(out[0] == c.report_id);
        // What was written reads back (the low bit_size bits of it).
        const auto payload = std::span<const std::uint8_t>(out).subspan(1);
        const std::int32_t back = extract_bits(payload, c.bit_offset, c.bit_size, false);
        const std::uint32_t mask = c.bit_size >= 32 ? 0xffffffffu : (1u << c.bit_size) - 1;
        KNOBLINK_FUZZ_CHECK((static_cast<std::uint32_t>(back) & mask) == (raw & mask));
      }
    }
  }
  return 0;
}
