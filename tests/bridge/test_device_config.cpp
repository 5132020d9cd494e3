// devices: in the mapping file -> one DeviceConfig per device (a variant per kind), and
// the factory that makes each kind's DeviceSource from it.
#include <catch2/catch.hpp>

#include "bridge/config.hpp"
#include "bridge/devices.hpp"

using namespace knoblink;

namespace {
std::vector<std::string> errors_of(const std::string& yaml) { return load_config_text(yaml, "m.yaml").errors; }

class NullSink final : public EventSink {
 public:
  void on_event(const ControlEvent&) override {}
  void on_notice(std::uint16_t, Severity, std::string_view) override {}
  void on_connection(std::uint16_t, bool) override {}
  void on_control(std::uint16_t, const ControlInfo&) override {}
};
}  // namespace

TEST_CASE("each device is one kind: serial or hid, with its own settings") {
  auto r = load_config_text(R"(devices:
  box:
    serial: {port: auto, match: "2341:0043", uid: 00C0FFEE}
  usb:
    serial:
  pad:
    hid: {match: "054c:05c4"}
)",
                            "m.yaml");
  REQUIRE(r.errors.empty());
  REQUIRE(r.config->devices.size() == 3);
  const auto& box = std::get<SerialConfig>(r.config->devices[0].kind);
  CHECK(box.uid == "00C0FFEE");
  CHECK(box.match == "2341:0043");
  CHECK(std::get<SerialConfig>(r.config->devices[1].kind).port == "auto");
  CHECK(std::get<HidConfig>(r.config->devices[2].kind).match == "054c:05c4");
}

TEST_CASE("a bad uid is an error naming where and what to write") {
  const auto e = errors_of("devices:\n  box:\n    serial: {port: auto, uid: 0xc0ffee}\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0] ==
        "m.yaml:3:31: uid '0xc0ffee' is not a device uid; 1-16 hex digits without 0x, as the box's hello says it, "
        "e.g. uid: \"3fa9c01e\" (see `knoblink monitor -v`)");
  CHECK_THAT(errors_of("devices: {box: {serial: {uid: 12345678901234567}}}\n")[0], Catch::Contains("is not a device uid"));
  CHECK_THAT(errors_of("devices: {box: {serial: {uid: [1]}}}\n")[0], Catch::Contains("uid must be a single value"));
  CHECK_THAT(errors_of("devices: {box: {serial: {}, hid: {match: '054c:05c4'}}}\n")[0],
             Catch::Contains("needs exactly one of serial, hid"));
}

TEST_CASE("the factory makes one source per kind, not started") {
  asio::io_context io;
  DeviceContext context(io);
  NullSink sink;
  std::string error;
  DeviceConfig serial{"box", SerialConfig{"/dev/null", "", 115200, ""}, 1};
  auto s = make_device(context, 0, serial, sink, error);
  REQUIRE(s);
  const auto d = s->describe();
  CHECK(d.kind == "serial");
  CHECK(d.label == "box");
  CHECK(d.state == "stopped");
  CHECK_THAT(s->write_output(Name::unchecked("l1"), 1).error, Catch::Contains("not connected"));

  DeviceConfig hid{"pad", HidConfig{"054c:05c4"}, 2};
  auto h = make_device(context, 1, hid, sink, error);
#ifdef KNOBLINK_WITH_HID
  REQUIRE(h);
  CHECK(h->describe().kind == "hid");
  CHECK(h->describe().label == "pad");
  CHECK_THAT(h->write_output(Name::unchecked("l1"), 1).error, Catch::Contains("not connected"));
#else
  CHECK_FALSE(h);
  CHECK(error == "pad: HID devices are not supported by this build (KNOBLINK_WITH_HID=OFF)");
#endif
}

TEST_CASE("osc: port, host and controls; errors name the key and what is allowed") {
  auto r = load_config_text(R"(devices:
  touch:
    osc:
      port: 9000
      host: 0.0.0.0
      controls:
        fader1: "/1/fader1"
        pan: {address: "/1/pan", range: [-1, 1]}
        push1: {address: "/1/push1", kind: btn}
)",
                            "m.yaml");
  for (const auto& e : r.errors) UNSCOPED_INFO(e);
  REQUIRE(r.config);
  const auto* osc = std::get_if<OscConfig>(&r.config->devices[0].kind);
  REQUIRE(osc);
  CHECK(osc->port == 9000);
  CHECK(osc->host == "0.0.0.0");
  REQUIRE(osc->controls.size() == 3);
  CHECK(osc->controls[0] == OscControl{"fader1", "/1/fader1", 0, 1, ControlKind::abs});
  CHECK(osc->controls[1] == OscControl{"pan", "/1/pan", -1, 1, ControlKind::abs});
  CHECK(osc->controls[2] == OscControl{"push1", "/1/push1", 0, 1, ControlKind::btn});
  CHECK(std::get<OscConfig>(load_config_text("devices: {t: {osc: {port: 1, controls: {}}}}\n", "m.yaml")
                                .config->devices[0]
                                .kind)
            .host == "127.0.0.1");  // loopback unless host: says otherwise

  auto first = [](const std::string& body) {
    const auto e = errors_of("devices:\n  t:\n    osc: " + body + "\n");
    return e.empty() ? std::string() : e[0];
  };
  CHECK_THAT(first("{controls: {}}"), Catch::Contains("m.yaml:3:") && Catch::Contains("osc needs port"));
  CHECK_THAT(first("{port: 9000}"), Catch::Contains("osc needs controls"));
  CHECK_THAT(first("{port: 70000, controls: {}}"), Catch::Contains("from 1 to 65535"));
  CHECK_THAT(first("{port: 9000, host: localhost, controls: {}}"), Catch::Contains("is not an IP address") &&
                                                                   Catch::Contains("0.0.0.0 (every network)"));
  CHECK_THAT(first("{port: 9000, controls: {Fader: \"/1/f\"}}"), Catch::Contains("control name 'Fader' is not valid"));
  CHECK_THAT(first("{port: 9000, controls: {f: \"1/f\"}}"), Catch::Contains("OSC address '1/f' is not valid"));
  CHECK_THAT(first("{port: 9000, controls: {f: \"/a\", g: \"/a\"}}"), Catch::Contains("named twice"));
  CHECK_THAT(first("{port: 9000, controls: {f: {address: \"/a\", kind: rel}}}"), Catch::Contains("must be abs or btn"));
  CHECK_THAT(first("{port: 9000, controls: {f: {range: [0, 1]}}}"), Catch::Contains("needs address"));
  CHECK_THAT(first("{port: 9000, controls: {}, feedback: on}"), Catch::Contains("unknown key 'feedback' in osc"));
}
