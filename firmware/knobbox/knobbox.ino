// knoblink example knob box: 4 pots, 2 rotary encoders, 6 buttons, 2 LEDs on
// an Arduino Uno or Nano (ATmega328P, 16 MHz), speaking knoblink's serial
// protocol (Contract 1) at 115200 baud. Wiring: docs/firmware.md.
//
// This file only wires pins. Debouncing, pot hysteresis, quadrature decoding
// and the protocol live in the .h files beside it (no Arduino.h in them), so
// the host tests compile the very same code.

// ---- Pins ---------------------------------------------------------------
const uint8_t kPotPins[] = {A0, A1, A2, A3};         // k1..k4: wiper, ends to 5V and GND
const uint8_t kEncPinA[] = {2, 10};                  // e1, e2: pin A (to GND through the encoder)
const uint8_t kEncPinB[] = {3, 11};                  // e1, e2: pin B; common pin to GND
const uint8_t kButtonPins[] = {4, 5, 6, 7, 8, 9};    // b1..b6: to GND when pressed
const uint8_t kLedPins[] = {12, 13};                 // l1, l2: through 220..1k ohm to GND
const unsigned long kBaud = 115200;
// -------------------------------------------------------------------------

#include <avr/eeprom.h>

#include "knobbox_core.h"
#include "quadrature.h"

static_assert(sizeof kPotPins == knobbox::kPots, "one pin per pot");
static_assert(sizeof kEncPinA == knobbox::kEncoders && sizeof kEncPinB == knobbox::kEncoders,
              "two pins per encoder");
static_assert(sizeof kButtonPins == knobbox::kButtons, "one pin per button");
static_assert(sizeof kLedPins == knobbox::kLeds, "one pin per LED");

struct BoardIo {
  void write(const char* bytes, size_t n) { Serial.write(reinterpret_cast<const uint8_t*>(bytes), n); }
  void set_led(uint8_t i, bool on) { digitalWrite(kLedPins[i], on ? HIGH : LOW); }
};

static BoardIo io;
static knobbox::KnobBox<BoardIo> box(io);

// Encoders are decoded in pin-change interrupts, so no edge is missed while
// loop() waits on the serial port. The ISR only adds to enc_steps; it reads
// the pins through registers and masks looked up once in setup().
struct FastPin {
  volatile uint8_t* reg;
  uint8_t mask;
  void attach(uint8_t pin) {
    reg = portInputRegister(digitalPinToPort(pin));
    mask = digitalPinToBitMask(pin);
  }
  bool read() const { return *reg & mask; }
};
static FastPin enc_a[knobbox::kEncoders], enc_b[knobbox::kEncoders];
static knobbox::QuadratureDecoder decoders[knobbox::kEncoders];
static volatile int16_t enc_steps[knobbox::kEncoders];

static void poll_encoders() {
  for (uint8_t i = 0; i < knobbox::kEncoders; ++i)
    enc_steps[i] += decoders[i].update(enc_a[i].read(), enc_b[i].read());
}

// Any pin-change vector: the encoder pins may sit on any port.
ISR(PCINT0_vect) { poll_encoders(); }
ISR(PCINT1_vect) { poll_encoders(); }
ISR(PCINT2_vect) { poll_encoders(); }

static void enable_pin_change(uint8_t pin) {
  *digitalPinToPCMSK(pin) |= bit(digitalPinToPCMSKbit(pin));
  *digitalPinToPCICR(pin) |= bit(digitalPinToPCICRbit(pin));
}

static void read_inputs(knobbox::Inputs& in) {
  for (uint8_t i = 0; i < knobbox::kPots; ++i) in.pot[i] = analogRead(kPotPins[i]);
  for (uint8_t i = 0; i < knobbox::kButtons; ++i) in.button[i] = digitalRead(kButtonPins[i]) == LOW;
  noInterrupts();
  for (uint8_t i = 0; i < knobbox::kEncoders; ++i) {
    in.enc_steps[i] = enc_steps[i];
    enc_steps[i] = 0;
  }
  interrupts();
}

// The uid is made once from ADC noise and timer jitter, then kept in EEPROM.
static uint32_t load_or_make_uid() {
  uint8_t rec[knobbox::UidRecord::kSize];
  eeprom_read_block(rec, 0, sizeof rec);
  uint32_t uid;
  if (knobbox::UidRecord::decode(rec, &uid)) return uid;
  knobbox::UidMixer mix;
  for (uint8_t round = 0; round < 16; ++round)
    for (uint8_t i = 0; i < knobbox::kPots; ++i) mix.add(analogRead(kPotPins[i]) ^ (micros() << 16));
  uid = mix.value();
  knobbox::UidRecord::encode(uid, rec);
  eeprom_update_block(rec, 0, sizeof rec);
  return uid;
}

void setup() {
  Serial.begin(kBaud);
  for (uint8_t i = 0; i < knobbox::kButtons; ++i) pinMode(kButtonPins[i], INPUT_PULLUP);
  for (uint8_t i = 0; i < knobbox::kLeds; ++i) pinMode(kLedPins[i], OUTPUT);
  for (uint8_t i = 0; i < knobbox::kEncoders; ++i) {
    pinMode(kEncPinA[i], INPUT_PULLUP);
    pinMode(kEncPinB[i], INPUT_PULLUP);
    enc_a[i].attach(kEncPinA[i]);
    enc_b[i].attach(kEncPinB[i]);
    decoders[i].reset(enc_a[i].read(), enc_b[i].read());
    enable_pin_change(kEncPinA[i]);
    enable_pin_change(kEncPinB[i]);
  }
  const uint32_t uid = load_or_make_uid();
  knobbox::Inputs in;
  read_inputs(in);
  box.begin(in, millis(), uid);
}

void loop() {
  knobbox::Inputs in;
  read_inputs(in);
  box.update(in, millis());
  while (Serial.available() > 0) {
    const char c = static_cast<char>(Serial.read());
    box.receive(&c, 1);
  }
}
