// Where the time goes (docs/performance.md, "Stage latencies"): a fixed-size histogram of
// microsecond durations and a measured stage (since start, and the last completed window).
// Recording never allocates; percentiles are read from the buckets (within 1/32 of the value).
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace knoblink {

/// Percentiles of one set of durations; n == 0: nothing was measured.
struct LatencySummary {
  std::uint64_t n = 0;
  std::int64_t p50_us = 0, p99_us = 0, max_us = 0;
  friend bool operator==(const LatencySummary&, const LatencySummary&) = default;
};

/// A log-linear histogram: exact below 32 us, then 16 buckets per power of two up to 2^31 us
/// (~36 min; longer durations count in the last bucket). 448 counters, no allocation.
class LatencyHistogram {
 public:
  static constexpr int kSubBits = 4;
  static constexpr int kMaxBits = 31;
  static constexpr std::size_t kBuckets = ((kMaxBits - kSubBits) << kSubBits) + (1u << kSubBits);

  /// Counts one duration (negative ones count as 0).
  void record(std::int64_t us);
  std::uint64_t count() const { return n_; }
  std::int64_t max() const { return max_; }
  /// The duration below which a fraction q (0..1) of the recorded ones lie: the middle of
  /// its bucket (exact below 32 us), never above max(). 0 when empty.
  std::int64_t percentile(double q) const;
  LatencySummary summary() const;
  void clear();

  /// The bucket of a duration, and the first duration of a bucket (exposed for the tests).
  static std::size_t bucket(std::int64_t us);
  static std::int64_t bucket_low(std::size_t b);

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t n_ = 0;
  std::int64_t max_ = 0;
};

/// One stage of the chain (device read -> sent on the socket): everything since the start,
/// and a window that roll() closes (every 5 s), so figures follow what happens now.
class LatencyStage {
 public:
  void record(std::int64_t us) {
    total_.record(us);
    window_.record(us);
  }
  /// Closes the current window: last_window() becomes its summary (n == 0 when it saw nothing).
  void roll() {
    last_window_ = window_.summary();
    window_.clear();
  }
  const LatencySummary& last_window() const { return last_window_; }
  LatencySummary total() const { return total_.summary(); }

 private:
  LatencyHistogram total_, window_;
  LatencySummary last_window_;
};

/// "p50 83 us p99 410 us max 1.2 ms (n=1234)", or "none" when n == 0.
std::string to_string(const LatencySummary& s);

}  // namespace knoblink
