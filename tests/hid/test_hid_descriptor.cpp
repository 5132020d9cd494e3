// The HID report-descriptor parser and report decoder on hand-made descriptors:
// global/local state, Push/Pop, report IDs, usage ranges, signedness, errors with offsets.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "devices/hid/hid_describe.hpp"
#include "hid_test_util.hpp"

using namespace knoblink;
using namespace knoblink::hid;
using Bytes = std::vector<std::uint8_t>;

namespace {

HidDescriptor parse_ok(const Bytes& bytes) {
  ParseResult r = parse_descriptor(bytes);
  INFO(r.error);
  REQUIRE(r.descriptor);
  return std::move(*r.descriptor);
}

std::string parse_error(const Bytes& bytes) {
  ParseResult r = parse_descriptor(bytes);
  REQUIRE_FALSE(r.descriptor);
  return r.error;
}

const HidControl& control(const HidDescriptor& d, std::string_view name) {
  for (const auto& c : d.controls)
    if (c.info.name.view() == name) return c;
  FAIL("no control " << name);
  return d.controls.front();
}

}  // namespace

TEST_CASE("Push and Pop save and restore the global state") {
  const auto d = parse_ok({
      0x05, 0x01, 0x15, 0x00, 0x26, 0xff, 0x00, 0x75, 0x08, 0x95, 0x01,  // GD, 0..255, 8 bits
      0xa4,                                                              // Push
      0x15, 0x81, 0x25, 0x7f, 0x75, 0x10,                                // -127..127, 16 bits
      0x09, 0x38, 0x81, 0x06,                                            // Wheel, rel
      0xb4,                                                              // Pop
      0x09, 0x30, 0x81, 0x02,                                            // X abs: 0..255, 8 bits again
  });
  REQUIRE(d.controls.size() == 2);
  const auto& wheel = control(d, "wheel");
  CHECK(wheel.info.kind == ControlKind::rel);
  CHECK(wheel.bit_size == 16);
  CHECK(wheel.is_signed);
  const auto& x = control(d, "x");
  CHECK(x.info.kind == ControlKind::abs);
  CHECK(x.bit_size == 8);
  CHECK(x.bit_offset == 16);
  CHECK((x.info.min == 0 && x.info.max == 255));
  CHECK_FALSE(x.is_signed);
}

TEST_CASE("errors name the byte offset and what is wrong") {
  CHECK(parse_error({0x05, 0x01, 0xb4}) == "byte 2: Pop without Push");
  CHECK(parse_error({0x05, 0x01, 0xc0}) == "byte 2: End Collection without Collection");
  CHECK(parse_error({0x05, 0x01, 0x26, 0xff}) == "byte 2: item 0x26 needs 2 data bytes, the descriptor ends after 1");
  CHECK(parse_error({0x85, 0x00}) == "byte 0: Report ID 0 (allowed: 1..255)");
  CHECK(parse_error({0x29, 0x05}) == "byte 0: Usage Maximum without Usage Minimum");
  CHECK(parse_error({}) == "byte 0: empty report descriptor");
  CHECK(parse_error({0xfe, 0x10, 0x00, 0x01}) == "byte 0: long item of 16 bytes runs past the end");
}

// Found by tests/fuzz/fuzz_hid_descriptor in two minutes: "more than 1024 controls" was pushed
// again for every further control, so Report Count 0x3500ff26 (a 4-byte item) made ~900 million
// warnings and `knoblink descriptor` died of std::bad_alloc. The input, as the fuzzer saved it
// (u16 length, descriptor, reports), is tests/data/fuzz/hid_descriptor/oom-warnings-flood.
TEST_CASE("regression: a huge Report Count is refused at once instead of flooding warnings") {
  const auto saved = test::slurp(std::filesystem::path(KNOBLINK_TEST_DATA) / "fuzz" / "hid_descriptor" /
                                 "oom-warnings-flood");
  REQUIRE(saved.size() >= 2);
  const std::size_t n = static_cast<std::uint8_t>(saved[0]) | std::size_t{static_cast<std::uint8_t>(saved[1])} << 8;
  REQUIRE(saved.size() >= 2 + n);
  const Bytes bytes(saved.begin() + 2, saved.begin() + 2 + static_cast<long>(n));
  CHECK(n == 99);
  CHECK(parse_error(bytes) ==
        "byte 39: input report 0 is longer than 16383 bytes (Report Size 8 x Report Count 889257766); "
        "hidraw reads at most 16384");
  // The same with a 4-byte count of 0xffffffff and 1-bit fields.
  CHECK(parse_error({0x05, 0x09, 0x19, 0x01, 0x29, 0x08, 0x15, 0x00, 0x25, 0x01, 0x75, 0x01,
                     0x97, 0xff, 0xff, 0xff, 0xff, 0x81, 0x02}) ==
        "byte 17: input report 0 is longer than 16383 bytes (Report Size 1 x Report Count 4294967295); "
        "hidraw reads at most 16384");
}

