// A MIDI controller for the tests: a JACK MIDI client (RtMidi's JACK API) with one
// output port ("<client>:ctl out", what the bridge reads) and one input port
// ("<client>:ctl in", where feedback arrives).
//   midi_test_ctl CLIENT FIFO   reads lines from FIFO (or stdin for "-"): hex bytes to send
//                               ("B0 07 40"), "quit" to leave; prints "ready" once its ports
//                               exist and "recv B0 07 40" for every message received.
//   "flood SECONDS RATE"        sends CC 5 on channel 1 RATE times a second for SECONDS (values
//                               0..127 over and over), paced every millisecond; after every 50th
//                               a note 36 press (note on, note off), after every 50th + 25 an
//                               encoder step (CC 16 = 1, +1 in two's complement), after every
//                               500th a SysEx and a program change; the last is CC 5 = 77.
//                               Then prints "flooded cc=N presses=P steps=S sysex=X program=Y".
#include <rtmidi/RtMidi.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {
void print(double, std::vector<unsigned char>* m, void*) {
  std::string line = "recv";
  char b[4];
  for (unsigned char c : *m) std::snprintf(b, sizeof b, " %02X", c), line += b;
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void flood(RtMidiOut& out, double seconds, int rate) {
  using clock = std::chrono::steady_clock;
  const long total = static_cast<long>(seconds * rate);
  long cc = 0, presses = 0, steps = 0, sysex = 0, program = 0;
  std::vector<unsigned char> m;
  auto send = [&](std::initializer_list<unsigned char> bytes) {
    m.assign(bytes);
    out.sendMessage(&m);
  };
  const auto start = clock::now();
  for (long i = 0; i < total; ++i) {
    if (i % (rate / 1000) == 0)  // a millisecond's worth sent: wait for the next one
      std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1'000'000L / rate));
    send({0xB0, 5, static_cast<unsigned char>(i % 128)}), ++cc;
    if (i % 50 == 0) send({0x90, 36, 100}), send({0x80, 36, 0}), ++presses;
    if (i % 50 == 25) send({0xB0, 16, 1}), ++steps;
    if (i % 500 == 0) send({0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7}), send({0xC0, 5}), ++sysex, ++program;
  }
  send({0xB0, 5, 77}), ++cc;
  std::printf("flooded cc=%ld presses=%ld steps=%ld sysex=%ld program=%ld in %.2f s\n", cc, presses, steps, sysex,
              program, std::chrono::duration<double>(clock::now() - start).count());
  std::fflush(stdout);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: midi_test_ctl CLIENT FIFO|-\n");
    return 2;
  }
  try {
    RtMidiOut out(RtMidi::UNIX_JACK, argv[1]);
    RtMidiIn in(RtMidi::UNIX_JACK, argv[1]);
    in.ignoreTypes(false, false, false);
    in.setCallback(print);
    out.openVirtualPort("ctl out");
    in.openVirtualPort("ctl in");
    std::printf("ready\n");
    std::fflush(stdout);
    std::ifstream fifo;
    if (std::string(argv[2]) != "-") fifo.open(argv[2]);
    std::istream& commands = fifo.is_open() ? fifo : std::cin;
    for (std::string line; std::getline(commands, line);) {
      if (line == "quit") break;
      std::istringstream words(line);
      if (line.rfind("flood ", 0) == 0) {
        std::string word;
        double seconds = 0;
        int rate = 0;
        words >> word >> seconds >> rate;
        flood(out, seconds, rate);
        continue;
      }
      std::vector<unsigned char> msg;
      for (std::string w; words >> w;) msg.push_back(static_cast<unsigned char>(std::stoul(w, nullptr, 16)));
      if (!msg.empty()) out.sendMessage(&msg);
    }
  } catch (const RtMidiError& e) {
    std::fprintf(stderr, "midi_test_ctl: %s\n", e.getMessage().c_str());
    return 1;
  }
  return 0;
}
