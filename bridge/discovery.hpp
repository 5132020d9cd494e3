// Finding Blender without configuration (docs/protocol.md, "Discovery and token"): each
// running add-on writes <run>/knoblink/blender-<port>.json (0600 in a 0700 folder) with
// its port and token; the bridge reads them, skips the ones whose Blender is gone, and
// picks one: the only one, the one whose open file matches `blender: {file: ...}`, else
// the most recently started.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/config.hpp"

namespace knoblink {

/// One running Blender, as its discovery file says.
struct BlenderInstance {
  std::uint16_t port = 0;
  std::string token;
  long pid = 0;
  std::string blender;  ///< its version, "3.4.1"
  std::string file;     ///< the open .blend, empty when unsaved
  double started = 0;   ///< unix seconds
  std::string path;     ///< the discovery file
};

/// <run>/knoblink: <run> = $XDG_RUNTIME_DIR when set and not empty, else $HOME/.cache.
std::string discovery_dir();

/// Reads one discovery file's text; nullopt (and why) when it is not one.
std::optional<BlenderInstance> parse_discovery(std::string_view text, const std::string& path, std::string& why);

/// Every live Blender in dir (files of dead processes are skipped; unreadable or broken
/// files are skipped and named in problems, with the reason).
std::vector<BlenderInstance> find_blenders(const std::string& dir, std::vector<std::string>& problems);

/// The Blender to use among found: with file_filter non-empty, the newest whose file
/// contains it (none: nullopt); else the newest. why says which and why, for the log.
std::optional<BlenderInstance> choose_blender(const std::vector<BlenderInstance>& found, std::string_view file_filter,
                                              std::string& why);

/// Where to connect for cfg.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string token;
  std::string via;  ///< how it was found, for the log ("Blender 3.4.1 (pid 12, port 9876, /a.blend)")
};

/// With a port in cfg: that port, with cfg's token, else the token of that port's discovery
/// file (loopback only). Without: the Blender choose_blender picks among the running ones.
/// nullopt (and why) when there is none to connect to yet.
std::optional<Endpoint> locate_blender(const BlenderConfig& cfg, std::string& why);

}  // namespace knoblink
