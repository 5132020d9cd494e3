#include "devices/midi/midi_decoder.hpp"

#include <algorithm>

namespace knoblink::midi {

CcModes::CcModes(const MidiConfig& config) : CcModes() {
  for (const auto& [name, encoding] : config.encodings) {
    const auto id = parse_midi_control(name);
    if (!id || id->type != MidiControlId::Type::cc) continue;
    modes_[(id->channel - 1) * 128 + id->number] = encoding == MidiEncoding::twos     ? CcMode::twos
                                                   : encoding == MidiEncoding::offset ? CcMode::offset
                                                                                      : CcMode::sign;
  }
  for (const auto& name : config.fourteen_bit) {
    const auto id = parse_midi_control(name);
    if (!id || id->type != MidiControlId::Type::cc || id->number > 31) continue;
    modes_[(id->channel - 1) * 128 + id->number] = CcMode::msb14;
    modes_[(id->channel - 1) * 128 + id->number + 32] = CcMode::lsb14;
  }
}

namespace {

/// Data bytes a status byte takes (system common included; F6, F4, F5 take none).
int data_length(std::uint8_t status) {
  switch (status & 0xF0) {
    case 0xC0:
    case 0xD0: return 1;
    case 0xF0: return status == 0xF2 ? 2 : (status == 0xF1 || status == 0xF3) ? 1 : 0;
    default: return 2;
  }
}

std::size_t put_number(int v, char* p) {
  char tmp[4];
  std::size_t n = 0;
  do tmp[n++] = static_cast<char>('0' + v % 10), v /= 10;
  while (v);
  for (std::size_t i = 0; i < n; ++i) p[i] = tmp[n - 1 - i];
  return n;
}

std::uint8_t u7(std::int32_t v) { return static_cast<std::uint8_t>(std::clamp(v, 0, 127)); }

}  // namespace

std::size_t format_control(const MidiControlId& id, char* buf) {
  using T = MidiControlId::Type;
  static constexpr std::string_view prefix[] = {"cc", "note", "vel", "pb"};
  const auto p = prefix[static_cast<int>(id.type)];
  std::copy(p.begin(), p.end(), buf);
  std::size_t n = p.size() + put_number(id.channel, buf + p.size());
  if (id.type == T::pb) return n;
  buf[n++] = '_';
  return n + put_number(id.number, buf + n);
}

void Decoder::reset() {
  status_ = 0;
  have_ = 0;
  in_sysex_ = false;
  msb_.fill(0);
  described_.reset();
}

void Decoder::feed(std::span<const std::uint8_t> bytes, std::int64_t now_us, EventSink& sink) {
  for (const std::uint8_t b : bytes) {
    if (b >= 0xF8) {  // real-time: anywhere, running status untouched
      ++stats_.skipped;
      continue;
    }
    if (b == 0xF0) {
      in_sysex_ = true;
      status_ = 0;
      continue;
    }
    if (b == 0xF7) {
      if (in_sysex_) ++stats_.sysex;
      else ++stats_.skipped;
      in_sysex_ = false;
      continue;
    }
    if (b & 0x80) {
      if (in_sysex_) ++stats_.sysex;  // a SysEx cut short by a new status
      in_sysex_ = false;
      if (have_ > 0 || (status_ >= 0xF0)) ++stats_.skipped;  // an unfinished message
      have_ = 0;
      status_ = b;
      if (b >= 0xF0 && data_length(b) == 0) {  // F4, F5, F6: nothing follows
        ++stats_.skipped;
        status_ = 0;
      }
      continue;
    }
    if (in_sysex_) continue;
    if (status_ == 0) {
      ++stats_.skipped;
      continue;
    }
    data_[have_++] = b;
    if (have_ < data_length(status_)) continue;
    have_ = 0;
    if (status_ >= 0xF0) {  // system common: skipped, ends running status
      ++stats_.skipped;
      status_ = 0;
      continue;
    }
    dispatch(now_us, sink);
  }
}

void Decoder::emit(MidiControlId id, ControlKind kind, std::int32_t value, std::int64_t now_us, EventSink& sink) {
  char buf[Name::capacity];
  const auto name = Name::unchecked({buf, format_control(id, buf)});
  const std::size_t bit = (static_cast<std::size_t>(id.type) * 16 + (id.channel - 1)) * 128 + id.number;
  if (!described_[bit]) {
    described_[bit] = true;
    ControlInfo info{name, kind, false, 0, 0};
    if (kind == ControlKind::abs) {
      info.has_range = true;
      info.max = id.type == MidiControlId::Type::pb || modes_.at(id.channel - 1, id.number) == CcMode::msb14 ? 16383 : 127;
    }
    sink.on_control(device_, info);
  }
  sink.on_event({device_, name, kind, value, now_us});
}

void Decoder::dispatch(std::int64_t now_us, EventSink& sink) {
  using T = MidiControlId::Type;
  const auto ch = static_cast<std::uint8_t>((status_ & 0x0F) + 1);
  const std::uint8_t d0 = data_[0], d1 = data_[1];
  switch (status_ & 0xF0) {
    case 0x80:
    case 0x90: {
      const bool on = (status_ & 0xF0) == 0x90 && d1 > 0;
      emit({T::vel, ch, d0}, ControlKind::abs, on ? d1 : 0, now_us, sink);
      emit({T::note, ch, d0}, ControlKind::btn, on ? 1 : 0, now_us, sink);
      break;
    }
    case 0xB0: {
      const auto mode = modes_.at(ch - 1, d0);
      const int v = d1;
      switch (mode) {
        case CcMode::plain: emit({T::cc, ch, d0}, ControlKind::abs, v, now_us, sink); break;
        case CcMode::twos:
        case CcMode::offset:
        case CcMode::sign: {
          const int delta = mode == CcMode::twos ? (v < 64 ? v : v - 128)
                            : mode == CcMode::offset ? v - 64
                                                     : (v & 0x40 ? -(v & 0x3F) : v);
          if (delta == 0) {
            ++stats_.skipped;
            return;
          }
          emit({T::cc, ch, d0}, ControlKind::rel, delta, now_us, sink);
          break;
        }
        case CcMode::msb14:
          msb_[(ch - 1) * 32 + d0] = d1;  // a new MSB resets the LSB to 0 (MIDI 1.0)
          emit({T::cc, ch, d0}, ControlKind::abs, v << 7, now_us, sink);
          break;
        case CcMode::lsb14: {
          const std::uint8_t msb_cc = static_cast<std::uint8_t>(d0 - 32);
          emit({T::cc, ch, msb_cc}, ControlKind::abs, (msb_[(ch - 1) * 32 + msb_cc] << 7) | v, now_us, sink);
          break;
        }
      }
      break;
    }
    case 0xE0: emit({T::pb, ch, 0}, ControlKind::abs, d0 | (d1 << 7), now_us, sink); break;
    default:  // 0xA0 poly aftertouch, 0xC0 program change, 0xD0 channel pressure
      ++stats_.skipped;
      return;
  }
  ++stats_.messages;
}

std::size_t encode_output(const MidiControlId& id, bool fourteen_bit, std::int32_t value, std::uint8_t out[6]) {
  using T = MidiControlId::Type;
  const auto ch = static_cast<std::uint8_t>(id.channel - 1);
  switch (id.type) {
    case T::cc:
      if (fourteen_bit && id.number < 32) {
        const int v = std::clamp(value, 0, 16383);
        out[0] = 0xB0 | ch, out[1] = id.number, out[2] = static_cast<std::uint8_t>(v >> 7);
        out[3] = 0xB0 | ch, out[4] = static_cast<std::uint8_t>(id.number + 32), out[5] = static_cast<std::uint8_t>(v & 0x7F);
        return 6;
      }
      out[0] = 0xB0 | ch, out[1] = id.number, out[2] = value == 1 ? 127 : u7(value);  // led: on = 127
      return 3;
    case T::note:
      if (value <= 0) {
        out[0] = 0x80 | ch, out[1] = id.number, out[2] = 0;
      } else {
        out[0] = 0x90 | ch, out[1] = id.number, out[2] = value == 1 ? 127 : u7(value);
      }
      return 3;
    case T::pb: {
      const int v = std::clamp(value, 0, 16383);
      out[0] = 0xE0 | ch, out[1] = static_cast<std::uint8_t>(v & 0x7F), out[2] = static_cast<std::uint8_t>(v >> 7);
      return 3;
    }
    case T::vel: return 0;
  }
  return 0;
}

}  // namespace knoblink::midi
