// The knob box as a USB HID game pad on an ATmega32U4 (Leonardo, Pro Micro), through
// the Arduino core's PluggableUSB HID library. Only wiring here; the descriptor and
// the report packing live in knobbox_hid_report.h, shared with the host tests.
//
// Pins: pots on A0..A3; encoders e1 on 2/3, e2 on 0/1 (A/B to ground, pull-ups on);
// buttons b1..b6 on 4..9 to ground.
#include <Arduino.h>
#include <HID.h>

#include "knobbox_hid_report.h"

namespace {

const uint8_t pot_pins[KNOBBOX_HID_POTS] = {A0, A1, A2, A3};
const uint8_t enc_pins[KNOBBOX_HID_ENCODERS][2] = {{2, 3}, {0, 1}};
const uint8_t button_pins[KNOBBOX_HID_BUTTONS] = {4, 5, 6, 7, 8, 9};
const uint16_t pot_hysteresis = 2;      // ADC counts: ignore noise of +-1
const unsigned long debounce_ms = 5;
const unsigned long report_every_ms = 4;  // at most one report per USB poll slot

HIDSubDescriptor descriptor_node(knobbox_hid_descriptor, sizeof knobbox_hid_descriptor);
knobbox_hid_state state;
knobbox_quadrature encoders[KNOBBOX_HID_ENCODERS];
uint8_t raw_buttons = 0;
unsigned long raw_since[KNOBBOX_HID_BUTTONS];
bool dirty = true;
unsigned long last_report = 0;

uint8_t read_encoder(uint8_t i) {
  return static_cast<uint8_t>((digitalRead(enc_pins[i][0]) == LOW ? 2 : 0) |
                              (digitalRead(enc_pins[i][1]) == LOW ? 1 : 0));
}

}  // namespace

void setup() {
  HID().AppendDescriptor(&descriptor_node);
  for (uint8_t i = 0; i < KNOBBOX_HID_ENCODERS; ++i) {
    pinMode(enc_pins[i][0], INPUT_PULLUP);
    pinMode(enc_pins[i][1], INPUT_PULLUP);
    encoders[i].last = read_encoder(i);
  }
  for (uint8_t pin : button_pins) pinMode(pin, INPUT_PULLUP);
}

void loop() {
  const unsigned long now = millis();
  for (uint8_t i = 0; i < KNOBBOX_HID_ENCODERS; ++i) {
    const int8_t step = knobbox_quadrature_update(&encoders[i], read_encoder(i));
    if (step) {
      state.steps[i] = static_cast<int16_t>(state.steps[i] + step);
      dirty = true;
    }
  }
  for (uint8_t i = 0; i < KNOBBOX_HID_BUTTONS; ++i) {
    const uint8_t bit = static_cast<uint8_t>(1u << i);
    const bool down = digitalRead(button_pins[i]) == LOW;
    if (down != ((raw_buttons & bit) != 0)) {  // raw level changed: restart its timer
      raw_buttons ^= bit;
      raw_since[i] = now;
    } else if (down != ((state.buttons & bit) != 0) && now - raw_since[i] >= debounce_ms) {
      state.buttons ^= bit;
      dirty = true;
    }
  }
  for (uint8_t i = 0; i < KNOBBOX_HID_POTS; ++i) {
    const uint16_t v = static_cast<uint16_t>(analogRead(pot_pins[i]));
    const uint16_t old = state.pots[i];
    if ((v > old ? v - old : old - v) >= pot_hysteresis || (v != old && (v == 0 || v == 1023))) {
      state.pots[i] = v;
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
