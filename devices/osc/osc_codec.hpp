// OSC messages to and from bytes. osc_liblo.cpp is the only file that uses liblo.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace knoblink::osc {

/// One decoded OSC message: its address and its first numeric argument (f, d, i, h, T, F), if any.
struct Message {
  std::string address;
  std::optional<double> value;
};

/// Decodes one OSC message (not a bundle). False with error set when bytes are not OSC.
bool decode_message(std::span<const std::uint8_t> bytes, Message& out, std::string& error);

/// The bytes of an OSC message to address with one float argument. False with error set.
bool encode_float(const std::string& address, float value, std::vector<std::uint8_t>& out, std::string& error);

}  // namespace knoblink::osc