TEST_CASE("regression: more than 1024 controls warns once and keeps the first 1024") {
  // 2048 one-bit buttons, then 16 more: 1024 controls, one warning, the report still 2064 bits.
  const auto d = parse_ok({0x05, 0x09, 0x19, 0x01, 0x29, 0x10, 0x15, 0x00, 0x25, 0x01, 0x75, 0x01,
                           0x96, 0x00, 0x08, 0x81, 0x02,        // Report Count 2048, Input (Var)
                           0x19, 0x01, 0x29, 0x10, 0x95, 0x10, 0x81, 0x02});
  CHECK(d.controls.size() == 1024);
  REQUIRE(d.warnings.size() == 1);
  CHECK(d.warnings[0] == "byte 15: more than 1024 controls; the rest skipped");
  REQUIRE(d.report(ReportType::input, 0));
  CHECK(d.report(ReportType::input, 0)->bits == 2064);
  // Arrays over a 64 Ki usage range: each range is cut, the controls stop at 1024, one warning each.
  const Bytes keyboard_array{0x05, 0x07, 0x19, 0x00, 0x2a, 0xff, 0xff, 0x15, 0x00, 0x27, 0xff, 0xff, 0x00, 0x00,
                             0x75, 0x10, 0x95, 0x06, 0x81, 0x00};
  Bytes twice = keyboard_array;
  twice.insert(twice.end(), keyboard_array.begin() + 2, keyboard_array.end());
  const auto k = parse_ok(twice);
  CHECK(k.controls.size() == 1024);  // 1020 keys from the first (ids 0..3 are no keys), 4 from the second
  CHECK(k.warnings == std::vector<std::string>{"byte 4: usage range of 65536 cut to 1024",
                                               "byte 22: usage range of 65536 cut to 1024",
                                               "byte 36: more than 1024 controls; the rest skipped"});
}

TEST_CASE("regression: local usages are bounded and a range ending at 0xffffffff ends") {
  // Usage Minimum/Maximum 0xfffffff0..0xffffffff (4-byte, vendor page 0xffff): 16 controls.
  const auto d = parse_ok({0x1b, 0xf0, 0xff, 0xff, 0xff, 0x2b, 0xff, 0xff, 0xff, 0xff, 0x15, 0x00, 0x25, 0x01,
                           0x75, 0x01, 0x95, 0x10, 0x81, 0x02});
  CHECK(d.controls.size() == 16);
  CHECK(d.controls.back().usage == 0xffffffffu);
  // Two ranges of 1024 before one main item: the second is ignored, with one warning.
  const auto e = parse_ok({0x05, 0x09, 0x19, 0x01, 0x2a, 0x00, 0x04, 0x19, 0x01, 0x2a, 0x00, 0x04,
                           0x15, 0x00, 0x25, 0x01, 0x75, 0x01, 0x95, 0x08, 0x81, 0x02});
  CHECK(e.controls.size() == 8);
  CHECK(e.warnings == std::vector<std::string>{"byte 9: more than 1024 usages for one main item; the rest ignored"});
}

