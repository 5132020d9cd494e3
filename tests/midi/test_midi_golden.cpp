// The MIDI decoder on recorded byte streams: tests/data/midi/NAME.hex (hex bytes, # comments)
// decoded with the midi: device of NAME.yaml (read by the real config parser) must give
// exactly NAME.expected (the sink calls, then the counters). Each stream is fed whole,
// split in two at every offset, and byte by byte; all must give the same.
// KNOBLINK_REGEN_GOLDEN=1 rewrites the .expected files (review the diff before committing).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bridge/config.hpp"
#include "devices/midi/midi_decoder.hpp"

using namespace knoblink;
namespace fs = std::filesystem;

namespace {

constexpr std::uint16_t kDevice = 2;

class Recorder final : public EventSink {
 public:
  void on_event(const ControlEvent& e) override {
    REQUIRE(e.device == kDevice);
    lines.push_back("event " + e.control.str() + " " + std::string(to_string(e.kind)) + " " + std::to_string(e.value));
    stamps.push_back(e.t_us);
  }
  void on_notice(std::uint16_t, Severity, std::string_view text) override { lines.push_back("notice " + std::string(text)); }
  void on_connection(std::uint16_t, bool up) override { lines.push_back(up ? "connected" : "disconnected"); }
  void on_control(std::uint16_t device, const ControlInfo& c) override {
    REQUIRE(device == kDevice);
    REQUIRE(Name::from(c.name.view()));  // within the name rules
    std::string l = "control " + c.name.str() + " " + std::string(to_string(c.kind));
    if (c.has_range) l += " " + std::to_string(c.min) + " " + std::to_string(c.max);
    lines.push_back(l);
  }
  std::vector<std::string> lines;
  std::vector<std::int64_t> stamps;
};

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::uint8_t> parse_hex_file(const std::string& text) {
  std::vector<std::uint8_t> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream words(line);
    for (std::string w; words >> w;) {
      const auto v = parse_hex(w, 2);
      REQUIRE(v);
      out.push_back(static_cast<std::uint8_t>(*v));
    }
  }
  return out;
}

std::vector<std::string> decode(const MidiConfig& config, const std::vector<std::uint8_t>& bytes,
                                const std::vector<std::size_t>& cuts) {
  Recorder rec;
  midi::Decoder decoder(kDevice, midi::CcModes(config));
  std::size_t from = 0;
  std::int64_t t = 1000;
  for (std::size_t cut : cuts) {
    decoder.feed({bytes.data() + from, cut - from}, t++, rec);
    from = cut;
  }
  decoder.feed({bytes.data() + from, bytes.size() - from}, t, rec);
  const auto& s = decoder.stats();
  rec.lines.push_back("stats messages " + std::to_string(s.messages) + " sysex " + std::to_string(s.sysex) +
                      " skipped " + std::to_string(s.skipped));
  return rec.lines;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace

TEST_CASE("MIDI goldens: every recorded stream decodes to its .expected, however it is split") {
  const fs::path dir = fs::path(KNOBLINK_TEST_DATA) / "midi";
  const bool regen = std::getenv("KNOBLINK_REGEN_GOLDEN") != nullptr;
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".hex") continue;
    ++cases;
    const auto base = entry.path().parent_path() / entry.path().stem();
    const auto yaml = base.string() + ".yaml";
    INFO(entry.path().string());
    auto r = load_config_file(yaml);
    for (const auto& e : r.errors) UNSCOPED_INFO(e);
    REQUIRE(r.config);
    REQUIRE(r.config->devices.size() == 1);
    const auto* config = std::get_if<MidiConfig>(&r.config->devices[0].kind);
    REQUIRE(config);
    const auto bytes = parse_hex_file(read(entry.path()));
    const auto whole = joined(decode(*config, bytes, {}));
    const auto expected_path = base.string() + ".expected";
    if (regen) std::ofstream(expected_path) << whole;
    CHECK(whole == read(expected_path));
    for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
      INFO("split at " << cut);
      REQUIRE(joined(decode(*config, bytes, {cut})) == whole);
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < bytes.size(); ++i) every.push_back(i);
    CHECK(joined(decode(*config, bytes, every)) == whole);
  }
  CHECK(cases >= 4);
}

TEST_CASE("MIDI: an event is stamped with the time of the read that completed its message") {
  Recorder rec;
  midi::Decoder decoder(kDevice, midi::CcModes{});
  const std::uint8_t a[] = {0xB0, 0x07}, b[] = {0x40, 0x07, 0x41};
  decoder.feed(a, 100, rec);
  decoder.feed(b, 200, rec);
  REQUIRE(rec.stamps == std::vector<std::int64_t>{200, 200});
}

