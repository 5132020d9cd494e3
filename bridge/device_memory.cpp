#include "bridge/device_memory.hpp"

#include <algorithm>

namespace knoblink {

DeviceMemory::Device& DeviceMemory::device(std::uint16_t d) {
  if (devices_.size() <= d) devices_.resize(d + 1u);
  return devices_[d];
}

DeviceMemory::Input DeviceMemory::on_input(const ControlEvent& e) {
  if (e.kind == ControlKind::rel) return Input::map;
  auto& inputs = device(e.device).inputs;
  const auto it = std::find_if(inputs.begin(), inputs.end(), [&](const Known& k) { return k.control == e.control; });
  if (it == inputs.end()) {
    inputs.push_back({e.control, e.value});
    return e.snapshot ? Input::inform : Input::map;
  }
  const bool same = it->value == e.value;
  it->value = e.value;
  return e.snapshot && same ? Input::skip : Input::map;
}

DeviceMemory::Output* DeviceMemory::find_output(std::uint16_t d, const Name& control) {
  if (d >= devices_.size()) return nullptr;
  auto& outputs = devices_[d].outputs;
  const auto it = std::find_if(outputs.begin(), outputs.end(), [&](const Output& o) { return o.control == control; });
  return it == outputs.end() ? nullptr : &*it;
}

bool DeviceMemory::set_output(std::uint16_t d, const Name& control, std::int32_t value) {
  if (Output* o = find_output(d, control)) {
    if (o->written && o->value == value) return false;
    o->value = value;
    return true;
  }
  device(d).outputs.push_back({control, value, false});
  return true;
}

void DeviceMemory::output_written(std::uint16_t d, const Name& control, bool written) {
  if (Output* o = find_output(d, control)) o->written = written;
}

void DeviceMemory::forget_written(std::uint16_t d) {
  if (d < devices_.size())
    for (auto& o : devices_[d].outputs) o.written = false;
}

void DeviceMemory::forget_written(std::uint16_t d, const Name& control) { output_written(d, control, false); }

const std::vector<DeviceMemory::Output>& DeviceMemory::outputs(std::uint16_t d) const {
  static const std::vector<Output> none;
  return d < devices_.size() ? devices_[d].outputs : none;
}

}  // namespace knoblink
