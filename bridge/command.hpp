// Scene commands: what the mapping produces and the Blender link sends.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace knoblink {

/// Contract 2 operations the bridge sends.
enum class Op : std::uint8_t { set, add, toggle, keyframe, call, watch, record };

/// "set", "add", ...
std::string_view to_string(Op op);
/// set and add are continuous (coalesced); the rest are discrete (never merged or dropped).
constexpr bool is_discrete(Op op) { return op != Op::set && op != Op::add; }

/// No argument: a set's value is the number; a call has no args.
inline constexpr std::uint32_t kNoArg = 0xffffffffu;

/// One command. target indexes a TargetTable (a data path, or an operator for call);
/// arg, when not kNoArg, indexes it too: a set's enum name, or a call's JSON args object.
/// record has no target: value 1 turns recording on, 0 off (docs/protocol.md, "Record").
struct Command {
  Op op = Op::set;
  std::uint32_t target = 0;
  double value = 0;
  std::uint32_t arg = kNoArg;
  /// When the device read that made it (ControlEvent::t_us); 0: not made by a read (a timer's
  /// rate step or long press, a resend after a reconnect), so not measured (docs/performance.md).
  std::int64_t t_us = 0;
  /// The same command: what it does, whenever it was read (t_us is not compared).
  friend bool operator==(const Command& a, const Command& b) {
    return a.op == b.op && a.target == b.target && a.value == b.value && a.arg == b.arg;
  }
};

/// Receives commands from the mapping: the outbound queue, or a recorder in tests.
class CommandSink {
 public:
  virtual ~CommandSink() = default;
  virtual void push(const Command& command) = 0;
};

/// Every data path and operator a config uses, stored once with its JSON string form,
/// so commands carry an index and serializing them never allocates.
class TargetTable {
 public:
  /// Index of text, adding it when new; json(i) is text as a JSON string.
  std::uint32_t intern(const std::string& text);
  /// Index of a JSON text (an object of call args) kept as it is: text(i) == json(i).
  std::uint32_t intern_json(const std::string& json_text);
  /// Index of text, or -1.
  std::int64_t find(std::string_view text) const;
  const std::string& text(std::uint32_t i) const { return texts_[i]; }
  /// text(i) as a quoted, escaped JSON string.
  const std::string& json(std::uint32_t i) const { return json_[i]; }
  std::uint32_t size() const { return static_cast<std::uint32_t>(texts_.size()); }

 private:
  std::vector<std::string> texts_, json_;
  std::unordered_map<std::string, std::uint32_t> index_;
};

}  // namespace knoblink
