// The knob box's logic, without Arduino.h: the sketch reads the pins into an
// Inputs snapshot and calls update(); host bytes go to receive(). Everything
// the host sees is produced here with knoblink_protocol.h, so host tests
// compile this very file. Io is any type with
//   void write(const char* bytes, size_t n);   // to the serial port
//   void set_led(uint8_t index, bool on);      // index 0..kLeds-1
#ifndef KNOBBOX_CORE_H
#define KNOBBOX_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "debouncer.h"
#include "knoblink_protocol.h"
#include "pot_filter.h"

namespace knobbox {

static const uint8_t kPots = 4;
static const uint8_t kEncoders = 2;
static const uint8_t kButtons = 6;
static const uint8_t kLeds = 2;
static const uint16_t kPotMax = 1023;
static const uint8_t kDebounceMs = 5;

/// One reading of every input.
struct Inputs {
  uint16_t pot[kPots];        ///< ADC counts 0..kPotMax
  int16_t enc_steps[kEncoders];  ///< detents turned since the previous update
  bool button[kButtons];      ///< raw level, true = pressed
};

/// EEPROM record holding the box's uid: "KL" then the uid, little-endian.
struct UidRecord {
  static const uint8_t kSize = 6;
  static void encode(uint32_t uid, uint8_t out[kSize]) {
    out[0] = 'K';
    out[1] = 'L';
    for (uint8_t i = 0; i < 4; ++i) out[2 + i] = static_cast<uint8_t>(uid >> (8 * i));
  }
  /// False when the record is blank or foreign (then make a new uid).
  static bool decode(const uint8_t in[kSize], uint32_t* uid) {
    if (in[0] != 'K' || in[1] != 'L') return false;
    uint32_t u = 0;
    for (uint8_t i = 0; i < 4; ++i) u |= static_cast<uint32_t>(in[2 + i]) << (8 * i);
    *uid = u;
    return true;
  }
};

/// Mixes noisy samples (ADC readings, timer values) into a uid (FNV-1a).
class UidMixer {
 public:
  UidMixer() : h_(2166136261u) {}
  void add(uint32_t sample) {
    for (uint8_t i = 0; i < 4; ++i) {
      h_ ^= static_cast<uint8_t>(sample >> (8 * i));
      h_ *= 16777619u;
    }
  }
  /// Never 0 (0 reads as "no uid" to a person).
  uint32_t value() const { return h_ ? h_ : 1; }

 private:
  uint32_t h_;
};

template <class Io>
class KnobBox {
 public:
  explicit KnobBox(Io& io) : io_(io), rx_len_(0), rx_overflow_(false), uid_(0) {
    for (uint8_t i = 0; i < kPots; ++i) pots_[i] = PotFilter(kPotMax);
    for (uint8_t i = 0; i < kButtons; ++i) buttons_[i] = Debouncer(kDebounceMs);
    for (uint8_t i = 0; i < kLeds; ++i) leds_[i] = false;
  }

  /// Takes the first reading as the resting state (sent only as the snapshot),
  /// turns the LEDs off and sends the hello, the description and the snapshot.
  void begin(const Inputs& in, uint32_t now_ms, uint32_t uid) {
    uid_ = uid;
    for (uint8_t i = 0; i < kPots; ++i) pots_[i].reset(in.pot[i]);
    for (uint8_t i = 0; i < kButtons; ++i) buttons_[i].reset(in.button[i], now_ms);
    for (uint8_t i = 0; i < kLeds; ++i) io_.set_led(i, false);
    describe();
  }

  /// Sends an event for every input that changed since the last call.
  void update(const Inputs& in, uint32_t now_ms) {
    char name[4];
    for (uint8_t i = 0; i < kPots; ++i)
      if (pots_[i].update(in.pot[i])) send(control_name(name, 'k', i), pots_[i].value());
    for (uint8_t i = 0; i < kEncoders; ++i)
      if (in.enc_steps[i]) send(control_name(name, 'e', i), in.enc_steps[i]);
    for (uint8_t i = 0; i < kButtons; ++i)
      if (buttons_[i].update(in.button[i], now_ms))
        send(control_name(name, 'b', i), buttons_[i].state() ? 1 : 0);
  }