TEST_CASE("MIDI control names: parse and format agree, and stay within the name rules") {
  for (const char* good : {"cc1_0", "cc16_127", "note10_36", "vel1_36", "pb1", "pb16"}) {
    INFO(good);
    const auto id = parse_midi_control(good);
    REQUIRE(id);
    char buf[Name::capacity];
    CHECK(std::string(buf, midi::format_control(*id, buf)) == good);
    CHECK(Name::from(good));
  }
  for (const char* bad : {"cc0_1", "cc17_1", "cc1_128", "cc01_1", "cc1_", "cc1", "pb0", "pb17", "pb1_2", "note1_x", "k1", ""})
    CHECK_FALSE(parse_midi_control(bad));
}

TEST_CASE("MIDI feedback bytes: CC, 14-bit CC, note on/off, pitch bend, clamped") {
  std::uint8_t out[6];
  auto bytes = [&](const char* name, bool fourteen, std::int32_t v) {
    const auto n = midi::encode_output(*parse_midi_control(name), fourteen, v, out);
    return std::vector<int>(out, out + n);
  };
  CHECK(bytes("cc1_7", false, 100) == std::vector<int>{0xB0, 7, 100});
  CHECK(bytes("cc16_7", false, 300) == std::vector<int>{0xBF, 7, 127});
  CHECK(bytes("cc1_41", false, 1) == std::vector<int>{0xB0, 41, 127});  // a lit led:
  CHECK(bytes("cc1_41", false, 0) == std::vector<int>{0xB0, 41, 0});
  CHECK(bytes("cc1_7", true, 8193) == std::vector<int>{0xB0, 7, 64, 0xB0, 39, 1});
  CHECK(bytes("note1_36", false, 1) == std::vector<int>{0x90, 36, 127});
  CHECK(bytes("note1_36", false, 5) == std::vector<int>{0x90, 36, 5});
  CHECK(bytes("note1_36", false, 0) == std::vector<int>{0x80, 36, 0});
  CHECK(bytes("pb2", false, 8192) == std::vector<int>{0xE1, 0, 64});
  CHECK(bytes("pb2", false, -5) == std::vector<int>{0xE1, 0, 0});
  CHECK(bytes("vel1_36", false, 5).empty());
}

TEST_CASE("midi: config errors name the key, the line and what is allowed") {
  auto errors = [](const std::string& body) {
    auto r = load_config_text("devices:\n  nano:\n    midi: " + body + "\n", "m.yaml");
    std::string all;
    for (const auto& e : r.errors) all += e + "\n";
    return all;
  };
  CHECK_THAT(errors("{api: jack}"), Catch::Contains("m.yaml:3:") && Catch::Contains("midi needs port"));
  CHECK_THAT(errors("{port: x, api: coreaudio}"), Catch::Contains("alsa (the default) or jack"));
  CHECK_THAT(errors("{port: x, encodings: {cc1_16: gray}}"), Catch::Contains("encoding of cc1_16 is not known") &&
                                                                Catch::Contains("twos, offset or sign"));
  CHECK_THAT(errors("{port: x, encodings: {note1_3: twos}}"), Catch::Contains("'note1_3' is not a CC control"));
  CHECK_THAT(errors("{port: x, fourteen_bit: [cc1_40]}"), Catch::Contains("not a 14-bit MSB CC") &&
                                                             Catch::Contains("cc<channel 1..16>_<CC 0..31>"));
  CHECK_THAT(errors("{port: x, encodings: {cc1_7: sign}, fourteen_bit: [cc1_7]}"),
             Catch::Contains("cc1_7 is both an encoder and part of the 14-bit CC cc1_7"));
  CHECK_THAT(errors("{port: x, encodings: {cc1_39: sign}, fourteen_bit: [cc1_7]}"),  // its LSB
             Catch::Contains("m.yaml:3:") && Catch::Contains("cc1_39 is both an encoder and part of the 14-bit CC cc1_7"));
  CHECK_THAT(errors("{port: x, channel: 1}"), Catch::Contains("unknown key 'channel' in midi"));
  CHECK(errors("{port: \"nanoKONTROL2\", api: jack, encodings: {cc1_16: twos}, fourteen_bit: [cc1_7]}").empty());
}

