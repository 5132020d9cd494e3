// The knob box's logic headers, compiled on the host exactly as the sketch
// uses them: debouncing, pot hysteresis, quadrature decoding, the protocol
// lines the box sends and the host lines it accepts. Plus knoblink-sim's
// command parser.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "debouncer.h"
#include "knobbox_core.h"
#include "pot_filter.h"
#include "quadrature.h"
#include "sim_commands.hpp"

using knobbox::Debouncer;
using knobbox::PotFilter;
using knobbox::QuadratureDecoder;

namespace {

struct RecordingIo {
  std::string out;
  std::vector<std::pair<int, bool>> leds;
  void write(const char* s, size_t n) { out.append(s, n); }
  void set_led(uint8_t i, bool on) { leds.emplace_back(i, on); }
  std::string take() { return std::exchange(out, {}); }
};

knobbox::Inputs rest() {
  knobbox::Inputs in{};
  for (auto& p : in.pot) p = 512;
  return in;
}

// Feeds a quadrature sequence of AB states ("11 01 00 10 11 ...") and sums detents.
int feed(QuadratureDecoder& q, const std::vector<int>& states) {
  int detents = 0;
  for (int s : states) detents += q.update(s & 2, s & 1);
  return detents;
}

const std::vector<int> kCw = {1, 0, 2, 3};   // one detent clockwise from 11
const std::vector<int> kCcw = {2, 0, 1, 3};  // and counter-clockwise

}  // namespace

TEST_CASE("debouncer: bounce shorter than the interval is ignored, then one change") {
  Debouncer d(5);
  d.reset(false, 0);
  const bool bounce[] = {true, false, true, false, true};
  uint32_t t = 10;
  for (bool b : bounce) CHECK_FALSE(d.update(b, t++));
  CHECK_FALSE(d.update(true, 18));  // stable since 14: 4 ms
  CHECK(d.update(true, 19));        // 5 ms
  CHECK(d.state());
  CHECK_FALSE(d.update(true, 40));
  CHECK_FALSE(d.update(false, 41));  // a 1 ms glitch
  CHECK_FALSE(d.update(true, 42));
  CHECK_FALSE(d.update(true, 60));
  CHECK(d.state());
}

TEST_CASE("debouncer: millis() wrapping around is harmless") {
  Debouncer d(5);
  d.reset(false, 0xfffffffdu);
  CHECK_FALSE(d.update(true, 0xfffffffeu));
  CHECK_FALSE(d.update(true, 2));  // 4 ms later, across the wrap
  CHECK(d.update(true, 3));
}

TEST_CASE("pot filter: silent at rest under +-2 counts of noise, exact at the ends") {
  PotFilter f(1023);
  f.reset(500);
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(f.update(static_cast<uint16_t>(500 + (i * 7) % 5 - 2)));

  // Turning up reports every 2 counts, never going backwards.
  std::vector<int> sent;
  for (int v = 500; v <= 1023; ++v)
    if (f.update(static_cast<uint16_t>(v))) sent.push_back(f.value());
  REQUIRE(sent.size() > 200);
  for (std::size_t i = 1; i < sent.size(); ++i) CHECK((sent[i] - sent[i - 1] >= 2 || sent[i] == 1023));
  CHECK(sent.back() == 1023);
  CHECK_FALSE(f.update(1022));  // noise at the end
  CHECK_FALSE(f.update(1021));

  // Turning back needs 6 counts, then follows every 2 down to exactly 0.
  CHECK_FALSE(f.update(1018));
  CHECK(f.update(1017));
  sent.clear();
  for (int v = 1017; v >= 0; --v)
    if (f.update(static_cast<uint16_t>(v))) sent.push_back(f.value());
  CHECK(sent.back() == 0);
  CHECK_FALSE(f.update(2));
  CHECK_FALSE(f.update(0));
}

TEST_CASE("quadrature: detents clockwise and counter-clockwise") {
  QuadratureDecoder q;
  std::vector<int> cw;
  for (int i = 0; i < 10; ++i) cw.insert(cw.end(), kCw.begin(), kCw.end());
  CHECK(feed(q, cw) == 10);
  CHECK(feed(q, kCcw) == -1);
  CHECK(feed(q, {1, 0}) == 0);  // half way: nothing yet
  CHECK(feed(q, {2, 3}) == 1);
}

TEST_CASE("quadrature: contact bounce on one pin cancels out") {
  QuadratureDecoder q;
  // A bounces 1->0->1->0 before B follows; B bounces at the end too.
  CHECK(feed(q, {1, 3, 1, 3, 1, 0, 2, 0, 2, 3, 2, 3}) == 1);
  CHECK(feed(q, {1, 3}) == 0);  // a twitch from rest and back
}

TEST_CASE("quadrature: a missed edge is rounded in the direction of travel") {
  QuadratureDecoder q;
  CHECK(feed(q, {1, 2, 3}) == 1);  // 01 -> 10 jumps two pins: counted 0, not lost
  CHECK(feed(q, {2, 1, 3}) == -1);
}

const char* const kSnapshotAtRest = "@end\nk1 512\nk2 512\nk3 512\nk4 512\nb1 0\nb2 0\nb3 0\nb4 0\nb5 0\nb6 0\n";

