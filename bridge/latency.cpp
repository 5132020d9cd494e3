#include "bridge/latency.hpp"

#include <bit>
#include <cmath>
#include <cstdio>

namespace knoblink {

std::size_t LatencyHistogram::bucket(std::int64_t us) {
  if (us < (std::int64_t{2} << kSubBits)) return us < 0 ? 0 : static_cast<std::size_t>(us);
  auto v = static_cast<std::uint64_t>(us);
  if (v >= (std::uint64_t{1} << kMaxBits)) return kBuckets - 1;
  const int msb = 63 - std::countl_zero(v);
  const int shift = msb - kSubBits;  // >= 1: v >> shift is in [16, 32)
  return (static_cast<std::size_t>(shift) << kSubBits) + static_cast<std::size_t>(v >> shift);
}

std::int64_t LatencyHistogram::bucket_low(std::size_t b) {
  if (b < (2u << kSubBits)) return static_cast<std::int64_t>(b);
  const auto shift = (b >> kSubBits) - 1;
  const auto mantissa = b - (shift << kSubBits);
  return static_cast<std::int64_t>(mantissa << shift);
}

void LatencyHistogram::record(std::int64_t us) {
  if (us < 0) us = 0;
  ++counts_[bucket(us)];
  ++n_;
  if (us > max_) max_ = us;
}

std::int64_t LatencyHistogram::percentile(double q) const {
  if (n_ == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(n_)));
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    seen += counts_[b];
    if (seen < rank || counts_[b] == 0) continue;
    const auto low = bucket_low(b);
    const auto high = b + 1 < kBuckets ? bucket_low(b + 1) : low + 1;
    const auto mid = low + (high - low - 1) / 2;  // exact where a bucket holds one value
    return mid < max_ ? mid : max_;
  }
  return max_;
}

LatencySummary LatencyHistogram::summary() const { return {n_, percentile(0.50), percentile(0.99), max_}; }

void LatencyHistogram::clear() {
  counts_.fill(0);
  n_ = 0;
  max_ = 0;
}

namespace {
std::string duration(std::int64_t us) {
  char buf[32];
  if (us < 1000) std::snprintf(buf, sizeof buf, "%lld us", static_cast<long long>(us));
  else if (us < 1'000'000) std::snprintf(buf, sizeof buf, "%.2f ms", static_cast<double>(us) / 1e3);
  else std::snprintf(buf, sizeof buf, "%.2f s", static_cast<double>(us) / 1e6);
  return buf;
}
}  // namespace

std::string to_string(const LatencySummary& s) {
  if (s.n == 0) return "none";
  return "p50 " + duration(s.p50_us) + " p99 " + duration(s.p99_us) + " max " + duration(s.max_us) +
         " (n=" + std::to_string(s.n) + ")";
}

}  // namespace knoblink