TEST_CASE("midi: encoding: on the add mapping makes the CC an encoder, as the device key does") {
  const fs::path dir = fs::path(KNOBLINK_TEST_DATA) / "midi";
  // encoders.yaml says it with the device key; the same three encoders said on their
  // mappings (one of them in two mappings of different layers) give the same device.
  const auto by_mapping = load_config_text(R"(devices:
  enc: {midi: {port: "Launch Control"}}
  box: {serial: {port: auto}}
layers:
  shift: {hold: box.b1}
mappings:
  - control: enc.cc1_16
    add: context.scene.frame_current
    encoding: twos
  - control: enc.cc1_16
    layer: shift
    add: context.scene.frame_current
    step: 10
    encoding: twos
  - control: enc.cc1_17
    add: 'bpy.data.objects["Cube"].location[0]'
    step: 0.1
    encoding: offset
  - control: enc.cc1_18
    add: context.active_object.rotation_euler[2]
    encoding: sign
)",
                                           "by_mapping.yaml");
  for (const auto& e : by_mapping.errors) UNSCOPED_INFO(e);
  REQUIRE(by_mapping.config);
  const auto by_device = load_config_file((dir / "encoders.yaml").string());
  REQUIRE(by_device.config);
  const auto& a = std::get<MidiConfig>(by_mapping.config->devices[0].kind);
  const auto& b = std::get<MidiConfig>(by_device.config->devices[0].kind);
  CHECK(a == b);
  CHECK(by_mapping.config->mappings[0].as<AddMapping>()->encoding == MidiEncoding::twos);
  // And it decodes the recorded stream exactly as the golden says.
  CHECK(joined(decode(a, parse_hex_file(read(dir / "encoders.hex")), {})) == read(dir / "encoders.expected"));
}

TEST_CASE("midi: encoding: errors name the line, the column and what is allowed") {
  auto errors = [](const std::string& mappings, const std::string& midi = "{port: x}") {
    auto r = load_config_text("devices:\n  nano:\n    midi: " + midi + "\n  box: {serial: {port: auto}}\nmappings:\n" +
                                  mappings,
                              "m.yaml");
    std::string all;
    for (const auto& e : r.errors) all += e + "\n";
    return all;
  };
  const std::string add = "  - control: nano.cc1_16\n    add: context.scene.frame_current\n";
  CHECK(errors(add + "    encoding: twos\n").empty());
  CHECK_THAT(errors(add + "    encoding: gray\n"),
             Catch::Contains("m.yaml:8:15: encoding 'gray' is not known; twos, offset or sign"));
  CHECK_THAT(errors(add), Catch::Contains("m.yaml:6:5: add on nano.cc1_16, a MIDI CC that is not an encoder") &&
                              Catch::Contains("encoding: twos | offset | sign"));
  CHECK(errors(add, "{port: x, encodings: {cc1_16: sign}}").empty());  // the device key still works
  CHECK(errors(add + "    encoding: sign\n", "{port: x, encodings: {cc1_16: sign}}").empty());
  CHECK_THAT(errors(add + "    encoding: twos\n", "{port: x, encodings: {cc1_16: sign}}"),
             Catch::Contains("m.yaml:8:15: encoding twos of nano.cc1_16 contradicts sign, which the device's "
                             "encodings: (line 2) gives it; a CC reads one way in every mapping and layer"));
  CHECK_THAT(errors(add + "    encoding: twos\n" + add + "    encoding: offset\n"),
             Catch::Contains("m.yaml:11:15: encoding offset of nano.cc1_16 contradicts twos, which the mapping on "
                             "line 6 gives it"));
  CHECK_THAT(errors("  - control: nano.note1_36\n    add: context.scene.frame_current\n    encoding: twos\n"),
             Catch::Contains("m.yaml:8:15: encoding goes only with a CC of a midi: device; nano.note1_36 is not one") &&
                 Catch::Contains("e.g. control: nano.cc1_16"));
  CHECK_THAT(errors("  - control: box.e1\n    add: context.scene.frame_current\n    encoding: twos\n"),
             Catch::Contains("box.e1 is not one; this device's encoders send steps already: remove encoding"));
  CHECK_THAT(errors("  - control: nano.cc1_39\n    add: context.scene.frame_current\n    encoding: twos\n",
                    "{port: x, fourteen_bit: [cc1_7]}"),
             Catch::Contains("nano.cc1_39 is part of the 14-bit CC cc1_7 (fourteen_bit:), so it is not an encoder"));
  CHECK_THAT(errors("  - control: nano.cc1_16\n    set: context.scene.frame_current\n    encoding: twos\n"),
             Catch::Contains("m.yaml:8:15: encoding goes only with add"));
}
