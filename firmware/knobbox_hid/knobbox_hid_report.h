/* The knob box as a USB HID game pad: its report descriptor and report layout.
 * No Arduino.h: the firmware (knobbox_hid.ino.cpp) and the host tests include this very
 * file, so the descriptor the board sends and the one the tests parse cannot drift.
 *
 * Controls, as knoblink names them from the usages:
 *   k1..k4 (pots, 0..1023)     -> x, y, z, rx   abs
 *   e1, e2 (encoders, detents) -> dial, wheel   rel (steps since the last report)
 *   b1..b6 (buttons)           -> button1..6    btn
 * Input report 1 (12 bytes on the wire): id, 4 x uint16 LE, 2 x int8, buttons in bits 0..5.
 */
#ifndef KNOBBOX_HID_REPORT_H
#define KNOBBOX_HID_REPORT_H

#include <stdint.h>

#ifdef __AVR__
#include <avr/pgmspace.h>
#define KNOBBOX_HID_PROGMEM PROGMEM
#else
#define KNOBBOX_HID_PROGMEM
#endif

#define KNOBBOX_HID_REPORT_ID 1
#define KNOBBOX_HID_REPORT_SIZE 11 /* data bytes after the report ID */
#define KNOBBOX_HID_POTS 4
#define KNOBBOX_HID_ENCODERS 2
#define KNOBBOX_HID_BUTTONS 6

static const uint8_t knobbox_hid_descriptor[] KNOBBOX_HID_PROGMEM = {
    0x05, 0x01,        /* Usage Page (Generic Desktop) */
    0x09, 0x05,        /* Usage (Game Pad) */
    0xa1, 0x01,        /* Collection (Application) */
    0x85, 0x01,        /*   Report ID (1) */
    0x15, 0x00,        /*   Logical Minimum (0) */
    0x26, 0xff, 0x03,  /*   Logical Maximum (1023) */
    0x75, 0x10,        /*   Report Size (16) */
    0x95, 0x04,        /*   Report Count (4) */
    0x09, 0x30,        /*   Usage (X)   k1 */
    0x09, 0x31,        /*   Usage (Y)   k2 */
    0x09, 0x32,        /*   Usage (Z)   k3 */
    0x09, 0x33,        /*   Usage (Rx)  k4 */
    0x81, 0x02,        /*   Input (Data,Var,Abs) */
    0x15, 0x81,        /*   Logical Minimum (-127) */
    0x25, 0x7f,        /*   Logical Maximum (127) */
    0x75, 0x08,        /*   Report Size (8) */
    0x95, 0x02,        /*   Report Count (2) */
    0x09, 0x37,        /*   Usage (Dial)  e1 */
    0x09, 0x38,        /*   Usage (Wheel) e2 */
    0x81, 0x06,        /*   Input (Data,Var,Rel) */
    0x05, 0x09,        /*   Usage Page (Button) */
    0x19, 0x01,        /*   Usage Minimum (1) */
    0x29, 0x06,        /*   Usage Maximum (6) */
    0x15, 0x00,        /*   Logical Minimum (0) */
    0x25, 0x01,        /*   Logical Maximum (1) */
    0x75, 0x01,        /*   Report Size (1) */
    0x95, 0x06,        /*   Report Count (6) */
    0x81, 0x02,        /*   Input (Data,Var,Abs)  b1..b6 */
    0x95, 0x02,        /*   Report Count (2) */
    0x81, 0x03,        /*   Input (Const)  padding */
    0xc0,              /* End Collection */
};

/* What the box reads; the firmware fills it, knobbox_hid_pack turns it into a report. */
struct knobbox_hid_state {
  uint16_t pots[KNOBBOX_HID_POTS];     /* 0..1023 */
  int16_t steps[KNOBBOX_HID_ENCODERS]; /* encoder steps not yet reported */
  uint8_t buttons;                     /* bit i: button i+1 is down */
};

/* Fills out[KNOBBOX_HID_REPORT_SIZE] (the data after the ID byte) and takes at most
 * 127 steps per encoder out of state->steps; the rest goes into the next report. */
static inline void knobbox_hid_pack(struct knobbox_hid_state* state, uint8_t* out) {
  for (int i = 0; i < KNOBBOX_HID_POTS; ++i) {
    uint16_t v = state->pots[i] > 1023 ? 1023 : state->pots[i];
    out[2 * i] = (uint8_t)(v & 0xff);
    out[2 * i + 1] = (uint8_t)(v >> 8);
  }
  for (int i = 0; i < KNOBBOX_HID_ENCODERS; ++i) {
    int16_t s = state->steps[i];
    int8_t d = (int8_t)(s > 127 ? 127 : s < -127 ? -127 : s);
    state->steps[i] = (int16_t)(s - d);
    out[8 + i] = (uint8_t)d;
  }
  out[10] = (uint8_t)(state->buttons & 0x3f);
}

#endif
