// The mapping file: the docs/mapping.md example loads; every bad file names file:line:col.
#include <catch2/catch.hpp>

#include "bridge/config.hpp"

using namespace knoblink;

namespace {
const char* kDesignExample = R"(blender: {host: 127.0.0.1, port: 9876}
devices:
  box:
    serial: {port: auto, match: "2341:0043", baud: 115200}   # or port: /dev/ttyACM0
mappings:
  - control: box.k1
    set: context.active_object.rotation_euler[2]
    to: [0, 6.2832]
  - control: box.k2
    set: 'bpy.data.objects["Cube"].location[0]'             # pasted from Copy Full Data Path
    to: [-2, 2]
  - control: box.e1
    add: context.scene.frame_current
    step: 1
  - control: box.b1
    press: {call: screen.animation_play}
  - control: box.b2
    press: {keyframe: context.active_object.location}
    led: box.l2
)";

std::vector<std::string> errors_of(const std::string& yaml) {
  return load_config_text(yaml, "m.yaml").errors;
}
}  // namespace

TEST_CASE("the docs/mapping.md example loads into a checked structure") {
  auto r = load_config_text(kDesignExample, "example.yaml");
  REQUIRE(r.errors.empty());
  const Config& c = *r.config;
  CHECK(c.blender.port == 9876);
  REQUIRE(c.devices.size() == 1);
  CHECK(std::get<SerialConfig>(c.devices[0].kind).match == "2341:0043");
  REQUIRE(c.mappings.size() == 5);
  REQUIRE(c.mappings[0].as<SetMapping>());
  CHECK(c.mappings[0].as<SetMapping>()->to1 == Approx(6.2832));
  CHECK(c.mappings[1].path() == R"(bpy.data.objects["Cube"].location[0])");
  CHECK(c.mappings[2].as<AddMapping>());
  REQUIRE(c.mappings[3].as<ButtonMapping>());
  CHECK(c.mappings[3].as<ButtonMapping>()->press.kind == Action::Kind::call);
  CHECK(c.mappings[3].as<ButtonMapping>()->press.target == "screen.animation_play");
  CHECK(c.mappings[4].led->control.view() == "l2");
  CHECK(c.mappings[4].watch_path == "context.active_object.location");
}

TEST_CASE("errors name file, line and column, what is wrong and what is allowed") {
  const auto e = errors_of(R"(devices:
  box:
    serial: {port: auto}
mappings:
  - control: box.k1
    sett: context.scene.frame_current
)");
  REQUIRE(e.size() >= 1);
  CHECK(e[0] == "m.yaml:6:5: unknown key 'sett' in a mapping; allowed keys: control, layer, led, watch, set, to, "
                "from, curve, deadband, takeover, add, step, accel, encoding, rate, speed, deadzone, press, release, "
                "long, long_ms");
}

