// pty -> socket latency through the real knoblink binary: a Contract 1 line written
// into a pty until its Contract 2 command is read at a listening socket.
//   build/bench/latency_bench [samples]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "harness.hpp"

using namespace kltest;

int main(int argc, char** argv) {
  const int samples = argc > 1 ? std::atoi(argv[1]) : 5000;
  TempDir dir;
  Listener blender;
  Pty pty;
  const auto cfg = dir.write("map.yaml", "blender: {port: " + std::to_string(blender.port()) +
                                             "}\ndevices:\n  box:\n    serial: {port: " + pty.slave() +
                                             "}\nmappings:\n  - control: box.k1\n    set: context.scene.frame_float\n");
  Process bridge({KNOBLINK_BINARY_DIR "/bridge/knoblink", "run", "--config", cfg}, dir.file("bridge.log"));
  auto conn = blender.accept(15s);
  if (!conn || !conn->read_line(10s)) {
    std::fprintf(stderr, "bridge did not connect:\n%s\n", bridge.log().c_str());
    return 1;
  }
  conn->send(R"({"hello":1,"server":"bench","blender":"-"})" "\n");
  if (pty.read_line(10s) != std::optional<std::string>("?")) return 1;
  std::vector<double> us;
  for (int i = 0; i < samples + 100; ++i) {
    const std::string line = "k1 " + std::to_string(i % 1000) + "\n";
    const auto t0 = std::chrono::steady_clock::now();
    pty.write(line);
    if (!conn->read_line(5s)) {
      std::fprintf(stderr, "no command for sample %d\n%s\n", i, bridge.log().c_str());
      return 1;
    }
    const auto t1 = std::chrono::steady_clock::now();
    if (i >= 100) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[static_cast<std::size_t>(p * static_cast<double>(us.size() - 1))]; };
  std::printf("pty->socket latency over %zu samples: p50 %.0f us, p90 %.0f us, p99 %.0f us, max %.0f us\n", us.size(),
              pct(0.5), pct(0.9), pct(0.99), us.back());
  return 0;
}
