// The Contract 2 codec: the lines the bridge writes and how it reads the add-on's answers.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "bridge/link_codec.hpp"

using namespace knoblink;
using nlohmann::json;

TEST_CASE("codec: commands, watches and the hello encode as docs/protocol.md shows") {
  TargetTable t;
  const auto loc = t.intern(R"(bpy.data.objects["Say \"hi\""].location[0])");
  const auto play = t.intern("screen.animation_play");
  std::string out;
  codec::append_command(out, {Op::set, loc, 0.25}, t, 0);
  codec::append_command(out, {Op::add, loc, -2}, t, 7);
  codec::append_command(out, {Op::call, play, 0}, t, 8);
  codec::append_command(out, {Op::watch, loc, 0}, t, 9);
  codec::append_command(out, {Op::record, 0, 1}, t, 10);
  codec::append_command(out, {Op::record, 0, 0}, t, 11);
  codec::append_hello(out, "knoblink/9.9.9", "s\"ecret", "f00d");
  std::vector<json> lines;
  for (std::size_t at = 0, nl; (nl = out.find('\n', at)) != std::string::npos; at = nl + 1)
    lines.push_back(json::parse(out.substr(at, nl - at)));
  REQUIRE(lines.size() == 7);
  CHECK(lines[0] == json{{"op", "set"}, {"path", t.text(loc)}, {"value", 0.25}});
  CHECK(lines[1] == json{{"id", 7}, {"op", "add"}, {"path", t.text(loc)}, {"value", -2}});
  CHECK(lines[2] == json{{"id", 8}, {"op", "call"}, {"operator", "screen.animation_play"}});
  CHECK(lines[3] == json{{"id", 9}, {"op", "watch"}, {"path", t.text(loc)}});
  CHECK(lines[4] == json{{"id", 10}, {"op", "record"}, {"on", true}});
  CHECK(lines[5] == json{{"id", 11}, {"op", "record"}, {"on", false}});
  CHECK(lines[6] == json{{"hello", 1}, {"client", "knoblink/9.9.9"}, {"token", "s\"ecret"}, {"session", "f00d"}});
}

TEST_CASE("codec: answers decode into plain values") {
  using K = codec::Answer::Kind;
  auto a = codec::decode_answer(R"({"hello":1,"server":"knoblink-addon/0.1.0","blender":"3.4.1"})");
  CHECK(a.kind == K::hello);
  CHECK(a.blender == "3.4.1");
  a = codec::decode_answer(R"({"id":12,"ok":true})");
  CHECK((a.kind == K::ok && a.has_id && a.id == 12));
  a = codec::decode_answer(R"({"id":13,"error":"not_found","message":"no Cube"})");
  CHECK((a.kind == K::error && a.id == 13 && a.code == "not_found" && a.message == "no Cube"));
  a = codec::decode_answer(R"({"error":"bad_json","message":"line is not JSON"})");
  CHECK((a.kind == K::error && !a.has_id));
  a = codec::decode_answer(R"({"ev":"value","path":"context.scene.x","value":[0,0.5,0]})");
  CHECK((a.kind == K::value && a.path == "context.scene.x" && a.value == 1.0));
  a = codec::decode_answer(R"({"ev":"value","path":"context.scene.x","value":null})");
  CHECK((a.kind == K::value && !a.value));
  CHECK(codec::decode_answer(R"({"ev":"status","devices":[]})").kind == K::other);
  a = codec::decode_answer(R"({"ev":"record","on":true})");
  CHECK((a.kind == K::record && a.value == 1.0));
  a = codec::decode_answer(R"({"ev":"record","on":false})");
  CHECK((a.kind == K::record && a.value == 0.0));
  CHECK(codec::decode_answer(R"({"ev":"record","on":1})").kind == K::malformed);
  CHECK(codec::decode_answer(R"({"ev":"take","channels":1,"recorded":60,"keys":9,"frames":[1,60]})").kind == K::other);
  for (const char* bad : {"not json", "[1,2]", "\"x\"", "{\"a\":", ""}) {
    INFO(bad);
    CHECK(codec::decode_answer(bad).kind == K::malformed);
  }
}

TEST_CASE("codec: lines split at every offset; an oversize line is skipped once") {
  const std::string stream = "{\"a\":1}\n{\"b\":2}\r\n\n" + std::string(40, 'x') + "\n{\"c\":3}\n";
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    codec::LineReader r(32);
    std::vector<std::string> lines;
    int oversize = 0;
    const auto on_line = [&](std::string_view l) {
      lines.emplace_back(l);
      return true;
    };
    const auto on_oversize = [&](std::size_t) { ++oversize; };
    r.feed(std::string_view(stream).substr(0, cut), on_line, on_oversize);
    r.feed(std::string_view(stream).substr(cut), on_line, on_oversize);
    INFO(cut);
    CHECK(lines == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"});
    CHECK(oversize == 1);
  }
  codec::LineReader r;
  int seen = 0;
  CHECK_FALSE(r.feed("a\nb\n", [&](std::string_view) { return ++seen < 1; }, [](std::size_t) {}));
  CHECK(seen == 1);  // stopping at the first line leaves the second unread
}
