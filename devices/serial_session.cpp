#include "devices/serial_session.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <type_traits>
#include <variant>

namespace knoblink {

namespace {
std::string hex(std::uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%" PRIx64, v);
  return buf;
}
}  // namespace

std::optional<std::uint64_t> parse_uid(std::string_view text) { return parse_hex(text, 16); }

SerialSession::SerialSession(std::uint16_t device, std::string label, std::optional<std::uint64_t> want_uid,
                             EventSink& sink)
    : device_(device), label_(std::move(label)), want_uid_(want_uid), sink_(sink) {}

void SerialSession::open(std::string path, std::string_view backend, bool probing) {
  decoder_.reset();
  controls_.clear();
  snapshot_due_.clear();
  uid_.clear();
  path_ = std::move(path);
  backend_ = backend;
  state_ = probing ? State::probing : State::connected;
  if (!probing) {
    sink_.on_notice(device_, Severity::info, label_ + ": opened " + path_ + " (" + backend_ + ")");
    sink_.on_connection(device_, true);
  }
}

SerialSession::State SerialSession::feed(std::string_view bytes, std::int64_t now_us) {
  decoder_.feed(bytes, [&](const DecodedLine& l) {
    if (state_ == State::probing || state_ == State::connected) on_line(l, now_us);
  });
  return state_;
}

bool SerialSession::lost(std::string_view why) {
  const bool was = state_ == State::connected;
  if (was && decoder_.pending())
    sink_.on_notice(device_, Severity::warning, label_ + ": a partial line was cut off by the disconnect");
  if (was) {
    sink_.on_notice(device_, Severity::warning, label_ + ": lost " + path_ + ": " + std::string(why) + "; reopening");
    sink_.on_connection(device_, false);
  }
  close();
  return was;
}

void SerialSession::close() {
  decoder_.reset();
  snapshot_due_.clear();
  state_ = State::closed;
  path_.clear();
}

ControlKind SerialSession::kind_of(const Name& control) const {
  for (const auto& c : controls_)
    if (c.name == control) return c.kind;
  return ControlKind::unknown;
}

bool SerialSession::take_snapshot(const Name& control, std::int64_t now_us) {
  if (snapshot_due_.empty()) return false;
  const auto it = std::find(snapshot_due_.begin(), snapshot_due_.end(), control);
  const auto kind = kind_of(control);  // described again since @end: maybe no longer a position
  if (it == snapshot_due_.end() || now_us > snapshot_until_us_ || (kind != ControlKind::abs && kind != ControlKind::btn)) {
    snapshot_due_.clear();  // anything else ends the snapshot: from here on values are movements
    return false;
  }
  snapshot_due_.erase(it);
  return true;
}

std::string SerialSession::where() const { return label_ + " (" + path_ + ")"; }

void SerialSession::on_hello(const HelloLine& l) {
  uid_ = std::string(l.uid);
  const auto uid = parse_uid(l.uid);
  const bool uid_fits = !want_uid_ || (uid && *uid == *want_uid_);
  const std::string says = std::string(l.device) + (l.uid.empty() ? std::string() : " uid=" + std::string(l.uid));
  if (state_ == State::probing) {
    if (!uid_fits) {
      state_ = State::rejected;
      sink_.on_notice(device_, Severity::debug,
                      label_ + ": skipped " + path_ + ": it is " + says + ", not uid=" + hex(*want_uid_) +
                          "; left for other devices");
      return;
    }
    state_ = State::connected;
    sink_.on_notice(device_, Severity::info,
                    label_ + ": found " + std::string(l.device) + " on " + path_ + " (" + backend_ + ")");
    sink_.on_connection(device_, true);
  } else if (!uid_fits) {
    sink_.on_notice(device_, Severity::warning,
                    label_ + ": the device on " + path_ + " is " + says + ", not uid=" + hex(*want_uid_) +
                        "; using it, since port: names the path (port: auto takes only the uid given)");
  }
  if (l.version > knoblink_proto::kVersion) {
    sink_.on_notice(device_, Severity::error,
                    label_ + ": the device on " + path_ + " speaks knoblink protocol v" + std::to_string(l.version) +
                        "; this knoblink speaks v" + std::to_string(knoblink_proto::kVersion) +
                        ": update knoblink (lines it understands are still used)");
  }
  sink_.on_notice(device_, Severity::debug, label_ + ": hello from " + says);
}

void SerialSession::on_line(const DecodedLine& line, std::int64_t now_us) {
  if (const auto* hello = std::get_if<HelloLine>(&line)) return on_hello(*hello);
  if (state_ != State::connected) return;  // not ours until it says hello
  std::visit(
      [&](const auto& l) {
        using T = std::decay_t<decltype(l)>;
        if constexpr (std::is_same_v<T, CtlLine>) {
          bool known = false;
          for (auto& c : controls_)
            if (c.name == l.name) {
              c.kind = l.kind;
              known = true;
            }
          if (!known) controls_.push_back({l.name, l.kind});
          sink_.on_control(device_, l);
        } else if constexpr (std::is_same_v<T, EndLine>) {
          sink_.on_notice(device_, Severity::debug,
                          label_ + ": described " + std::to_string(controls_.size()) + " controls");
          // What follows at once is the snapshot: one value per abs and btn control.
          snapshot_due_.clear();
          for (const auto& c : controls_)
            if (c.kind == ControlKind::abs || c.kind == ControlKind::btn) snapshot_due_.push_back(c.name);
          snapshot_until_us_ = now_us + kSnapshotWindowUs;
        } else if constexpr (std::is_same_v<T, EventLine>) {
          ControlEvent e;
          e.device = device_;
          e.control = l.name;
          e.value = l.value;
          e.t_us = now_us;
          e.kind = kind_of(l.name);
          e.snapshot = take_snapshot(l.name, now_us);
          sink_.on_event(e);
        } else if constexpr (std::is_same_v<T, LogLine>) {
          sink_.on_notice(device_, Severity::info, label_ + " says: " + std::string(l.text));
        } else if constexpr (std::is_same_v<T, BadLine>) {
          sink_.on_malformed(device_, where() + ": skipped a line: " + std::string(l.reason) + ": \"" +
                                          escape_bytes(l.bytes) + "\"" + (l.length > l.bytes.size() ? "..." : ""));
        }
      },
      line);
}

}  // namespace knoblink
