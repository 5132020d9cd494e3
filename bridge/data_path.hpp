// The data-path and operator-name grammar of Contract 2 (docs/protocol.md, "Data paths"),
// the same rules the add-on applies (addon/knoblink/protocol.py parse_path): both sides
// are checked against the shared fixtures in tests/data/contract2/. Pure, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace knoblink {

/// The context attributes a path may start from (context.<attr> or bpy.context.<attr>).
inline constexpr std::string_view kContextRoots[] = {
    "scene", "view_layer", "active_object", "object", "active_bone", "active_pose_bone", "tool_settings",
    "window_manager"};

/// The context lists a path fans out over with [*] (context.selected_objects[*].location[0]):
/// the add-on writes each element (docs/protocol.md, "Selections").
inline constexpr std::string_view kSelectionRoots[] = {"selected_objects", "selected_pose_bones"};

/// One step after the root: .attr, [index] or ["key"] (key unescaped).
struct PathSegment {
  enum class Kind { attr, index, key };
  Kind kind = Kind::attr;
  std::string text;  ///< the attribute, the key, or the index's decimal digits
  friend bool operator==(const PathSegment&, const PathSegment&) = default;
};

/// A parsed data path: bpy.data.<collection>["<name>"(, "<library>")], context.<attr> or
/// context.<selection>[*], then segments ending in a property (prop, prop[index] or ["custom key"]).
struct DataPath {
  bool context = false;     ///< a context root (context_attr) rather than bpy.data
  bool fan_out = false;     ///< context.<selection>[*]: every selected element (context_attr is the list)
  std::string collection;   ///< bpy.data root: "objects"
  std::string name;         ///< bpy.data root: "Cube"
  std::optional<std::string> library;  ///< bpy.data root: ["Cube", "lib.blend"]
  std::string context_attr; ///< context root: "active_object"
  std::vector<PathSegment> segments;
};

/// A path, or why it is not one (the add-on's bad_path message, word for word where it matters).
struct DataPathResult {
  std::optional<DataPath> path;
  std::string error;
};

/// Parses a Contract 2 data path.
DataPathResult parse_data_path(std::string_view text);

/// An operator id as `call` takes it: [a-z][a-z0-9_]*.[a-z][a-z0-9_]* (screen.animation_play).
bool is_operator_name(std::string_view text);

}  // namespace knoblink
