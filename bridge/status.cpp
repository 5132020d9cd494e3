#include "bridge/status.hpp"

#include <algorithm>

namespace knoblink {

void ErrorLog::add(std::string_view text, double at) {
  const auto it = std::find_if(entries_.begin(), entries_.end(), [&](const StatusError& e) { return e.text == text; });
  StatusError e{std::string(text), 1, at};
  if (it != entries_.end()) {
    e.count = it->count + 1;
    entries_.erase(it);
  } else if (entries_.size() == kMax) {
    entries_.erase(entries_.begin());
  }
  entries_.push_back(std::move(e));
}

}  // namespace knoblink