TEST_CASE("regression: an array of 1024 usages and 65535 slots decodes in one pass") {
  // Buttons 1..1024 as an array of 8191 16-bit slots (values 1..1024). The decoder scanned every
  // slot once per usage: 8 million reads per report (65535 slots: 67 million, 1.3 s a report).
  const auto d = parse_ok({0x05, 0x09, 0x19, 0x01, 0x2a, 0x00, 0x04, 0x15, 0x01, 0x26, 0x00, 0x04,
                           0x75, 0x10, 0x96, 0xff, 0x1f, 0x81, 0x00});  // 16 bits x 8191 slots
  REQUIRE(d.controls.size() == 1024);
  REQUIRE(d.arrays.size() == 1);
  ReportDecoder dec(d, 0);
  Bytes report(8191 * 2, 0);
  report[8000 * 2] = 5;             // slot 8000 holds button5
  report[8190 * 2] = 0x00, report[8190 * 2 + 1] = 0x04;  // the last slot holds button1024
  std::vector<ControlEvent> out;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) {
    out.clear();
    REQUIRE(dec.decode(report, i, out) == DecodeStatus::ok);
    if (i == 0) {
      REQUIRE(out.size() == 2);
      CHECK((out[0].control.view() == "button5" && out[0].value == 1));
      CHECK((out[1].control.view() == "button1024" && out[1].value == 1));
    } else {
      CHECK(out.empty());
    }
  }
  // 100 reports: ~16 s before, ~10 ms now (~100 ms under ASan).
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  report[8000 * 2] = 0;
  out.clear();
  REQUIRE(dec.decode(report, 100, out) == DecodeStatus::ok);
  REQUIRE(out.size() == 1);
  CHECK((out[0].control.view() == "button5" && out[0].value == 0));
}

TEST_CASE("regression: every input the HID fuzzer saved parses with bounded warnings") {
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(KNOBLINK_TEST_DATA) / "fuzz" /
                                                               "hid_descriptor")) {
    INFO(entry.path());
    const auto saved = test::slurp(entry.path());
    const std::size_t n = saved.size() < 2 ? 0 : static_cast<std::uint8_t>(saved[0]) |
                                                     std::size_t{static_cast<std::uint8_t>(saved[1])} << 8;
    const Bytes bytes(saved.begin() + std::min<long>(2, static_cast<long>(saved.size())),
                      saved.begin() + static_cast<long>(std::min(saved.size(), 2 + n)));
    const ParseResult r = parse_descriptor(bytes);
    if (r.descriptor) {
      CHECK(r.descriptor->controls.size() <= 1024);
      CHECK(r.descriptor->warnings.size() <= bytes.size() + 1);
    } else {
      CHECK_FALSE(r.error.empty());
    }
  }
}

TEST_CASE("Logical Maximum is unsigned unless Logical Minimum is negative") {
  // 0x25 0xff: 255 when the minimum is 0 (how many devices write it), -1 when it is -128.
  const auto a = parse_ok({0x05, 0x01, 0x15, 0x00, 0x25, 0xff, 0x75, 0x08, 0x95, 0x01, 0x09, 0x30, 0x81, 0x02});
  CHECK(a.controls[0].info.max == 255);
  const auto b = parse_ok({0x05, 0x01, 0x15, 0x80, 0x25, 0xff, 0x75, 0x08, 0x95, 0x01, 0x09, 0x30, 0x81, 0x02});
  CHECK((b.controls[0].info.min == -128 && b.controls[0].info.max == -1));
}

TEST_CASE("the last usage repeats for the remaining fields, and repeated names get suffixes") {
  const auto d = parse_ok({0x05, 0x01, 0x15, 0x00, 0x26, 0xff, 0x03, 0x75, 0x10, 0x95, 0x03,
                           0x09, 0x30, 0x09, 0x36, 0x81, 0x02});  // X, Slider, Slider
  REQUIRE(d.controls.size() == 3);
  CHECK(d.controls[0].info.name.view() == "x");
  CHECK(d.controls[1].info.name.view() == "slider");
  CHECK(d.controls[2].info.name.view() == "slider_2");
  CHECK(d.controls[2].bit_offset == 32);
}