TEST_CASE("a bare data path inside flow style is a YAML syntax error with a hint") {
  const auto e = errors_of("devices: {box: {serial: {port: auto}}}\n"
                           "mappings:\n  - {control: box.k1, set: bpy.data.objects[\"Cube\"].location[0]}\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].rfind("m.yaml:3:", 0) == 0);
  CHECK_THAT(e[0], Catch::Contains("YAML syntax") && Catch::Contains("quote them"));
}

TEST_CASE("each kind of mistake gets its own message") {
  const std::string head = "devices:\n  box:\n    serial: {port: auto}\nmappings:\n";
  struct Case {
    std::string body;
    std::string expect;
  };
  const Case cases[] = {
      {"  - control: pad.k1\n    set: context.scene.frame_current\n",
       "m.yaml:5:14: unknown device 'pad' in control; devices: box"},
      {"  - control: box.K1\n    set: context.scene.frame_current\n",
       "m.yaml:5:14: control name 'K1' is not valid; names match [a-z][a-z0-9_]{0,15}"},
      {"  - control: box.k1\n    set: context.object.__class__\n", "m.yaml:6:10: set 'context.object.__class__' is not a data path"},
      {"  - control: box.k1\n    set: bpy.data.objects[\"Cube\"]._x\n", "is not a data path"},
      {"  - control: box.k1\n    set: os.system\n", "must start with bpy.data"},
      {"  - control: box.k1\n    set: context.scene.frame_current\n    to: [1, x]\n", "m.yaml:7:13: to must be a number"},
      {"  - control: box.k1\n    set: context.scene.frame_current\n    step: 2\n", "m.yaml:7:11: step goes only with add"},
      {"  - control: box.b1\n    press: {call: 'import os'}\n", "is not an operator id"},
      {"  - control: box.b1\n    press: {set: context.scene.frame_current}\n", "set needs a value"},
      {"  - control: box.b1\n    press: {call: screen.animation_play}\n    led: box.l1\n", "led needs a value to follow"},
      {"  - control: box.k1\n", "needs an action"},
      {"  - control: box.k1\n    set: context.scene.x\n    takeover: soft\n",
       "m.yaml:7:15: takeover 'soft' is not known; jump (default) or pickup"},
      {"  - control: box.e1\n    add: context.scene.x\n    takeover: pickup\n", "takeover goes only with set"},
      {"  - control: box.k1\n    set: context.scene.frame_current\n    add: context.scene.frame_current\n", "a mapping does one thing"},
  };
  for (const auto& c : cases) {
    INFO(c.body);
    const auto e = errors_of(head + c.body);
    REQUIRE(e.size() >= 1);
    CHECK_THAT(e[0], Catch::Contains(c.expect));
  }
}

TEST_CASE("device and blender sections are checked") {
  CHECK_THAT(errors_of("blender: {port: 70000}\ndevices: {box: {serial: {}}}\n")[0],
             Catch::Contains("m.yaml:1:17: port must be a whole number; from 1 to 65535"));
  CHECK_THAT(errors_of("devices: {box: {serial: {match: '2341'}}}\n")[0], Catch::Contains("is not VID:PID[:serial]"));
  CHECK_THAT(errors_of("devices: {box: {}}\n")[0], Catch::Contains("needs exactly one of serial, hid"));
  CHECK_THAT(errors_of("mappings: []\n")[0], Catch::Contains("m.yaml:1:1: no devices"));
  CHECK_THAT(errors_of("- a\n- b\n")[0], Catch::Contains("the file must be a mapping"));
  CHECK_THAT(load_config_file("/nonexistent/k.yaml").errors[0], Catch::Contains("/nonexistent/k.yaml:1:1: cannot open"));
}

TEST_CASE("a [*] selection path is a target for set, add, rate and buttons, but never watched") {
  const std::string head = "devices:\n  box:\n    serial: {port: auto}\nmappings:\n";
  const std::string sel = "'context.selected_objects[*].location[0]'";
  // Writes fan out: every kind of target takes it.
  const auto r = load_config_text(head + "  - control: box.k1\n    set: " + sel + "\n    to: [-2, 2]\n" +
                                      "  - control: box.e1\n    add: " + sel + "\n    step: 0.1\n" +
                                      "  - control: box.x\n    rate: " + sel + "\n" +
                                      "  - control: box.b1\n    press: {toggle: 'context.selected_objects[*].hide_render'}\n" +
                                      "  - control: box.b2\n    press: {keyframe: 'context.selected_pose_bones[*].location'}\n" +
                                      "  - control: box.b3\n    press: {keyframe: " + sel + "}\n" +
                                      "    led: box.l3\n    watch: context.active_object.location[0]\n",
                                  "m.yaml");
  INFO((r.errors.empty() ? "" : r.errors[0]));
  REQUIRE(r.config);
  CHECK(r.config->mappings.size() == 6);
  // Reads need one value: watch:, an led: following the mapping's own [*] target, takeover: pickup.
  struct Case {
    std::string body, expect;
  };
  const Case cases[] = {
      {"  - control: box.l1\n    watch: " + sel + "\n",
       "m.yaml:6:12: watch follows one value, and 'context.selected_objects[*].location[0]' fans out over the "
       "selection; watch: one data path, e.g. context.active_object.location[0]"},
      {"  - control: box.b1\n    press: {toggle: 'context.selected_objects[*].hide_render'}\n    led: box.l1\n",
       "m.yaml:7:10: led follows one value, and this mapping's target 'context.selected_objects[*].hide_render' fans "
       "out over the selection; add watch: one data path"},
      {"  - control: box.k1\n    set: " + sel + "\n    takeover: pickup\n",
       "m.yaml:7:15: takeover: pickup follows Blender's value of one target, and "
       "'context.selected_objects[*].location[0]' fans out over the selection; takeover: jump (the default) with a [*] path"},
      {"  - control: box.k1\n    set: 'bpy.data.objects[*].location[0]'\n",
       "m.yaml:6:10: set 'bpy.data.objects[*].location[0]' is not a data path; [*] at offset 16 of "
       "'bpy.data.objects[*].location[0]': [*] is only allowed right after context.selected_objects or "
       "context.selected_pose_bones"},
      {"  - control: box.k1\n    set: context.selected_objects.location\n", "is a list: it needs [*] to fan out"},
  };
  for (const auto& c : cases) {
    INFO(c.body);
    const auto e = errors_of(head + c.body);
    REQUIRE(e.size() == 1);
    CHECK_THAT(e[0], Catch::Contains(c.expect));
  }
}
