// Replug -> resume through the real knoblink binary: the real firmware in knoblink-sim
// behind a pty link is unplugged, a knob is turned while it is away, and it is plugged
// back; measured is the time from the link reappearing to the knob's new value arriving
// at the socket (the bridge reopens it from the hot-plug watch, asks for the description,
// the board's snapshot carries the moved knob). docs/performance.md, "Replug".
//   build/bench/replug_bench [cycles] [away_ms]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "replug_rig.hpp"

using namespace kltest;

int main(int argc, char** argv) {
  const int cycles = argc > 1 ? std::atoi(argv[1]) : 30;
  const int away_ms = argc > 2 ? std::atoi(argv[2]) : 300;
  try {
    ReplugRig rig(0, 0);
    if (!rig.described(1, 15s)) throw std::runtime_error("the board never described itself:\n" + rig.bridge().log());
    std::vector<double> ms;
    for (int i = 0; i < cycles; ++i) {
      const int k1 = 100 + (i % 2) * 800;  // 100, 900, 100, ...: always a move
      rig.unplug();
      rig.sim().send("knob 1 " + std::to_string(k1));
      std::this_thread::sleep_for(Ms(away_ms));
      const auto appeared = rig.replug();
      for (;;) {  // the knob's value; nothing else is mapped
        const auto line = rig.blender().read_line(10s);
        if (!line) throw std::runtime_error("no command after replug " + std::to_string(i) + ":\n" + rig.bridge().log());
        if (line->find("\"context.scene.k1\"") != std::string::npos) break;
      }
      ms.push_back(ms_between(appeared, ReplugRig::Clock::now()));
    }
    std::sort(ms.begin(), ms.end());
    const auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * static_cast<double>(ms.size())))]; };
    std::printf("replug_bench: %d cycles, away %d ms: link reappeared -> moved knob's command at the socket: "
                "min %.1f  p50 %.1f  p90 %.1f  max %.1f ms\n",
                cycles, away_ms, ms.front(), at(0.5), at(0.9), ms.back());
    std::printf("hot-plug reopens: %d of %d\n", rig.count(rig.link() + " appeared; opening it now"), cycles);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "replug_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
