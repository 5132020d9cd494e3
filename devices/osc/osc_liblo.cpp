// The only file that uses liblo: OSC message (de)serialisation.
#include <lo/lo.h>

#include <cstring>

#include "devices/osc/osc_codec.hpp"

namespace knoblink::osc {

namespace {
std::string lo_error(int code) {
  switch (code) {
    case LO_ESIZE: return "its size is not a multiple of 4 or is shorter than it says";
    case LO_EINVALIDPATH: return "its address does not start with '/' or is not terminated";
    case LO_EINVALIDTYPE: return "its type tag string does not start with ','";
    case LO_EBADTYPE: return "it has an unknown argument type";
    case LO_EINVALIDARG: return "an argument is cut short";
    case LO_ETERM: return "a string is not terminated";
    case LO_EPAD: return "a string is not padded to 4 bytes";
    default: return "liblo error " + std::to_string(code);
  }
}
}  // namespace

bool decode_message(std::span<const std::uint8_t> bytes, Message& out, std::string& error) {
  if (bytes.empty() || bytes[0] != '/') {
    error = "it does not start with '/' or \"#bundle\"";
    return false;
  }
  std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());  // liblo takes a non-const buffer
  int result = 0;
  lo_message m = lo_message_deserialise(copy.data(), copy.size(), &result);
  if (!m) {
    error = lo_error(result);
    return false;
  }
  const char* path = lo_get_path(copy.data(), static_cast<ssize_t>(copy.size()));
  out.address = path ? path : "";
  out.value.reset();
  const char* types = lo_message_get_types(m);
  lo_arg** argv = lo_message_get_argv(m);
  const int argc = lo_message_get_argc(m);
  for (int i = 0; i < argc && types && !out.value; ++i) {
    switch (types[i]) {
      case LO_FLOAT: out.value = argv[i]->f; break;
      case LO_DOUBLE: out.value = argv[i]->d; break;
      case LO_INT32: out.value = argv[i]->i; break;
      case LO_INT64: out.value = static_cast<double>(argv[i]->h); break;
      case LO_TRUE: out.value = 1; break;
      case LO_FALSE: out.value = 0; break;
      default: break;
    }
  }
  lo_message_free(m);
  return true;
}

bool encode_float(const std::string& address, float value, std::vector<std::uint8_t>& out, std::string& error) {
  lo_message m = lo_message_new();
  if (!m || lo_message_add_float(m, value) != 0) {
    if (m) lo_message_free(m);
    error = "liblo could not make a message";
    return false;
  }
  const std::size_t n = lo_message_length(m, address.c_str());
  out.resize(n);
  std::size_t size = n;
  lo_message_serialise(m, address.c_str(), out.data(), &size);
  lo_message_free(m);
  out.resize(size);
  return true;
}

}  // namespace knoblink::osc