TEST_CASE("4-byte usages carry their own page, also in ranges") {
  const auto d = parse_ok({0x05, 0x01,                          // Usage Page GD (to be overridden)
                           0x1b, 0x01, 0x00, 0x09, 0x00,        // Usage Minimum (Button 1), extended
                           0x2b, 0x02, 0x00, 0x09, 0x00,        // Usage Maximum (Button 2), extended
                           0x0b, 0xe9, 0x00, 0x0c, 0x00,        // Usage (Consumer Volume Up), extended
                           0x15, 0x00, 0x25, 0x01, 0x75, 0x01, 0x95, 0x03, 0x81, 0x02});
  REQUIRE(d.controls.size() == 3);
  CHECK(d.controls[0].info.name.view() == "button1");
  CHECK(d.controls[1].info.name.view() == "button2");
  CHECK(d.controls[2].info.name.view() == "volume_up");
  CHECK(d.controls[2].usage == usage(0x0c, 0xe9));
}

TEST_CASE("report IDs keep separate bit offsets and the decoder checks ID and length") {
  const auto d = parse_ok({0x05, 0x01, 0x15, 0x00, 0x26, 0xff, 0x00, 0x75, 0x08, 0x95, 0x01,
                           0x85, 0x01, 0x09, 0x30, 0x81, 0x02,                            // report 1: x
                           0x85, 0x02, 0x09, 0x31, 0x09, 0x32, 0x95, 0x02, 0x81, 0x02,  // report 2: y z
                           0x85, 0x01, 0x09, 0x33, 0x95, 0x01, 0x81, 0x02});             // report 1 again: rx
  CHECK(d.numbered);
  CHECK(control(d, "x").bit_offset == 0);
  CHECK(control(d, "rx").bit_offset == 8);
  CHECK(control(d, "rx").report_id == 1);
  CHECK(control(d, "z").bit_offset == 8);
  ReportDecoder dec(d, 3);
  std::vector<ControlEvent> ev;
  CHECK(dec.expected_size(1) == 3);
  CHECK(dec.expected_size(9) == 0);
  CHECK(dec.decode(Bytes{}, 0, ev) == DecodeStatus::empty);
  CHECK(dec.decode(Bytes{9, 1, 2}, 0, ev) == DecodeStatus::unknown_report_id);
  CHECK(dec.decode(Bytes{1, 1}, 0, ev) == DecodeStatus::too_short);
  CHECK(ev.empty());
  CHECK(dec.decode(Bytes{2, 5, 6, 0xee}, 42, ev) == DecodeStatus::ok);  // longer than declared: fine
  REQUIRE(ev.size() == 2);
  CHECK((ev[0].control.view() == "y" && ev[0].value == 5 && ev[0].device == 3 && ev[0].t_us == 42));
  CHECK((ev[1].control.view() == "z" && ev[1].value == 6));
  ev.clear();
  dec.reset();
  CHECK(dec.decode(Bytes{2, 5, 6}, 43, ev) == DecodeStatus::ok);
  CHECK(ev.size() == 2);  // after reset every value counts as a change again
}

TEST_CASE("the first value of each control since opening is its snapshot (a position); later ones move") {
  const auto d = parse_ok({0x05, 0x01, 0x15, 0x00, 0x26, 0xff, 0x00, 0x75, 0x08, 0x95, 0x01,
                           0x85, 0x01, 0x09, 0x30, 0x81, 0x02,                                // report 1: x
                           0x85, 0x02, 0x09, 0x31, 0x81, 0x02,                                // report 2: y
                           0x15, 0x81, 0x25, 0x7f, 0x09, 0x38, 0x81, 0x06});                  // report 2: wheel (rel)
  ReportDecoder dec(d, 0);
  std::vector<ControlEvent> ev;
  REQUIRE(dec.decode(Bytes{1, 10}, 0, ev) == DecodeStatus::ok);
  REQUIRE(dec.decode(Bytes{1, 11}, 0, ev) == DecodeStatus::ok);
  REQUIRE(dec.decode(Bytes{2, 20, 1}, 0, ev) == DecodeStatus::ok);  // y's first report comes later
  REQUIRE(ev.size() == 4);
  CHECK((ev[0].control.view() == "x" && ev[0].snapshot));
  CHECK((ev[1].control.view() == "x" && !ev[1].snapshot));
  CHECK((ev[2].control.view() == "y" && ev[2].snapshot));
  CHECK((ev[3].control.view() == "wheel" && !ev[3].snapshot));  // a delta is never a position
  ev.clear();
  dec.reset();  // reopened: the next report is a snapshot again
  REQUIRE(dec.decode(Bytes{1, 11}, 0, ev) == DecodeStatus::ok);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].snapshot);
}

