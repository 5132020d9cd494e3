// The mapping file (docs/mapping.md), parsed and validated once into a
// checked structure. Every problem is reported as
// "file:line:col: what is wrong; what is allowed".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "devices/control_event.hpp"
#include "devices/hid/hid_config.hpp"
#include "devices/serial_config.hpp"

namespace knoblink {

/// Where the Blender add-on listens.
struct BlenderConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9876;
  std::string token;  ///< sent in the hello; required by the add-on off loopback
};

/// One device kind's settings: the key under the device (serial:, hid:). One
/// alternative per kind; bridge/devices.cpp makes the source for each.
using DeviceKindConfig = std::variant<SerialConfig, HidConfig>;

struct DeviceConfig {
  std::string name;  ///< the key under devices:, e.g. "box"
  DeviceKindConfig kind;
  int line = 0;  ///< where it was declared (1-based), for messages
};

/// A control named in the file: "<device>.<control>".
struct ControlRef {
  std::uint16_t device = 0;  ///< index into Config::devices
  Name control;
};

/// What a button press or release does.
struct Action {
  enum class Kind : std::uint8_t { none, call, keyframe, toggle, set };
  Kind kind = Kind::none;
  std::string target;  ///< data path, or the operator for call
  double value = 0;    ///< for set
};

/// One entry of mappings:.
struct Mapping {
  enum class Kind : std::uint8_t { set, add, button, watch };
  Kind kind = Kind::set;
  ControlRef control;
  std::string path;  ///< set/add target; for watch the watched path
  // set: raw [from0, from1] -> [to0, to1], linear; reversed ranges invert.
  std::optional<double> from0, from1;  ///< raw input range; default: the device's described range, else 0..1023
  double to0 = 0, to1 = 1;
  std::int32_t deadband = 0;  ///< raw changes smaller than this are ignored
  /// takeover: pickup. After the value changed in Blender (the UI, undo), the knob does
  /// nothing until it passes the value, instead of making it jump.
  bool pickup = false;
  // add:
  double step = 1;
  // button:
  Action press, release;
  // feedback: an output control driven by the watched value of watch_path (value != 0 -> 1)
  std::optional<ControlRef> led;
  std::string watch_path;
  int line = 0;
};

struct Config {
  std::string file;
  BlenderConfig blender;
  std::vector<DeviceConfig> devices;
  std::vector<Mapping> mappings;

  /// Index of a device by name, or -1.
  int device_index(std::string_view name) const;
};

/// Result of loading: a config, or the list of problems (never both).
struct LoadResult {
  std::optional<Config> config;
  std::vector<std::string> errors;
};

/// Reads, parses and validates a mapping file.
LoadResult load_config_file(const std::string& path);
/// Parses and validates YAML text; file is used in messages only.
LoadResult load_config_text(const std::string& text, const std::string& file);

/// True when p looks like a data path the add-on accepts:
/// bpy.data.<collection>["<name>"]... or context.<attr>..., no leading underscores.
/// On false, why says what is wrong.
bool check_data_path(const std::string& p, std::string& why);

}  // namespace knoblink
