// The knob box as a USB HID game pad on an ATmega32U4 (Leonardo, Pro Micro), through
// the Arduino core's PluggableUSB HID library. Only wiring here: the descriptor and
// the report packing live in knobbox_hid_report.h; debouncing, pot hysteresis and
// quadrature decoding are the serial knob box's own headers in firmware/knobbox/
// (no Arduino.h in them), so the host tests in tests/firmware/ compile the same code.
//
// Pins: pots on A0..A3; encoders e1 on 2/3, e2 on 0/1 (A/B to ground, pull-ups on);
// buttons b1..b6 on 4..9 to ground.
#include <Arduino.h>
#include <HID.h>

#include "debouncer.h"
#include "knobbox_core.h"
#include "knobbox_hid_report.h"
#include "pot_filter.h"
#include "quadrature.h"

static_assert(KNOBBOX_HID_POTS == knobbox::kPots && KNOBBOX_HID_ENCODERS == knobbox::kEncoders &&
                  KNOBBOX_HID_BUTTONS == knobbox::kButtons,
              "the HID report carries the knob box's controls");

namespace {

const uint8_t pot_pins[KNOBBOX_HID_POTS] = {A0, A1, A2, A3};
const uint8_t enc_pins[KNOBBOX_HID_ENCODERS][2] = {{2, 3}, {0, 1}};
const uint8_t button_pins[KNOBBOX_HID_BUTTONS] = {4, 5, 6, 7, 8, 9};
const uint8_t pot_hysteresis = 2;         // ADC counts, either way: ignore noise of +-1
const unsigned long report_every_ms = 4;  // at most one report per USB poll slot

HIDSubDescriptor descriptor_node(knobbox_hid_descriptor, sizeof knobbox_hid_descriptor);
knobbox_hid_state state;
knobbox::QuadratureDecoder encoders[KNOBBOX_HID_ENCODERS];
knobbox::Debouncer buttons[KNOBBOX_HID_BUTTONS];
knobbox::PotFilter pots[KNOBBOX_HID_POTS];
bool dirty = true;
unsigned long last_report = 0;

bool high(uint8_t pin) { return digitalRead(pin) == HIGH; }

}  // namespace

void setup() {
  HID().AppendDescriptor(&descriptor_node);
  for (uint8_t i = 0; i < KNOBBOX_HID_ENCODERS; ++i) {
    pinMode(enc_pins[i][0], INPUT_PULLUP);
    pinMode(enc_pins[i][1], INPUT_PULLUP);
    encoders[i].reset(high(enc_pins[i][0]), high(enc_pins[i][1]));
  }
  // Buttons start released and pots at 0, as the host's idea of the pad does: a button
  // held at power-up is reported once it has been stable for kDebounceMs.
  for (uint8_t i = 0; i < KNOBBOX_HID_BUTTONS; ++i) {
    pinMode(button_pins[i], INPUT_PULLUP);
    buttons[i] = knobbox::Debouncer(knobbox::kDebounceMs);
  }
  for (uint8_t i = 0; i < KNOBBOX_HID_POTS; ++i)
    pots[i] = knobbox::PotFilter(knobbox::kPotMax, pot_hysteresis, pot_hysteresis);
}

void loop() {
  const unsigned long now = millis();
  for (uint8_t i = 0; i < KNOBBOX_HID_ENCODERS; ++i) {
    const int8_t step = encoders[i].update(high(enc_pins[i][0]), high(enc_pins[i][1]));
    if (step) {
      state.steps[i] = static_cast<int16_t>(state.steps[i] + step);
      dirty = true;
    }
  }
  for (uint8_t i = 0; i < KNOBBOX_HID_BUTTONS; ++i) {
    if (buttons[i].update(!high(button_pins[i]), now)) {
      const uint8_t bit = static_cast<uint8_t>(1u << i);
      state.buttons = static_cast<uint8_t>(buttons[i].state() ? state.buttons | bit : state.buttons & ~bit);
      dirty = true;
    }
  }
  for (uint8_t i = 0; i < KNOBBOX_HID_POTS; ++i) {
    if (pots[i].update(static_cast<uint16_t>(analogRead(pot_pins[i])))) {
      state.pots[i] = pots[i].value();
      dirty = true;
    }
  }
  if (dirty && now - last_report >= report_every_ms) {
    uint8_t report[KNOBBOX_HID_REPORT_SIZE];
    knobbox_hid_pack(&state, report);
    if (HID().SendReport(KNOBBOX_HID_REPORT_ID, report, sizeof report) >= 0) {
      last_report = now;
      dirty = state.steps[0] != 0 || state.steps[1] != 0;  // steps left over for the next report
    }
  }
}
