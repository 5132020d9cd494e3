// knoblink-sim's line commands (docs/firmware.md): parsed into a plain value,
// no I/O, so the parser is tested on its own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace knoblink::sim {

/// How many of each input the emulated knob box has (1-based in commands).
inline constexpr int kKnobs = 4;
inline constexpr int kEncoders = 2;
inline constexpr int kButtons = 6;

struct Command {
  enum class Op {
    none,     ///< blank line or comment
    knob,     ///< knob I VALUE[mv]
    enc,      ///< enc I STEPS [US_PER_EDGE]
    press,    ///< press I [bounce]
    release,  ///< release I [bounce]
    reset,    ///< reset: the board's reset button
    unplug,   ///< unplug: close the pty, the board loses power
    replug,   ///< replug: new pty, board powers up again
    sync,     ///< sync: answer "sync" once every queued input has happened
    noise,    ///< noise TEXT: line noise on the serial line (TEXT with \xNN escapes, then '\n')
    quit,     ///< quit
    error,    ///< bad command; `error` says why
  };
  Op op = Op::none;
  int index = 0;            ///< 0-based knob/encoder/button
  std::int32_t value = 0;   ///< knob millivolts, encoder steps
  std::int32_t edge_us = 0; ///< enc: microseconds between quadrature edges
  bool bounce = false;      ///< press/release with contact bounce
  std::string bytes;        ///< noise: the bytes to put on the line
  std::string error;
};

/// Default time between two quadrature edges of `enc` (4 edges per detent).
inline constexpr std::int32_t kDefaultEdgeUs = 250;
/// ADC reference of the emulated board in millivolts.
inline constexpr std::int32_t kVccMv = 5000;

/// Millivolts that the AVR's ADC reads back as exactly `counts` (0..1023).
inline std::int32_t counts_to_mv(std::int32_t counts) {
  return (counts * kVccMv + 1022) / 1023;  // ceil: simavr truncates mv*1023/vcc
}

/// Parses one line of input ("knob 1 512", "enc 2 -5", "bounce 3", ...).
Command parse_command(std::string_view line);

}  // namespace knoblink::sim