  /// Feeds bytes from the host; acts on each complete line.
  void receive(const char* bytes, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const char c = bytes[i];
      if (c == '\r') continue;
      if (c != '\n') {
        if (rx_len_ < knoblink_proto::kMaxLine) rx_[rx_len_++] = c;
        else rx_overflow_ = true;
        continue;
      }
      if (rx_overflow_) log("line too long");
      else handle_line();
      rx_len_ = 0;
      rx_overflow_ = false;
    }
  }

  /// Sends "@knoblink 1 knobbox uid=<hex>", one "@ctl" per control, "@end", then the
  /// snapshot: where every pot is and every button's state ("k1 512", "b1 0"; Contract 1
  /// v1.1, docs/firmware.md), so the host knows the positions without a turn.
  void describe() {
    char line[knoblink_proto::kMaxLine + 1];
    char name[4];
    write(line, knoblink_proto::format_hello(line, sizeof line, "knobbox", uid_, 8));
    for (uint8_t i = 0; i < kPots; ++i)
      write(line, knoblink_proto::format_ctl(line, sizeof line, control_name(name, 'k', i), "abs",
                                             true, 0, kPotMax));
    for (uint8_t i = 0; i < kEncoders; ++i)
      write(line, knoblink_proto::format_ctl(line, sizeof line, control_name(name, 'e', i), "rel",
                                             false, 0, 0));
    for (uint8_t i = 0; i < kButtons; ++i)
      write(line, knoblink_proto::format_ctl(line, sizeof line, control_name(name, 'b', i), "btn",
                                             true, 0, 1));
    for (uint8_t i = 0; i < kLeds; ++i)
      write(line, knoblink_proto::format_ctl(line, sizeof line, control_name(name, 'l', i), "out",
                                             true, 0, 1));
    write(line, knoblink_proto::format_end(line, sizeof line));
    for (uint8_t i = 0; i < kPots; ++i) send(control_name(name, 'k', i), pots_[i].value());
    for (uint8_t i = 0; i < kButtons; ++i) send(control_name(name, 'b', i), buttons_[i].state() ? 1 : 0);
  }

  /// The uid given to begin().
  uint32_t uid() const { return uid_; }
  /// The level last set on LED i.
  bool led(uint8_t i) const { return leds_[i]; }

 private:
  /// "k1".."k4", "e1", ...: prefix and 1-based index (fewer than 10 of each).
  static const char* control_name(char* buf, char prefix, uint8_t index) {
    buf[0] = prefix;
    buf[1] = static_cast<char>('1' + index);
    buf[2] = '\0';
    return buf;
  }

  void handle_line() {
    char name[knoblink_proto::kMaxName + 1];
    int32_t value = 0;
    switch (knoblink_proto::parse_host_line(rx_, rx_len_, name, &value)) {
      case knoblink_proto::HostLine::empty:
        return;
      case knoblink_proto::HostLine::query:
        describe();
        return;
      case knoblink_proto::HostLine::set:
        if (name[0] == 'l' && name[1] >= '1' && name[1] < '1' + kLeds && name[2] == '\0') {
          const uint8_t i = static_cast<uint8_t>(name[1] - '1');
          leds_[i] = value != 0;
          io_.set_led(i, leds_[i]);
        } else {
          log("not an output: ", name);
        }
        return;
      case knoblink_proto::HostLine::bad_checksum:
        log("checksum mismatch");
        return;
      case knoblink_proto::HostLine::bad_name:
        log("expected ? or <name> <int>");
        return;
      case knoblink_proto::HostLine::bad_value:
        log("bad value for ", name);
        return;
    }
  }

  void send(const char* name, int32_t value) {
    char line[knoblink_proto::kMaxLine + 1];
    write(line, knoblink_proto::format_event(line, sizeof line, name, value));
  }

  void log(const char* what, const char* detail = "") {
    char line[knoblink_proto::kMaxLine + 1];
    knoblink_proto::LineWriter w(line, sizeof line);
    write(line, w.str("# ").str(what).str(detail).end());
  }

  void write(const char* line, size_t n) {
    if (n) io_.write(line, n);
  }

  Io& io_;
  PotFilter pots_[kPots];
  Debouncer buttons_[kButtons];
  bool leds_[kLeds];
  char rx_[knoblink_proto::kMaxLine];
  size_t rx_len_;
  bool rx_overflow_;
  uint32_t uid_;
};

}  // namespace knobbox

#endif  // KNOBBOX_CORE_H
