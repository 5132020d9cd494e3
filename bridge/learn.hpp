// Learn (docs/protocol.md, "Learn and forget"; docs/mapping.md, "Learned mappings"): Blender
// asks for a property, the next control touched within 15 s is mapped to it. The waiting and
// what counts as a touch (Learner), and the mapping a touch makes (learned_mapping), are pure:
// events and times in, a decision out. save_edit is the one I/O step: the mapping file
// replaced atomically, or the reason it cannot be.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/mapping_edit.hpp"
#include "devices/control_event.hpp"

namespace knoblink {

/// The target property's type, as the learn event names it.
enum class LearnKind : std::uint8_t { float_, int_, boolean, enum_ };
/// "FLOAT" | "INT" | "BOOLEAN" | "ENUM".
std::optional<LearnKind> parse_learn_kind(std::string_view text);

/// {"ev":"learn","path":P,"kind":K,"min":lo,"max":hi} from the add-on.
struct LearnRequest {
  std::string path;
  LearnKind kind = LearnKind::float_;
  double lo = 0, hi = 1;  ///< the property's soft range (the add-on's choice for unbounded ones)
};

/// A control touched while a learn waited.
struct Touched {
  std::uint16_t device = 0;
  Name control;
  ControlKind kind = ControlKind::unknown;
};

/// Waits for one control to be touched (docs/protocol.md, "Learn and forget"). A touch is a
/// real move: a button pressed, an encoder step, or a knob moved by at least 1% of its range
/// (at least 2 steps) from the first value it sent after the learn started (that first value
/// is only its position, like a snapshot; jitter is not a touch).
class Learner {
 public:
  static constexpr std::int64_t kTimeoutUs = 15'000'000;
  /// Starts waiting until now_us + kTimeoutUs; returns the request it replaces, if one waited.
  std::optional<LearnRequest> start(LearnRequest request, std::int64_t now_us);
  bool waiting() const { return pending_.has_value(); }
  /// The waiting request and the control when e is a touch (then nothing waits any more).
  /// range: the control's described range, when it has one.
  std::optional<std::pair<LearnRequest, Touched>> on_event(const ControlEvent& e, ControlKind kind,
                                                           std::optional<std::pair<std::int32_t, std::int32_t>> range);
  /// The waiting request when its time is up at now_us (then nothing waits any more).
  std::optional<LearnRequest> expire(std::int64_t now_us);
  /// When the waiting request times out.
  std::optional<std::int64_t> deadline() const;

 private:
  struct Position {
    std::uint16_t device;
    Name control;
    std::int32_t value;
  };
  std::optional<LearnRequest> pending_;
  std::int64_t deadline_us_ = 0;
  std::vector<Position> positions_;  ///< knobs' first values since the learn started
};

/// What a touched control becomes (docs/mapping.md, "Learned mappings"): the entry to append,
/// the kind of mapping ("set", "add", "toggle", "keyframe") or why none fits.
struct LearnedMapping {
  mapping_edit::Entry entry;
  std::string what;
  std::string error;
};

/// abs -> set over lo..hi; rel -> add, step (hi - lo) / 100 for a float, 1 for an int;
/// btn -> press: toggle for a bool, press: keyframe otherwise. control: "box.k2".
LearnedMapping learned_mapping(const LearnRequest& request, const std::string& control, ControlKind kind);

/// Number text for YAML: the shortest that reads back as v ("0.2", "-10").
std::string yaml_number(double v);

/// Replaces file by edit(its text), atomically (a temporary file in its folder, its mode
/// kept, renamed over it; a symlink's target is replaced). expected: the text the caller
/// last loaded or wrote; a file that differs (edited, not reloaded) is left alone. Returns
/// "" or the reason nothing was written: moved or deleted, read-only (no write bit, even for
/// root), changed, edit's own error, a failed write. On success *written is the new text.
std::string save_edit(const std::string& file, const std::string& expected,
                      const std::function<std::optional<std::string>(const std::string&, std::string&)>& edit,
                      std::string* written);

}  // namespace knoblink
