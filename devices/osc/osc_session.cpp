#include "devices/osc/osc_session.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "devices/osc/osc_codec.hpp"

namespace knoblink::osc {

namespace {
constexpr std::size_t kMaxTold = 64;  // what is remembered to tell once stays bounded under a flood
constexpr char kBundle[8] = {'#', 'b', 'u', 'n', 'd', 'l', 'e', '\0'};

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
}  // namespace

std::string suggest_name(const std::string& address) {
  auto last = address.substr(address.find_last_of('/') == std::string::npos ? 0 : address.find_last_of('/') + 1);
  std::string out;
  for (char c : last) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out += (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_';
  }
  if (out.empty() || !(out[0] >= 'a' && out[0] <= 'z')) out = "c" + out;
  out.resize(std::min<std::size_t>(out.size(), Name::capacity));
  return out;
}

Session::Session(std::uint16_t device, OscConfig config, std::string label)
    : device_(device), config_(std::move(config)), label_(std::move(label)) {
  for (const auto& c : config_.controls) names_.push_back(Name::unchecked(c.name));
}

void Session::describe(EventSink& sink) const {
  for (std::size_t i = 0; i < config_.controls.size(); ++i) {
    const auto& c = config_.controls[i];
    ControlInfo info{names_[i], c.kind, c.kind == ControlKind::abs, 0, c.kind == ControlKind::abs ? kOscSteps : 0};
    sink.on_control(device_, info);
  }
}

void Session::feed(std::span<const std::uint8_t> packet, const std::string& sender, std::int64_t now_us,
                   EventSink& sink) {
  element(packet, sender, now_us, sink, 0);
}

void Session::not_osc(const std::string& sender, const std::string& why, std::span<const std::uint8_t> bytes,
                      EventSink& sink) {
  ++stats_.not_osc;
  if (told_senders_.size() >= kMaxTold || !told_senders_.insert(sender).second) return;
  const std::string_view shown(reinterpret_cast<const char*>(bytes.data()), std::min<std::size_t>(bytes.size(), 32));
  sink.on_malformed(device_, label_ + ": dropped a packet from " + sender + " that is not OSC (" + why + "): \"" +
                                 escape_bytes(shown) + (bytes.size() > 32 ? "...\"" : "\"") +
                                 "; told once per sender");
}

void Session::element(std::span<const std::uint8_t> bytes, const std::string& sender, std::int64_t now_us,
                      EventSink& sink, int depth) {
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kBundle, 8) == 0) {
    if (bytes.size() < 16 || bytes.size() % 4 != 0 || depth > 8) {
      not_osc(sender, "a bundle cut short or nested too deep", bytes, sink);
      return;
    }
    for (std::size_t at = 16; at < bytes.size();) {  // after "#bundle\0" and the 8-byte time tag
      if (at + 4 > bytes.size()) return not_osc(sender, "a bundle element cut short", bytes, sink);
      const std::uint32_t n = be32(bytes.data() + at);
      if (n % 4 != 0 || at + 4 + n > bytes.size()) return not_osc(sender, "a bundle element cut short", bytes, sink);
      element(bytes.subspan(at + 4, n), sender, now_us, sink, depth + 1);
      at += 4 + n;
    }
    return;
  }
  Message m;
  std::string error;
  if (!decode_message(bytes, m, error)) return not_osc(sender, error, bytes, sink);
  const auto it = std::find_if(config_.controls.begin(), config_.controls.end(),
                               [&](const OscControl& c) { return c.address == m.address; });
  if (it == config_.controls.end() || !m.value) {
    ++stats_.unknown;
    if (told_addresses_.size() >= kMaxTold || !told_addresses_.insert(m.address).second) return;
    if (it == config_.controls.end())
      sink.on_notice(device_, Severity::info,
                     label_ + ": " + sender + " sent " + m.address + ", which no control names; to use it add under " +
                         "osc: controls: " + suggest_name(m.address) + ": \"" + m.address + "\" (told once per address)");
    else
      sink.on_notice(device_, Severity::warning,
                     label_ + ": " + sender + " sent " + m.address + " without a number; skipped (told once per address)");
    return;
  }
  const auto i = static_cast<std::size_t>(it - config_.controls.begin());
  const double unit = it->hi == it->lo ? 0 : std::clamp((*m.value - it->lo) / (it->hi - it->lo), 0.0, 1.0);
  const std::int32_t value = it->kind == ControlKind::btn ? (unit >= 0.5 ? 1 : 0)
                                                          : static_cast<std::int32_t>(std::lround(unit * kOscSteps));
  ++stats_.messages;
  sink.on_event({device_, names_[i], it->kind, value, now_us});
}

bool Session::encode_output(std::string_view control, std::int32_t value, std::vector<std::uint8_t>& out,
                            std::string& error) const {
  const auto it = std::find_if(config_.controls.begin(), config_.controls.end(),
                               [&](const OscControl& c) { return c.name == control; });
  if (it == config_.controls.end()) {
    error = "'" + std::string(control) + "' is not one of " + label_ + "'s OSC controls";
    return false;
  }
  const double unit = it->kind == ControlKind::btn ? (value != 0 ? 1.0 : 0.0)
                                                   : std::clamp(value, 0, kOscSteps) / double(kOscSteps);
  return encode_float(it->address, static_cast<float>(it->lo + unit * (it->hi - it->lo)), out, error);
}

}  // namespace knoblink::osc
