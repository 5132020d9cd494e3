// Contract 2's data-path and operator-name grammar (bridge/data_path.hpp) on arbitrary text:
// a path or an error, never both; a parsed path has its root and ends in a property; the
// result is the same on a second call; an operator id never holds brackets or quotes.
#include <string>

#include "bridge/data_path.hpp"
#include "fuzz_split.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const knoblink::DataPathResult r = knoblink::parse_data_path(text);
  KNOBLINK_FUZZ_CHECK(r.path.has_value() == r.error.empty());
  if (r.path) {
    const knoblink::DataPath& p = *r.path;
    if (p.context) {
      KNOBLINK_FUZZ_CHECK(!p.context_attr.empty());
    } else {
      KNOBLINK_FUZZ_CHECK(!p.collection.empty());
    }
    KNOBLINK_FUZZ_CHECK(!p.segments.empty());
    // [*] only right after a selection root, and never in a segment.
    if (p.fan_out) KNOBLINK_FUZZ_CHECK(p.context && (p.context_attr == "selected_objects" ||
                                                     p.context_attr == "selected_pose_bones"));
    for (const auto& seg : p.segments)
      KNOBLINK_FUZZ_CHECK(seg.kind != knoblink::PathSegment::Kind::attr || seg.text != "*");
    KNOBLINK_FUZZ_CHECK(p.segments.back().kind != knoblink::PathSegment::Kind::index || p.segments.size() >= 2);
    const knoblink::DataPathResult again = knoblink::parse_data_path(text);
    KNOBLINK_FUZZ_CHECK(again.path.has_value() && again.path->segments == p.segments &&
                        again.path->collection == p.collection && again.path->name == p.name &&
                        again.path->library == p.library && again.path->context_attr == p.context_attr &&
                        again.path->fan_out == p.fan_out);
  }
  // An operator id has no brackets or quotes: nothing is both a bracketed path and an operator.
  if (knoblink::is_operator_name(text)) KNOBLINK_FUZZ_CHECK(text.find_first_of("[]\"'") == std::string_view::npos);
  return 0;
}
