// decode (SerialSession, fed as SerialSource feeds it) -> remember (DeviceMemory) -> map -> coalesce -> serialize
// (and time each command read -> sent, as the link does),
// per event, on one core; heap allocations per event counted by replacing the global operator new.
//   build/bench/pipeline_bench [events]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include "bench/alloc_count.hpp"
#include "bridge/config.hpp"
#include "bridge/device_memory.hpp"
#include "bridge/latency.hpp"
#include "bridge/mapper.hpp"
#include "bridge/link_codec.hpp"
#include "bridge/outbox.hpp"
#include "devices/serial_session.hpp"

namespace {

/// The bridge's side of the session: every event goes to f.
template <class F>
class MapSink final : public knoblink::EventSink {
 public:
  explicit MapSink(F& f) : f_(f) {}
  void on_event(const knoblink::ControlEvent& e) override { f_(e); }
  void on_notice(std::uint16_t, knoblink::Severity, std::string_view) override {}
  void on_connection(std::uint16_t, bool) override {}
  void on_control(std::uint16_t, const knoblink::ControlInfo&) override {}

 private:
  F& f_;
};
}


using namespace knoblink;

int main(int argc, char** argv) {
  const long events = argc > 1 ? std::atol(argv[1]) : 10'000'000;
  // "glue": the same stream through curves, acceleration and a layer held every 128 lines.
  const bool glue = argc > 2 && std::string(argv[2]) == "glue";
  auto r = load_config_text(glue ? R"(devices:
  box: {serial: {port: /dev/null}}
layers:
  shift: {hold: box.b2}
mappings:
  - control: box.k1
    set: 'bpy.data.objects["Cube"].rotation_euler[2]'
    to: [0, 6.2832]
    curve: smooth
  - control: box.k1
    layer: shift
    set: 'bpy.data.objects["Cube"].scale[2]'
    curve: [[0, 0], [0.5, 0.2], [1, 1]]
  - control: box.k2
    set: 'bpy.data.objects["Cube"].location[0]'
    to: [-2, 2]
    curve: {power: 2}
  - control: box.e1
    add: context.scene.frame_current
    accel: 8
  - control: box.b1
    press: {keyframe: context.active_object.location}
)"
                                 : R"(devices:
  box: {serial: {port: /dev/null}}
mappings:
  - control: box.k1
    set: 'bpy.data.objects["Cube"].rotation_euler[2]'
    to: [0, 6.2832]
  - control: box.k2
    set: 'bpy.data.objects["Cube"].location[0]'
    to: [-2, 2]
  - control: box.e1
    add: context.scene.frame_current
  - control: box.b1
    press: {keyframe: context.active_object.location}
)",
                            "bench.yaml");
  if (!r.config) {
    std::fprintf(stderr, "%s\n", r.errors[0].c_str());
    return 1;
  }
  TargetTable targets;
  Mapper mapper(*r.config, targets);
  std::vector<bool> absolute(targets.size());
  for (std::uint32_t t = 0; t < targets.size(); ++t) absolute[t] = mapper.is_absolute(t);
  Outbox outbox(targets.size(), absolute);

  // A realistic stream: mostly knob values, some encoder steps, a button now and then.
  std::string stream;
  for (int i = 0; i < 4096; ++i) {
    if (i % 64 == 0) stream += "b1 1\nb1 0\n";
    else if (glue && i % 128 == 1) stream += "b2 1\n";
    else if (glue && i % 128 == 65) stream += "b2 0\n";
    else if (i % 4 == 0) stream += "e1 " + std::to_string(i % 3 - 1 == 0 ? 1 : -1) + "\n";
    else stream += (i % 2 ? "k1 " : "k2 ") + std::to_string(i % 1024) + "\n";
  }
  long lines_per_pass = 0;
  for (char c : stream) lines_per_pass += c == '\n';

  std::string wire;
  wire.reserve(1 << 20);
  std::uint64_t next_ack = 1, decoded = 0;
  std::int64_t now = 0;
  LatencyStage read_to_sent;  // what the link times for every command made by a read
  // What SerialSource does: the session decodes each read and hands the events to the
  // bridge, which maps them; the link writes whenever the socket is free (every 16 events here).
  DeviceMemory memory;  // as Bridge::on_event: each value remembered (the replug snapshot)
  const auto on_event = [&](const ControlEvent& ev) {
    if (memory.on_input(ev) == DeviceMemory::Input::map) mapper.on_event(ev, outbox);
    ++decoded;
    if ((decoded & 15) == 0) {
      wire.clear();
      while (const auto o = outbox.pop()) {
        codec::append_command(wire, o->cmd, targets, o->id);
        if (o->cmd.t_us != 0) read_to_sent.record(now - o->cmd.t_us);
      }
      while (outbox.unacked() > 0) outbox.ack(next_ack++);  // the add-on's answers
    }
  };
  MapSink<decltype(on_event)> sink(on_event);
  SerialSession session(0, "box", std::nullopt, sink);
  session.open("/dev/null", "bench", false);
  const auto run_pass = [&] {
    for (std::size_t at = 0; at < stream.size(); at += 512)  // SerialSource reads at most 512 bytes
      session.feed(std::string_view(stream).substr(at, 512), now += 100);
  };
  for (int i = 0; i < 20; ++i) run_pass();  // warm-up: buffers reach their working size

  const long passes = std::max(1L, events / lines_per_pass);
  const std::size_t allocs_before = alloc_count::calls();
  decoded = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < passes; ++i) run_pass();
  const auto t1 = std::chrono::steady_clock::now();
  const std::size_t allocs = alloc_count::calls() - allocs_before;
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  const auto n = static_cast<double>(decoded);
  std::printf("events: %llu in %.3f s\n", static_cast<unsigned long long>(decoded), secs);
  std::printf("throughput: %.0f events/s (%.1f ns/event)\n", n / secs, secs * 1e9 / n);
  std::printf("heap allocations: %zu (%.6f per event)\n", allocs, static_cast<double>(allocs) / n);
  std::printf("commands pushed %llu, merged %llu, sent %llu\n",
              static_cast<unsigned long long>(outbox.stats().pushed), static_cast<unsigned long long>(outbox.stats().merged),
              static_cast<unsigned long long>(outbox.stats().sent));
  std::printf("commands timed read -> sent: %llu\n", static_cast<unsigned long long>(read_to_sent.total().n));
  return 0;
}
