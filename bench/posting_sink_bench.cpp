// Heap allocations per event through PostingSink (bridge/posting_sink.hpp): a reader
// thread of its own (as hid::HidSource's) calls on_event, the io_context's thread runs
// queued calls. Counted by replacing the global operator new. (A plain asio::post from a
// reader thread would allocate its handler every time: Asio recycles handler memory only
// on its own threads; PostingSink queues under a mutex and wakes the loop via an eventfd.)
//   build/bench/posting_sink_bench [events]
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "bench/alloc_count.hpp"
#include "bridge/posting_sink.hpp"

using namespace knoblink;

namespace {

/// Counts what arrives; runs on the io thread only.
class CountingSink final : public EventSink {
 public:
  void on_event(const ControlEvent& e) override { sum += e.value, ++events; }
  void on_notice(std::uint16_t, Severity, std::string_view) override {}
  void on_connection(std::uint16_t, bool) override {}
  void on_control(std::uint16_t, const ControlInfo&) override {}
  std::atomic<long> events{0};
  long sum = 0;
};

struct Result {
  std::size_t allocs, bytes;
  double secs;
};

/// Posts `events` events from a thread of its own, as HidSource does.
Result run(long events) {
  asio::io_context io(1);
  CountingSink target;
  PostingSink sink(io, target);
  ControlEvent e;
  e.control = Name::unchecked("x");
  e.kind = ControlKind::abs;
  const auto feed = [&](long n) {
    for (long i = 0; i < n; ++i) {
      e.value = static_cast<std::int32_t>(i & 1023);
      sink.on_event(e);
      // Like a device: a few events, then the io thread catches up (bounded backlog).
      if ((i & 63) == 63)
        while (target.events.load(std::memory_order_relaxed) < i - 64) std::this_thread::yield();
    }
  };
  auto guard = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });
  feed(1000);  // warm-up
  while (target.events.load() < 1000) std::this_thread::yield();
  target.events = 0;
  const auto a0 = alloc_count::calls(), b0 = alloc_count::bytes();
  const auto t0 = std::chrono::steady_clock::now();
  feed(events);
  while (target.events.load() < events) std::this_thread::yield();
  const auto t1 = std::chrono::steady_clock::now();
  const Result r{alloc_count::calls() - a0, alloc_count::bytes() - b0, std::chrono::duration<double>(t1 - t0).count()};
  asio::post(io, [&] { sink.stop(); });
  guard.reset();
  io_thread.join();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const long events = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  const Result r = run(events);
  std::printf("from a reader thread: %ld events in %.3f s (%.0f ns/event), heap allocations %zu (%.3f per event, %.1f bytes per event)\n",
              events, r.secs, r.secs * 1e9 / static_cast<double>(events), r.allocs,
              static_cast<double>(r.allocs) / static_cast<double>(events), static_cast<double>(r.bytes) / static_cast<double>(events));
  return 0;
}
