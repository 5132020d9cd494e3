// knoblink demo: the emulated knob box, the bridge and Blender with the add-on,
// the knobs swept by a script, and what changes in the scene printed.
#pragma once

#include <cstdint>
#include <string>

namespace knoblink {

struct DemoOptions {
  double duration_s = 0;  ///< 0: until Ctrl-C
  bool gui = false;       ///< a Blender window (Xvfb when $DISPLAY is unset)
  std::string config;     ///< the mapping (examples/knobbox.yaml)
  std::string sim;        ///< knoblink-sim
  std::string firmware;   ///< knobbox.elf
  std::string launcher;   ///< scripts/blender-addon
};

/// Runs the demo; returns the exit status (0 only if Blender's scene really changed).
int run_demo(const DemoOptions& options);

}  // namespace knoblink
