// OSC decode per message, on one core, and heap allocations per message (operator new
// counted by bench/alloc_count.hpp; malloc, calloc and realloc, liblo's included, counted
// by replacing them): UDP packets as TouchOSC sends them (made by liblo),
// fed one packet per read as OscSource does: two faders (floats), a button (a float), and
// a message to an address no control names.
//   build/bench/osc_bench [messages]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/alloc_count.hpp"
#include "devices/osc/osc_codec.hpp"
#include "devices/osc/osc_session.hpp"

// liblo allocates with malloc and calloc, which operator new does not see: those calls are
// counted here too (the executable's malloc is the one the shared libraries call).
extern "C" void* __libc_malloc(std::size_t);
extern "C" void* __libc_calloc(std::size_t, std::size_t);
extern "C" void* __libc_realloc(void*, std::size_t);
namespace {
std::atomic<std::size_t> g_mallocs{0};
}
extern "C" void* malloc(std::size_t n) {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
extern "C" void* calloc(std::size_t n, std::size_t size) {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, size);
}
extern "C" void* realloc(void* p, std::size_t n) {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}

namespace {
std::vector<std::uint8_t> message(const std::string& address, float v) {
  std::vector<std::uint8_t> out;
  std::string error;
  if (!knoblink::osc::encode_float(address, v, out, error)) std::abort();
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace knoblink;
  const long messages = argc > 1 ? std::atol(argv[1]) : 2'000'000;
  OscConfig config;
  config.port = 9000;
  config.controls = {{"fader1", "/1/fader1", 0, 1, ControlKind::abs},
                     {"fader2", "/1/fader2", 0, 1, ControlKind::abs},
                     {"toggle1", "/1/toggle1", 0, 1, ControlKind::btn}};
  osc::Session session(0, config, "touch");
  alloc_count::CountingSink sink;
  const std::vector<std::vector<std::uint8_t>> stream = {message("/1/fader1", 0.25f), message("/1/toggle1", 1.0f),
                                                         message("/1/fader2", 0.75f), message("/1/fader9", 0.5f)};
  const std::string sender = "127.0.0.1:50123";
  for (const auto& p : stream) session.feed(p, sender, 0, sink);  // warm-up: the unknown address is told once
  const std::size_t allocs0 = alloc_count::calls(), bytes0 = alloc_count::bytes(), mallocs0 = g_mallocs.load();
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < messages; ++i) session.feed(stream[static_cast<std::size_t>(i) & 3], sender, i, sink);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto n = static_cast<double>(messages), allocs = static_cast<double>(alloc_count::calls() - allocs0);
  const auto mallocs = static_cast<double>(g_mallocs.load() - mallocs0);
  std::printf("osc decode: %ld messages, %lld events in %.3f s: %.1f ns/message, %.2f M messages/s, "
              "%.2f operator new per message (%.0f bytes), %.2f malloc/calloc/realloc per message in all "
              "(liblo's included) [checksum %lld]\n",
              messages, sink.events, s, s * 1e9 / n, n / s / 1e6, allocs / n,
              static_cast<double>(alloc_count::bytes() - bytes0) / n, mallocs / n, sink.sum);
  return 0;
}
