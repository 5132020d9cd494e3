#include "bridge/command.hpp"

#include <nlohmann/json.hpp>

namespace knoblink {

std::string_view to_string(Op op) {
  switch (op) {
    case Op::set: return "set";
    case Op::add: return "add";
    case Op::toggle: return "toggle";
    case Op::keyframe: return "keyframe";
    case Op::call: return "call";
    case Op::watch: return "watch";
    case Op::record: return "record";
  }
  return "?";
}

std::uint32_t TargetTable::intern(const std::string& text) {
  if (auto it = index_.find(text); it != index_.end()) return it->second;
  const auto i = size();
  texts_.push_back(text);
  json_.push_back(nlohmann::json(text).dump());
  index_.emplace(text, i);
  return i;
}

std::uint32_t TargetTable::intern_json(const std::string& json_text) {
  const std::string key = "\x01" + json_text;  // never a path's text
  if (auto it = index_.find(key); it != index_.end()) return it->second;
  const auto i = size();
  texts_.push_back(json_text);
  json_.push_back(json_text);
  index_.emplace(key, i);
  return i;
}

std::int64_t TargetTable::find(std::string_view text) const {
  const auto it = index_.find(std::string(text));
  return it == index_.end() ? -1 : it->second;
}

}  // namespace knoblink
