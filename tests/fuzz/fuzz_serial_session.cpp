// The serial session (devices/serial_session.hpp) on arbitrary bytes: the first byte picks
// the cuts and the mode (fixed port, port: auto, port: auto with a uid), the rest is the
// stream. Fed whole, byte by byte and in the chosen slices, it must make the same sink calls
// and end in the same state; every event names a valid control.
#include <string>
#include <vector>

#include "devices/serial_session.hpp"
#include "fuzz_split.hpp"

namespace {

using namespace knoblink;

struct Recorder final : EventSink {
  std::vector<std::string> calls;
  void on_event(const ControlEvent& e) override {
    KNOBLINK_FUZZ_CHECK(Name::from(e.control.view()).has_value());
    // A snapshot value is a position: only abs and btn controls have one.
    KNOBLINK_FUZZ_CHECK(!e.snapshot || e.kind == ControlKind::abs || e.kind == ControlKind::btn);
    calls.push_back("event " + e.control.str() + " " + std::string(to_string(e.kind)) + " " + std::to_string(e.value) +
                    (e.snapshot ? " snapshot" : ""));
  }
  void on_notice(std::uint16_t, Severity s, std::string_view text) override {
    calls.push_back("notice " + std::to_string(static_cast<int>(s)) + " " + std::string(text));
  }
  void on_connection(std::uint16_t, bool up) override { calls.push_back(up ? "up" : "down"); }
  void on_control(std::uint16_t, const ControlInfo& c) override {
    calls.push_back("control " + c.name.str() + " " + std::string(to_string(c.kind)));
  }
  void on_malformed(std::uint16_t, std::string_view what) override { calls.push_back("bad " + std::string(what)); }
};

struct Run {
  Recorder sink;
  SerialSession session;
  SerialSession::State state = SerialSession::State::closed;
  Run(std::uint8_t mode)
      : session(0, "box", mode == 2 ? std::optional<std::uint64_t>(0x51a1) : std::nullopt, sink) {
    session.open("/dev/fuzz", "fuzz", mode != 0);
    state = session.feed({}, 1000);  // the state right after the open
  }
  void operator()(std::string_view slice) {
    if (state == SerialSession::State::rejected) return;  // SerialSource closes the port here
    state = session.feed(slice, 1000);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0] % 3;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  Run whole(mode), split(mode), bytes(mode);
  whole(stream);
  knoblink::fuzz::feed_split(stream, data[0], split);
  knoblink::fuzz::feed_bytes(stream, bytes);
  // A rejected port is closed by SerialSource after the read that rejected it, so what a
  // longer read held after the hello is not comparable.
  const auto rejected = SerialSession::State::rejected;
  if (whole.state != rejected && split.state != rejected && bytes.state != rejected) {
    KNOBLINK_FUZZ_CHECK(whole.sink.calls == split.sink.calls);
    KNOBLINK_FUZZ_CHECK(whole.sink.calls == bytes.sink.calls);
    KNOBLINK_FUZZ_CHECK(whole.state == split.state);
    KNOBLINK_FUZZ_CHECK(whole.state == bytes.state);
  }
  whole.session.lost("fuzz: unplugged");
  return 0;
}
