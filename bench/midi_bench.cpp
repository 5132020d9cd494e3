// MIDI decode per message, on one core, and heap allocations per message (counted by
// replacing the global operator new): a stream of CC (running status), 14-bit CC,
// encoder, note and pitch-bend messages, fed one message per read as RtMidi delivers them.
//   build/bench/midi_bench [messages]
#include <chrono>
#include <cstdio>

#include "bench/alloc_count.hpp"
#include "devices/midi/midi_decoder.hpp"

using alloc_count::CountingSink;

int main(int argc, char** argv) {
  using namespace knoblink;
  const long messages = argc > 1 ? std::atol(argv[1]) : 10'000'000;
  MidiConfig config;
  config.encodings = {{"cc1_16", MidiEncoding::twos}};
  config.fourteen_bit = {"cc1_7"};
  midi::Decoder decoder(0, midi::CcModes(config));
  CountingSink sink;
  // 8 messages: plain CC, 14-bit MSB + LSB, encoder, note on + off, pitch bend, CC on ch 16.
  std::uint8_t stream[8][3] = {{0xB0, 0x05, 0}, {0xB0, 0x07, 0}, {0xB0, 0x27, 0}, {0xB0, 0x10, 1},
                               {0x90, 0x24, 100}, {0x80, 0x24, 0}, {0xE0, 0, 0}, {0xBF, 0x01, 0}};
  // Warm-up: each control is described once (the first on_control), then steady state.
  for (const auto& m : stream) decoder.feed(m, 0, sink);
  const std::size_t allocs0 = alloc_count::calls();
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < messages; ++i) {
    auto& m = stream[static_cast<std::size_t>(i) & 7];
    m[2] = static_cast<std::uint8_t>(i & 0x3F) + 1;  // a changing value, never 0 (an encoder's 0 is no turn)
    decoder.feed(m, i, sink);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("midi decode: %ld messages, %lld events in %.3f s: %.1f ns/message, %.2f M messages/s, "
              "%zu allocations (%.3f per message) [checksum %lld]\n",
              messages, sink.events, s, s * 1e9 / static_cast<double>(messages), static_cast<double>(messages) / s / 1e6,
              alloc_count::calls() - allocs0, static_cast<double>(alloc_count::calls() - allocs0) / static_cast<double>(messages), sink.sum);
  return alloc_count::calls() == allocs0 ? 0 : 1;
}
