// OSC: the pure session (messages, bundles, a packet that is not OSC told once per sender,
// an unknown address told once with a line to paste, feedback bytes), then real parts: a
// python-osc sender through the real `knoblink monitor`, and OscSource sending feedback
// back to the sender's address, which python-osc receives; a flood (10,000 messages a second
// to one address for 3 s, with presses, packets that are not OSC and an unknown address)
// into the real `knoblink run`, whose Blender (a socket with a small receive buffer) does
// not read meanwhile.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "devices/osc/osc_codec.hpp"
#include "devices/osc/osc_session.hpp"
#include "devices/osc/osc_source.hpp"
#include "fake_blender.hpp"
#include "harness.hpp"

using namespace knoblink;
using namespace kltest;

namespace {

const std::string kBin = KNOBLINK_BINARY_DIR "/bridge/knoblink";
const std::string kPeer = KNOBLINK_SOURCE_DIR "/tests/osc/osc_peer.py";

class Recorder final : public EventSink {
 public:
  void on_event(const ControlEvent& e) override {
    lines.push_back("event " + e.control.str() + " " + std::string(to_string(e.kind)) + " " + std::to_string(e.value));
  }
  void on_notice(std::uint16_t, Severity, std::string_view text) override { lines.push_back("notice " + std::string(text)); }
  void on_connection(std::uint16_t, bool up) override { lines.push_back(up ? "connected" : "disconnected"); }
  void on_control(std::uint16_t, const ControlInfo& c) override {
    lines.push_back("control " + c.name.str() + " " + std::string(to_string(c.kind)) +
                    (c.has_range ? " " + std::to_string(c.min) + ".." + std::to_string(c.max) : ""));
  }
  void on_malformed(std::uint16_t, std::string_view what) override { lines.push_back("malformed " + std::string(what)); }
  std::string text() const {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
  std::vector<std::string> lines;
};

OscConfig touch_config(std::uint16_t port = 9000) {
  OscConfig c;
  c.port = port;
  c.controls = {{"fader1", "/1/fader1", 0, 1, ControlKind::abs},
                {"push1", "/1/push1", 0, 1, ControlKind::btn},
                {"pan", "/1/pan", -1, 1, ControlKind::abs}};
  return c;
}

std::vector<std::uint8_t> msg(const std::string& address, float v) {
  std::vector<std::uint8_t> out;
  std::string error;
  REQUIRE(osc::encode_float(address, v, out, error));
  return out;
}

/// A bundle ("#bundle", a time tag, size-prefixed elements).
std::vector<std::uint8_t> bundle(const std::vector<std::vector<std::uint8_t>>& elements) {
  std::vector<std::uint8_t> out = {'#', 'b', 'u', 'n', 'd', 'l', 'e', 0, 0, 0, 0, 0, 0, 0, 0, 1};
  for (const auto& e : elements) {
    const auto n = static_cast<std::uint32_t>(e.size());
    for (int s : {24, 16, 8, 0}) out.push_back(static_cast<std::uint8_t>(n >> s));
    out.insert(out.end(), e.begin(), e.end());
  }
  return out;
}

std::uint16_t free_udp_port() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

TEST_CASE("OSC session: floats over the declared range, buttons, bundles") {
  Recorder rec;
  osc::Session s(0, touch_config(), "touch");
  s.describe(rec);
  s.feed(msg("/1/fader1", 0.5f), "127.0.0.1:5000", 1, rec);
  s.feed(msg("/1/fader1", 1.5f), "127.0.0.1:5000", 2, rec);  // clamped
  s.feed(msg("/1/pan", -0.5f), "127.0.0.1:5000", 3, rec);
  s.feed(bundle({msg("/1/push1", 1.0f), bundle({msg("/1/push1", 0.0f)})}), "127.0.0.1:5000", 4, rec);
  CHECK(rec.text() ==
        "control fader1 abs 0..16383\ncontrol push1 btn\ncontrol pan abs 0..16383\n"
        "event fader1 abs 8192\nevent fader1 abs 16383\nevent pan abs 4096\nevent push1 btn 1\nevent push1 btn 0\n");
  CHECK(s.stats().messages == 5);
}

TEST_CASE("OSC session: a packet that is not OSC is told once per sender and dropped") {
  Recorder rec;
  osc::Session s(0, touch_config(), "touch");
  const std::string junk = "GET / HTTP/1.1\r\n";
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(junk.data()), junk.size());
  s.feed(bytes, "127.0.0.1:5000", 1, rec);
  s.feed(bytes, "127.0.0.1:5000", 2, rec);
  s.feed(bytes, "127.0.0.1:5001", 3, rec);
  auto cut = msg("/1/fader1", 0.5f);
  cut.resize(cut.size() - 4);  // the float is missing
  s.feed(cut, "127.0.0.1:5002", 4, rec);
  auto bad_bundle = bundle({msg("/1/fader1", 0.5f)});
  bad_bundle[19] = 200;  // an element longer than the bundle
  s.feed(bad_bundle, "127.0.0.1:5003", 5, rec);
  REQUIRE(rec.lines.size() == 4);
  CHECK_THAT(rec.lines[0], Catch::StartsWith("malformed touch: dropped a packet from 127.0.0.1:5000 that is not OSC") &&
                               Catch::Contains("GET / HTTP/1.1\\x0d\\x0a") && Catch::Contains("told once per sender"));
  CHECK_THAT(rec.lines[1], Catch::Contains("from 127.0.0.1:5001"));
  CHECK_THAT(rec.lines[2], Catch::Contains("from 127.0.0.1:5002"));
  CHECK_THAT(rec.lines[3], Catch::Contains("from 127.0.0.1:5003") && Catch::Contains("bundle element cut short"));
  CHECK(s.stats().not_osc == 5);
  CHECK(s.stats().messages == 0);
}

TEST_CASE("OSC session: an address no control names is told once, with the line to add") {
  Recorder rec;
  osc::Session s(0, touch_config(), "touch");
  s.feed(msg("/2/Rotary 3", 0.1f), "127.0.0.1:5000", 1, rec);
  s.feed(msg("/2/Rotary 3", 0.2f), "127.0.0.1:5000", 2, rec);
  REQUIRE(rec.lines.size() == 1);
  CHECK_THAT(rec.lines[0], Catch::Contains("sent /2/Rotary 3, which no control names") &&
                               Catch::Contains("rotary_3: \"/2/Rotary 3\""));
  CHECK(s.stats().unknown == 2);
  CHECK(osc::suggest_name("/1/fader1") == "fader1");
  CHECK(osc::suggest_name("/1/2") == "c2");
  CHECK(osc::suggest_name("/a/very_long_control_name_here") == "very_long_contro");
}

TEST_CASE("OSC session: feedback is the control's address with its value back over its range") {
  osc::Session s(0, touch_config(), "touch");
  std::vector<std::uint8_t> out;
  std::string error;
  osc::Message m;
  REQUIRE(s.encode_output("pan", 16383, out, error));
  REQUIRE(osc::decode_message(out, m, error));
  CHECK(m.address == "/1/pan");
  CHECK(m.value == Approx(1.0));
  REQUIRE(s.encode_output("push1", 1, out, error));
  REQUIRE(osc::decode_message(out, m, error));
  CHECK(m.address == "/1/push1");
  CHECK(m.value == Approx(1.0));
  CHECK_FALSE(s.encode_output("nope", 1, out, error));
  CHECK_THAT(error, Catch::Contains("'nope' is not one of touch's OSC controls"));
}

TEST_CASE("OSC from python-osc through the real knoblink monitor") {
  TempDir dir;
  const auto port = free_udp_port();
  const auto cfg = dir.write("touch.yaml", "devices:\n  touch:\n    osc:\n      port: " + std::to_string(port) +
                                               "\n      controls:\n        fader1: \"/1/fader1\"\n"
                                               "        push1: {address: \"/1/push1\", kind: btn}\n");
  Process mon({kBin, "monitor", "-c", cfg}, dir.file("mon.log"));
  const bool listening = wait_until(
      [&] { return mon.log().find("listening for OSC on UDP 127.0.0.1:" + std::to_string(port)) != std::string::npos; },
      10s);
  INFO(mon.log());
  REQUIRE(listening);
  Process peer({"/usr/bin/env", "python3", kPeer, "send", std::to_string(port)}, dir.file("peer.log"));
  REQUIRE(peer.wait(20s) == std::optional<int>(0));
  INFO(peer.log());
  REQUIRE(wait_until([&] { return mon.log().find("touch.fader1 abs 16383") != std::string::npos; }, 10s));
  const auto log = mon.log();
  CHECK_THAT(log, Catch::Contains("# touch connected") && Catch::Contains("# touch.fader1 is abs 0..16383") &&
                      Catch::Contains("# touch.push1 is btn"));
  CHECK_THAT(log, Catch::Contains("touch.fader1 abs 8192\ntouch.push1 btn 1\n"));
  CHECK_THAT(log, Catch::Contains("touch.fader1 abs 4096\ntouch.push1 btn 0\n"));  // the bundle
  CHECK_THAT(log, Catch::Contains("that is not OSC") && Catch::Contains("hello, not OSC"));
  std::size_t told = 0;
  for (auto at = log.find("that is not OSC"); at != std::string::npos; at = log.find("that is not OSC", at + 1)) ++told;
  CHECK(told == 1);
  CHECK_THAT(log, Catch::Contains("sent /1/fader9, which no control names") && Catch::Contains("fader9: \"/1/fader9\""));
  mon.signal(SIGINT);
  CHECK(mon.wait(5s) == std::optional<int>(0));
}

TEST_CASE("OSC feedback goes back to the sender's address, and python-osc receives it") {
  TempDir dir;
  const auto port = free_udp_port();
  asio::io_context io;
  Recorder rec;
  auto config = touch_config(port);
  osc::OscSource source(io, 0, "touch", config, rec);
  CHECK_THAT(source.write_output(*Name::from("fader1"), 1).error, Catch::Contains("not listening"));
  source.start();
  io.poll();
  REQUIRE(source.describe().state == "connected");
  CHECK_THAT(source.write_output(*Name::from("fader1"), 1).error, Catch::Contains("no OSC sender yet"));
  Process peer({"/usr/bin/env", "python3", kPeer, "echo", std::to_string(port)}, dir.file("peer.log"));
  REQUIRE(wait_until(
      [&] {
        io.poll();
        return rec.text().find("event fader1 abs 12287") != std::string::npos;  // 0.75 of 16383
      },
      10s));
  CHECK(source.write_output(*Name::from("fader1"), 4096).ok());
  CHECK(source.write_output(*Name::from("push1"), 1).ok());
  CHECK(source.write_output(*Name::from("pan"), 0).ok());
  INFO(peer.log());
  REQUIRE(wait_until([&] { return peer.log().find("recv /1/pan -1") != std::string::npos; }, 10s));
  CHECK_THAT(peer.log(), Catch::Contains("recv /1/fader1 0.250015\nrecv /1/push1 1\nrecv /1/pan -1\n"));
  source.stop();
}

namespace {
/// A UDP socket on loopback that sends to port.
class UdpSender {
 public:
  explicit UdpSender(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_DGRAM, 0)) {
    to_.sin_family = AF_INET;
    to_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to_.sin_port = htons(port);
  }
  ~UdpSender() { ::close(fd_); }
  /// False when the datagram was not sent whole.
  bool send(const std::vector<std::uint8_t>& bytes) {
    return ::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to_), sizeof to_) ==
           static_cast<ssize_t>(bytes.size());
  }

 private:
  int fd_;
  sockaddr_in to_{};
};
}  // namespace

