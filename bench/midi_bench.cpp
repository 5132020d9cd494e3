// MIDI decode per message, on one core, and heap allocations per message (counted by
// replacing the global operator new): a stream of CC (running status), 14-bit CC,
// encoder, note and pitch-bend messages, fed one message per read as RtMidi delivers them.
//   build/bench/midi_bench [messages]
// GCC 12 sees the replaced operator new inlined into std::vector and warns that free()
// does not match it (a false positive: both are malloc/free here).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "devices/midi/midi_decoder.hpp"

namespace {
std::size_t g_allocs = 0;

class CountingSink final : public knoblink::EventSink {
 public:
  void on_event(const knoblink::ControlEvent& e) override { sum += e.value, ++events; }
  void on_notice(std::uint16_t, knoblink::Severity, std::string_view) override {}
  void on_connection(std::uint16_t, bool) override {}
  void on_control(std::uint16_t, const knoblink::ControlInfo&) override {}
  long long sum = 0, events = 0;
};
}  // namespace

void* operator new(std::size_t n) {
  ++g_allocs;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

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
  const std::size_t allocs0 = g_allocs;
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
              g_allocs - allocs0, static_cast<double>(g_allocs - allocs0) / static_cast<double>(messages), sink.sum);
  return g_allocs == allocs0 ? 0 : 1;
}