TEST_CASE("knob box: description and snapshot at begin, events only on change") {
  RecordingIo io;
  knobbox::KnobBox<RecordingIo> box(io);
  auto in = rest();
  in.pot[1] = 3;
  in.button[2] = true;  // held at power-up
  box.begin(in, 1000, 0xc0ffee12u);
  const std::string d = io.take();
  CHECK(d.rfind("@knoblink 1 knobbox uid=c0ffee12\n@ctl k1 abs 0 1023\n", 0) == 0);
  CHECK(d.find("@ctl e2 rel\n@ctl b1 btn 0 1\n") != std::string::npos);
  // After @end, the snapshot: every pot and every button, nothing else.
  const std::string tail = "@ctl l2 out 0 1\n@end\nk1 512\nk2 3\nk3 512\nk4 512\nb1 0\nb2 0\nb3 1\nb4 0\nb5 0\nb6 0\n";
  CHECK(d.size() - d.rfind(tail) == tail.size());
  CHECK(io.leds == std::vector<std::pair<int, bool>>{{0, false}, {1, false}});

  box.update(in, 1001);
  CHECK(io.take().empty());
  in.pot[2] = 700;
  in.enc_steps[1] = -3;
  in.button[5] = true;
  box.update(in, 1002);
  CHECK(io.take() == "k3 700\ne2 -3\n");
  in.enc_steps[1] = 0;
  box.update(in, 1006);
  CHECK(io.take().empty());
  box.update(in, 1007);
  CHECK(io.take() == "b6 1\n");
  box.update(in, 2000);
  CHECK(io.take().empty());
}

TEST_CASE("knob box: host lines set LEDs, '?' describes, bad lines get a log line") {
  RecordingIo io;
  knobbox::KnobBox<RecordingIo> box(io);
  box.begin(rest(), 0, 1);
  io.take();
  io.leds.clear();
  const std::string host = "l1 1\r\nl2 7\nl2 0 *4E\n\n?\nk1 3\nl1 x\nL1 1\nl1 1 *00\n";
  for (char c : host) box.receive(&c, 1);  // byte by byte, as Serial.read() gives them
  CHECK(io.leds == std::vector<std::pair<int, bool>>{{0, true}, {1, true}, {1, false}});
  const std::string out = io.take();
  CHECK(out.rfind("@knoblink 1 knobbox uid=00000001\n", 0) == 0);
  CHECK(out.find(std::string(kSnapshotAtRest) + "# not an output: k1\n# bad value for l1\n# expected ? or <name> <int>\n"
                 "# checksum mismatch\n") != std::string::npos);
  CHECK(box.led(0));
  CHECK_FALSE(box.led(1));

  box.receive(std::string(200, 'x').c_str(), 200);
  box.receive("\nl2 1\n", 6);
  CHECK(io.take() == "# line too long\n");
  CHECK(box.led(1));
}

TEST_CASE("protocol: parse_host_line") {
  using knoblink_proto::HostLine;
  char name[knoblink_proto::kMaxName + 1];
  int32_t v = 0;
  auto parse = [&](const std::string& s) { return knoblink_proto::parse_host_line(s.data(), s.size(), name, &v); };
  CHECK(parse("?") == HostLine::query);
  CHECK(parse("") == HostLine::empty);
  CHECK(parse("motor_1 -2147483648") == HostLine::set);
  CHECK(std::string(name) == "motor_1");
  CHECK(v == INT32_MIN);
  CHECK(parse("l1 2147483648") == HostLine::bad_value);
  CHECK(parse("l1") == HostLine::bad_value);
  CHECK(parse("1l 1") == HostLine::bad_name);
  CHECK(parse("l1 1 *zz") == HostLine::bad_checksum);
}

TEST_CASE("uid: EEPROM record round trip; blank EEPROM reads as no uid") {
  uint8_t rec[knobbox::UidRecord::kSize];
  knobbox::UidRecord::encode(0xdeadbeefu, rec);
  uint32_t uid = 0;
  REQUIRE(knobbox::UidRecord::decode(rec, &uid));
  CHECK(uid == 0xdeadbeefu);
  const uint8_t blank[knobbox::UidRecord::kSize] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  CHECK_FALSE(knobbox::UidRecord::decode(blank, &uid));
  knobbox::UidMixer a, b;
  a.add(1);
  b.add(2);
  CHECK(a.value() != b.value());
}

TEST_CASE("knoblink-sim command parser") {
  using knoblink::sim::Command;
  using knoblink::sim::parse_command;
  auto c = parse_command("knob 4 1023");
  CHECK(c.op == Command::Op::knob);
  CHECK(c.index == 3);
  CHECK(c.value == 5000);
  CHECK(parse_command("knob 1 2500mv").value == 2500);
  c = parse_command("  enc 2 -12 40\r");
  CHECK(c.op == Command::Op::enc);
  CHECK(c.index == 1);
  CHECK(c.value == -12);
  CHECK(c.edge_us == 40);
  CHECK(parse_command("enc 1 3").edge_us == knoblink::sim::kDefaultEdgeUs);
  c = parse_command("bounce 6");
  CHECK((c.op == Command::Op::press && c.bounce && c.index == 5));
  c = parse_command("release 1 bounce");
  CHECK((c.op == Command::Op::release && c.bounce));
  CHECK(parse_command("# a comment").op == Command::Op::none);
  CHECK(parse_command("replug").op == Command::Op::replug);
  c = parse_command("noise \\xff\\x00k1 x\\x4");
  CHECK(c.op == Command::Op::noise);
  CHECK(c.bytes == std::string("\xff\x00k1 x\\x4\n", 10));
  for (const char* bad : {"noise", "knob 5 1", "knob 1 1024", "knob 1 5001mv", "enc 3 1", "enc 1", "press 0", "press 1 2",
                          "quit now", "dance"}) {
    INFO(bad);
    c = parse_command(bad);
    CHECK(c.op == Command::Op::error);
    CHECK(!c.error.empty());
  }
  // The ADC reads counts_to_mv(n) back as exactly n (simavr truncates mv * 1023 / 5000).
  for (int n = 0; n <= 1023; ++n) CHECK(knoblink::sim::counts_to_mv(n) * 1023 / 5000 == n);
}
