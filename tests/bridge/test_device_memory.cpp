// DeviceMemory (docs/devices.md, "Replug" and "Where the controls are"): snapshot values
// against the last known ones, and outputs kept while a device is away.
#include <catch2/catch.hpp>

#include "bridge/device_memory.hpp"

using namespace knoblink;
using Input = DeviceMemory::Input;

namespace {
ControlEvent ev(const char* control, ControlKind kind, std::int32_t value, bool snapshot, std::uint16_t device = 1) {
  ControlEvent e;
  e.device = device;
  e.control = Name::unchecked(control);
  e.kind = kind;
  e.value = value;
  e.snapshot = snapshot;
  return e;
}
}  // namespace

TEST_CASE("the first snapshot informs; after a reconnect an unmoved control is skipped, a moved one mapped") {
  DeviceMemory m;
  CHECK(m.on_input(ev("k1", ControlKind::abs, 100, true)) == Input::inform);
  CHECK(m.on_input(ev("b1", ControlKind::btn, 0, true)) == Input::inform);
  CHECK(m.on_input(ev("k1", ControlKind::abs, 100, true)) == Input::skip);  // the answer to a '?'
  CHECK(m.on_input(ev("k1", ControlKind::abs, 300, false)) == Input::map);  // a turn
  // Unplugged and back: k1 moved while away, b1 did not.
  CHECK(m.on_input(ev("k1", ControlKind::abs, 700, true)) == Input::map);
  CHECK(m.on_input(ev("b1", ControlKind::btn, 0, true)) == Input::skip);
  CHECK(m.on_input(ev("k1", ControlKind::abs, 700, false)) == Input::map);  // a turn to the same value is a turn
  // The same control of another device is another control; a first movement is mapped.
  CHECK(m.on_input(ev("k1", ControlKind::abs, 700, true, 2)) == Input::inform);
  CHECK(m.on_input(ev("k2", ControlKind::abs, 5, false)) == Input::map);
  CHECK(m.on_input(ev("k2", ControlKind::abs, 5, true)) == Input::skip);
  // Deltas are no positions.
  CHECK(m.on_input(ev("e1", ControlKind::rel, 1, false)) == Input::map);
  CHECK(m.on_input(ev("e1", ControlKind::rel, 1, false)) == Input::map);
}

TEST_CASE("outputs: the latest value is kept while away and written again after a reopen, never twice") {
  DeviceMemory m;
  const auto l1 = Name::unchecked("l1"), l2 = Name::unchecked("l2");
  CHECK(m.set_output(0, l1, 1));
  m.output_written(0, l1, false);  // away
  CHECK(m.set_output(0, l1, 0));   // changed while away: the latest wins
  m.output_written(0, l1, false);
  CHECK(m.set_output(0, l1, 1));
  m.output_written(0, l1, false);
  CHECK(m.set_output(0, l2, 1));
  m.output_written(0, l2, true);
  CHECK_FALSE(m.set_output(0, l2, 1));  // the device has it
  REQUIRE(m.outputs(0).size() == 2);
  CHECK((m.outputs(0)[0].control == l1 && m.outputs(0)[0].value == 1 && !m.outputs(0)[0].written));
  m.forget_written(0);  // reopened: it has none of them
  CHECK_FALSE(m.outputs(0)[1].written);
  CHECK(m.set_output(0, l2, 1));
  m.output_written(0, l2, true);
  m.forget_written(0, l2);  // described again (rebooted)
  CHECK(m.set_output(0, l2, 1));
  CHECK(m.outputs(5).empty());
}
