// A MIDI controller for the tests: a JACK MIDI client (RtMidi's JACK API) with one
// output port ("<client>:ctl out", what the bridge reads) and one input port
// ("<client>:ctl in", where feedback arrives).
//   midi_test_ctl CLIENT FIFO   reads lines from FIFO (or stdin for "-"): hex bytes to send
//                               ("B0 07 40"), "quit" to leave; prints "ready" once its ports
//                               exist and "recv B0 07 40" for every message received.
#include <rtmidi/RtMidi.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {
void print(double, std::vector<unsigned char>* m, void*) {
  std::string line = "recv";
  char b[4];
  for (unsigned char c : *m) std::snprintf(b, sizeof b, " %02X", c), line += b;
  std::printf("%s\n", line.c_str());
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
