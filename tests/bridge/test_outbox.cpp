// Coalescing, acknowledgement and resync of the outbound queue, read back as the
// NDJSON lines the link would write.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "bridge/link_codec.hpp"
#include "bridge/outbox.hpp"

using namespace knoblink;
using nlohmann::json;

namespace {

struct Fixture {
  TargetTable t;
  std::uint32_t x, y, frame, loc, play;
  std::unique_ptr<Outbox> box;
  Fixture() {
    x = t.intern("context.scene.x");
    y = t.intern("context.scene.y");
    frame = t.intern("context.scene.frame_current");
    loc = t.intern(R"(bpy.data.objects["Cube"].location)");
    play = t.intern("screen.animation_play");
    std::vector<bool> abs(t.size(), false);
    abs[x] = abs[y] = true;
    box = std::make_unique<Outbox>(t.size(), abs);
  }
  std::vector<json> drain() {
    std::vector<json> lines;
    while (const auto o = box->pop()) {
      std::string out;
      codec::append_command(out, o->cmd, t, o->id);
      REQUIRE(out.back() == '\n');
      lines.push_back(json::parse(out));
    }
    return lines;
  }
};

}  // namespace

TEST_CASE("sets keep only the newest value, adds are summed, discrete commands stay") {
  Fixture f;
  f.box->push({Op::set, f.x, 1});
  f.box->push({Op::add, f.frame, 1});
  f.box->push({Op::set, f.x, 2});
  f.box->push({Op::set, f.y, 5});
  f.box->push({Op::add, f.frame, 2});
  f.box->push({Op::set, f.x, 3});
  f.box->push({Op::call, f.play, 0});
  f.box->push({Op::call, f.play, 0});
  const auto lines = f.drain();
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == json::parse(R"({"op":"set","path":"context.scene.x","value":3})"));
  CHECK(lines[1]["op"] == "add");
  CHECK(lines[1]["value"] == 3);
  CHECK(lines[1].contains("id"));
  CHECK(lines[2]["path"] == "context.scene.y");
  CHECK(lines[3] == json::parse(R"({"id":2,"op":"call","operator":"screen.animation_play"})"));
  CHECK(lines[4]["id"] == 3);
  CHECK(f.box->stats().merged == 3);
}

TEST_CASE("a set is never merged across a discrete command") {
  Fixture f;
  f.box->push({Op::set, f.x, 1});
  f.box->push({Op::keyframe, f.loc, 0});
  f.box->push({Op::set, f.x, 2});
  f.box->push({Op::set, f.x, 3});
  const auto lines = f.drain();
  REQUIRE(lines.size() == 3);
  CHECK(lines[0]["value"] == 1);  // the keyframe keys the value sent before it
  CHECK(lines[1]["op"] == "keyframe");
  CHECK(lines[1]["path"] == R"(bpy.data.objects["Cube"].location)");
  CHECK(lines[2]["value"] == 3);
}

TEST_CASE("unacknowledged commands are sent again after a reconnect, after the latest values") {
  Fixture f;
  f.box->push({Op::set, f.x, 0.25});
  f.box->push({Op::keyframe, f.loc, 0});
  f.box->push({Op::call, f.play, 0});
  auto first = f.drain();
  REQUIRE(first.size() == 3);
  CHECK(f.box->ack(first[1]["id"].get<std::uint64_t>())->op == Op::keyframe);
  CHECK_FALSE(f.box->ack(999).has_value());
  // The connection dies before the call was acknowledged; meanwhile the knob moved.
  f.box->on_disconnect();
  f.box->push({Op::set, f.x, 0.75});
  f.box->push({Op::add, f.frame, 4});
  f.box->on_connect();
  const auto again = f.drain();
  REQUIRE(again.size() == 4);
  CHECK(again[0] == json::parse(R"({"op":"set","path":"context.scene.x","value":0.75})"));
  CHECK(again[1]["operator"] == "screen.animation_play");
  CHECK(again[2]["value"] == 0.75);
  CHECK(again[3]["op"] == "add");
  CHECK(f.box->stats().resent == 1);
  CHECK(f.box->stats().resynced == 1);
  CHECK(f.box->unacked() == 2);
}

TEST_CASE("ten thousand presses while disconnected are all kept, in order") {
  Fixture f;
  for (int i = 0; i < 10000; ++i) {
    f.box->push({Op::set, f.x, static_cast<double>(i)});
    f.box->push({Op::keyframe, f.loc, 0});
  }
  f.box->on_connect();
  const auto lines = f.drain();
  int keyframes = 0;
  std::uint64_t last_id = 0;
  for (const auto& l : lines) {
    if (l["op"] != "keyframe") continue;
    ++keyframes;
    CHECK(l["id"].get<std::uint64_t>() > last_id);
    last_id = l["id"].get<std::uint64_t>();
  }
  CHECK(keyframes == 10000);
}

TEST_CASE("a long disconnect does not grow the queue with knob values") {
  Fixture f;
  for (int i = 0; i < 100000; ++i) {
    f.box->push({Op::set, f.x, static_cast<double>(i)});
    f.box->push({Op::add, f.frame, 1});
    if (i % 2 == 0) f.box->push({Op::keyframe, f.loc, 0});
  }
  // Every keyframe is kept; knob values and steps merge once the soft cap is reached.
  CHECK(f.box->pending() < Outbox::kSoftCap + 50000 + 3);
  f.box->on_connect();
  const auto lines = f.drain();
  int keyframes = 0;
  double frames = 0, last_x = -1;
  for (const auto& l : lines) {
    if (l["op"] == "keyframe") ++keyframes;
    if (l["op"] == "add") frames += l["value"].get<double>();
    if (l["op"] == "set") last_x = l["value"].get<double>();
  }
  CHECK(keyframes == 50000);
  CHECK(frames == 100000);  // no step lost
  CHECK(last_x == 99999);   // the newest value last
}

TEST_CASE("a re-sent command keeps its id, and nothing merges into it") {
  Fixture f;
  f.box->push({Op::add, f.frame, 1});
  f.box->push({Op::toggle, f.loc, 0});
  const auto first = f.drain();
  REQUIRE(first.size() == 2);
  f.box->on_disconnect();
  f.box->push({Op::add, f.frame, 5});  // the encoder turns on while Blender is away
  f.box->on_connect();
  const auto again = f.drain();
  REQUIRE(again.size() == 3);
  CHECK(again[0]["id"] == first[0]["id"]);  // the add-on answers it without applying it twice
  CHECK(again[0]["value"] == 1);
  CHECK(again[1]["id"] == first[1]["id"]);
  CHECK(again[2]["value"] == 5);
  CHECK(again[2]["id"].get<std::uint64_t>() > first[1]["id"].get<std::uint64_t>());
}
