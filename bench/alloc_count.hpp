// Heap allocations of a benchmark, counted by replacing the global operator new: include
// this in exactly one file of the benchmark, read alloc_count::calls() before and after.
// GCC 12 sees the replaced operator new inlined into std::vector and warns that free()
// does not match it (a false positive: both are malloc/free here).
#pragma once
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <atomic>
#include <cstdlib>
#include <new>
#include <string_view>

#include "devices/event_sink.hpp"

namespace alloc_count {
inline std::atomic<std::size_t> g_calls{0}, g_bytes{0};
/// Allocations so far, from any thread.
inline std::size_t calls() { return g_calls.load(std::memory_order_relaxed); }
/// Bytes asked for so far.
inline std::size_t bytes() { return g_bytes.load(std::memory_order_relaxed); }

/// A sink that counts events and sums their values (so nothing is optimised away).
class CountingSink final : public knoblink::EventSink {
 public:
  void on_event(const knoblink::ControlEvent& e) override { sum += e.value, ++events; }
  void on_notice(std::uint16_t, knoblink::Severity, std::string_view) override {}
  void on_connection(std::uint16_t, bool) override {}
  void on_control(std::uint16_t, const knoblink::ControlInfo&) override {}
  long long sum = 0, events = 0;
};
}  // namespace alloc_count

void* operator new(std::size_t n) {
  alloc_count::g_calls.fetch_add(1, std::memory_order_relaxed);
  alloc_count::g_bytes.fetch_add(n, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
