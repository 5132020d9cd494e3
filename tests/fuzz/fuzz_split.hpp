// What the fuzz targets share: an input's first byte picks where a byte stream is cut, so
// the fuzzer chooses the slices that a byte-fed decoder is given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace knoblink::fuzz {

/// Calls feed(slice) for consecutive slices of bytes whose lengths (1..64) follow from seed.
template <class F>
void feed_split(std::string_view bytes, std::uint8_t seed, F&& feed) {
  std::uint32_t x = 0x9e3779b9u ^ seed;
  while (!bytes.empty()) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;  // xorshift32
    const std::size_t n = std::min<std::size_t>(bytes.size(), 1 + x % 64);
    feed(bytes.substr(0, n));
    bytes.remove_prefix(n);
  }
}

/// Calls feed once per byte.
template <class F>
void feed_bytes(std::string_view bytes, F&& feed) {
  for (std::size_t i = 0; i < bytes.size(); ++i) feed(bytes.substr(i, 1));
}

/// A property the target checks does not hold: report it and abort (libFuzzer saves the input).
[[noreturn]] inline void violated(const char* what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

#define KNOBLINK_FUZZ_CHECK(cond) \
  do {                            \
    if (!(cond)) ::knoblink::fuzz::violated(#cond); \
  } while (0)

}  // namespace knoblink::fuzz