TEST_CASE("constant fields only move the offset; feature reports make no controls") {
  const auto d = parse_ok({0x05, 0x01, 0x15, 0x00, 0x25, 0x01, 0x75, 0x03, 0x95, 0x01, 0x81, 0x03,  // 3 pad bits
                           0x75, 0x01, 0x09, 0x90, 0x81, 0x02,                                        // dpad_up
                           0x75, 0x08, 0x09, 0x30, 0xb1, 0x02});                                      // feature X
  REQUIRE(d.controls.size() == 1);
  CHECK(d.controls[0].info.name.view() == "dpad_up");
  CHECK(d.controls[0].info.kind == ControlKind::btn);
  CHECK(d.controls[0].bit_offset == 3);
}

TEST_CASE("a null-state field out of range gives no event; in range it does") {
  const auto d = parse_ok({0x05, 0x01, 0x15, 0x01, 0x25, 0x64, 0x75, 0x08, 0x95, 0x01, 0x09, 0x36, 0x81, 0x42});
  ReportDecoder dec(d, 0);
  std::vector<ControlEvent> ev;
  dec.decode(Bytes{0}, 0, ev);
  CHECK(ev.empty());
  dec.decode(Bytes{50}, 0, ev);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].value == 50);
}

TEST_CASE("bits are extracted little-endian across bytes, sign-extended when signed") {
  const Bytes data{0xb4, 0xfe, 0x7f, 0x01};
  CHECK(extract_bits(data, 0, 16, true) == -332);
  CHECK(extract_bits(data, 0, 16, false) == 0xfeb4);
  CHECK(extract_bits(data, 4, 4, false) == 0xb);
  CHECK(extract_bits(data, 12, 12, false) == 0x7ff);
  CHECK(extract_bits(data, 0, 32, false) == 0x017ffeb4);
  CHECK(extract_bits(data, 30, 8, false) == 0);  // bits past the end read as zero
  Bytes out(3, 0xff);
  insert_bits(out, 4, 12, 0x123);
  CHECK(out == Bytes{0x3f, 0x12, 0xff});
}

TEST_CASE("every usage name is a valid control name") {
  for (std::uint32_t page : {0x01u, 0x02u, 0x07u, 0x08u, 0x09u, 0x0au, 0x0cu, 0x0du, 0x20u, 0xff00u, 0xffffu})
    for (std::uint32_t id : {0u, 1u, 0x30u, 0x39u, 0x90u, 0xe9u, 0x238u, 0xffffu}) {
      const std::string name = usage_name(usage(static_cast<std::uint16_t>(page), static_cast<std::uint16_t>(id)));
      INFO(page << ":" << id << " -> " << name);
      CHECK(Name::from(name));
    }
}

TEST_CASE("long suffixed names still fit 16 characters") {
  // 12 fields of one Consumer usage without a name: consumer_300, consumer_300_2 .. consumer_300_12.
  Bytes d{0x05, 0x0c, 0x15, 0x00, 0x25, 0x01, 0x75, 0x01, 0x95, 0x0c, 0x0a, 0x00, 0x03, 0x81, 0x02};
  const auto desc = parse_ok(d);
  REQUIRE(desc.controls.size() == 12);
  CHECK(desc.controls[0].info.name.view() == "consumer_300");
  CHECK(desc.controls[11].info.name.view() == "consumer_300_12");
  for (const auto& c : desc.controls) CHECK(Name::from(c.info.name.view()));
}