TEST_CASE("OSC flood into the real bridge: the newest value wins, every press is kept, memory stays put") {
  TempDir dir;
  const auto port = free_udp_port();
  Listener blender(0, 4096);  // a small window: the bridge's writes block as soon as Blender stops reading
  const std::string x = R"(bpy.data.objects["Cube"].location[0])", key = "context.active_object.location";
  const auto cfg = dir.write("flood.yaml", "blender: {host: 127.0.0.1, port: " + std::to_string(blender.port()) +
                                               "}\ndevices:\n  touch:\n    osc:\n      port: " + std::to_string(port) +
                                               "\n      controls:\n        fader1: \"/1/fader1\"\n"
                                               "        push1: {address: \"/1/push1\", kind: btn}\n"
                                               "mappings:\n  - control: touch.fader1\n    set: '" + x +
                                               "'\n    to: [0, 16383]\n"
                                               "  - control: touch.push1\n    press: {keyframe: " + key + "}\n");
  Process bridge({kBin, "run", "--config", cfg}, dir.file("bridge.log"));
  auto conn = accept_bridge(blender, 15s);
  INFO(bridge.log());
  REQUIRE(conn);
  REQUIRE(wait_until([&] { return bridge.log().find("listening for OSC") != std::string::npos; }, 10s));
  UdpSender app(port), junk1(port), junk2(port);
  Received got;
  app.send(msg("/1/fader1", 0.0f));
  REQUIRE(read_until(*conn, got, [&](const Received& r) { return r.sets.count(x) && r.sets.at(x).back() == 0; }, 10s));
  const auto before = memory_of(bridge.pid());

  // 3 s at 10,000 a second to /1/fader1 (a ramp 0..1, paced every millisecond); a press
  // (1.0, 0.0) after every 50th; after every 500th a packet that is not OSC from each of
  // two other senders and a message to an address no control names. Blender reads nothing.
  constexpr int kRate = 10000, kTotal = 3 * kRate;
  const std::string not_osc = "hello, not OSC";
  const std::vector<std::uint8_t> junk(not_osc.begin(), not_osc.end());
  const auto press = msg("/1/push1", 1.0f), release = msg("/1/push1", 0.0f), unknown = msg("/1/fader9", 0.5f);
  long presses = 0, junked = 0, unknowns = 0, unsent = 0;
  std::vector<std::uint8_t> fader;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 1; i <= kTotal; ++i) {
    if (i % (kRate / 1000) == 0)
      std::this_thread::sleep_until(start + std::chrono::microseconds(std::int64_t{i} * 1'000'000 / kRate));
    osc::encode_float("/1/fader1", static_cast<float>(i) / kTotal, fader, error);
    unsent += !app.send(fader);
    if (i % 50 == 0) unsent += !app.send(press) + !app.send(release), ++presses;
    if (i % 500 == 0) unsent += !junk1.send(junk) + !junk2.send(junk) + !app.send(unknown), junked += 2, ++unknowns;
  }
  REQUIRE(unsent == 0);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const long messages = kTotal + 2 * presses + unknowns;
  // Every packet read; the junk and the unknown address counted (SIGUSR1) and told once each.
  const std::string counted = "messages=" + std::to_string(1 + kTotal + 2 * presses) +
                              " not_osc=" + std::to_string(junked) + " unknown=" + std::to_string(unknowns);
  const bool counters_told = signal_until(bridge, SIGUSR1, counted, 15s);
  INFO(bridge.log());
  REQUIRE(counters_told);
  const auto after = memory_of(bridge.pid());
  const auto log = bridge.log();
  CHECK_THAT(log, Catch::Contains("device touch: osc udp 127.0.0.1:" + std::to_string(port) + ", connected, " + counted));
  std::size_t told = 0;
  for (auto at = log.find("that is not OSC"); at != std::string::npos; at = log.find("that is not OSC", at + 1)) ++told;
  CHECK(told == 2);  // once per sender
  const auto unknown_told = log.find("sent /1/fader9, which no control names");
  CHECK(unknown_told != std::string::npos);
  CHECK(unknown_told == log.rfind("sent /1/fader9, which no control names"));  // once

  // Blender reads again: the newest value (1.0 of the ramp), never an older one after a newer, every press.
  const bool all = read_until(
      *conn, got,
      [&](const Received& r) {
        return r.sets.at(x).back() == 16383 && r.discrete.count("keyframe " + key) &&
               r.discrete.at("keyframe " + key) == presses;
      },
      30s);
  UNSCOPED_INFO("lines " << got.lines << ", sets " << got.sets[x].size() << ", presses " << got.discrete["keyframe " + key]);
  REQUIRE(all);
  read_until(*conn, got, [](const Received&) { return false; }, 500ms);  // nothing more comes: no press twice
  CHECK(got.discrete.at("keyframe " + key) == presses);
  const auto& sets = got.sets.at(x);
  for (std::size_t i = 1; i < sets.size(); ++i) REQUIRE(sets[i] >= sets[i - 1]);
  std::printf("osc flood: %ld messages in %.2f s -> %zu lines to Blender (%zu sets of the fader); bridge VmRSS %ld -> "
              "%ld KiB, VmHWM %ld -> %ld KiB\n",
              messages, took, got.lines, sets.size(), before.rss, after.rss, before.hwm, after.hwm);
  CHECK(got.lines < static_cast<std::size_t>(messages) / 10);  // coalesced, not a backlog
  CHECK(after.rss - before.rss < 8 * 1024);  // generous
  CHECK(after.hwm - before.hwm < 8 * 1024);
  bridge.signal(SIGTERM);
  CHECK(bridge.wait(10s) == std::optional<int>(0));
}