TEST_CASE("OutputState keeps the other LEDs when one is set") {
  // Report 1: 5 LED bits + 3 pad bits, like a keyboard.
  const auto d = parse_ok({0x85, 0x01, 0x05, 0x08, 0x19, 0x01, 0x29, 0x05, 0x15, 0x00, 0x25, 0x01,
                           0x75, 0x01, 0x95, 0x05, 0x91, 0x02, 0x95, 0x03, 0x91, 0x01});
  OutputState out(d);
  std::vector<std::uint8_t> report;
  REQUIRE(out.set("caps_lock", 1, report).empty());
  CHECK(report == Bytes{0x01, 0x02});
  REQUIRE(out.set("num_lock", 1, report).empty());
  CHECK(report == Bytes{0x01, 0x03});
  REQUIRE(out.set("caps_lock", 0, report).empty());
  CHECK(report == Bytes{0x01, 0x01});
  CHECK(out.set("caps_lock", 2, report) == "output caps_lock takes 0..1, not 2");
  CHECK(out.set("nope", 1, report) == "no output control named nope");
}

TEST_CASE("HidMatch parses VID:PID[:serial] and says what is wrong") {
  std::string error;
  auto m = HidMatch::parse("2341:8036", error);
  REQUIRE(m);
  CHECK((m->vid == 0x2341 && m->pid == 0x8036 && m->serial.empty()));
  const auto info = [](std::uint16_t vid, std::uint16_t pid, std::string serial) {
    HidDeviceInfo i;
    i.vid = vid;
    i.pid = pid;
    i.serial = std::move(serial);
    return i;
  };
  CHECK(m->matches(info(0x2341, 0x8036, "X1")));
  CHECK_FALSE(m->matches(info(0x2341, 0x8037, "X1")));
  m = HidMatch::parse("046D:C626:AB:CD", error);
  REQUIRE(m);
  CHECK(m->serial == "AB:CD");
  CHECK(m->str() == "046d:c626:AB:CD");
  CHECK_FALSE(m->matches(info(0x046d, 0xc626, "AB")));
  CHECK(m->matches(info(0x046d, 0xc626, "AB:CD")));
  for (const char* bad : {"", "2341", "2341:", "zz:8036", "12345:1", "2341-8036"}) {
    INFO(bad);
    CHECK_FALSE(HidMatch::parse(bad, error));
    CHECK(error.find("is not VID:PID[:serial]") != std::string::npos);
  }
  CHECK(sysfs_descriptor_path("/dev/hidraw3") == "/sys/class/hidraw/hidraw3/device/report_descriptor");
}

TEST_CASE("knoblink descriptor FILE reads raw bytes and hex text, and names the file in errors") {
  const auto dir = std::filesystem::temp_directory_path() / ("knoblink_hid_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const Bytes raw{0x05, 0x01, 0x09, 0x05, 0xa1, 0x01, 0x15, 0x00, 0x25, 0x07, 0x75, 0x04,
                  0x95, 0x01, 0x09, 0x39, 0x81, 0x42, 0x75, 0x04, 0x81, 0x03, 0xc0};
  std::ofstream(dir / "raw.bin", std::ios::binary).write(reinterpret_cast<const char*>(raw.data()), raw.size());
  std::ofstream(dir / "text.hex") << "// pasted\n0x05, 0x01, 0x09, 0x05, 0xa1, 0x01, 0x15, 0x00, 0x25, 0x07, 0x75, 0x04,\n"
                                     "0x95 0x01 0x09 0x39 0x81 0x42 # hat\n75 04 81 03 c0\n";
  std::ofstream(dir / "bad.hex") << "05 01 b4\n";
  std::string a, b, c, e;
  REQUIRE(describe_descriptor_file((dir / "raw.bin").string(), a));
  REQUIRE(describe_descriptor_file((dir / "text.hex").string(), b));
  CHECK(a.substr(a.find('\n')) == b.substr(b.find('\n')));
  CHECK(a.find("# application: Generic Desktop 0x05\n") != std::string::npos);
  CHECK(a.find("\nhat              abs 0 7          input report 0 bits 0+4 (Generic Desktop 0x39), centered = -1\n") !=
        std::string::npos);
  CHECK_FALSE(describe_descriptor_file((dir / "bad.hex").string(), c));
  CHECK(c == (dir / "bad.hex").string() + ": byte 2: Pop without Push");
  CHECK_FALSE(describe_descriptor_file((dir / "missing").string(), e));
  CHECK(e == (dir / "missing").string() + ": cannot open");
  std::filesystem::remove_all(dir);
}
