// Learn: what a touch is, what it maps to, the events and answers on the wire, and the
// file replaced atomically or left alone with the reason.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bridge/learn.hpp"
#include "harness.hpp"
#include "bridge/link_codec.hpp"

using namespace knoblink;

namespace {

ControlEvent ev(const char* control, ControlKind kind, std::int32_t value, std::int64_t t = 0) {
  ControlEvent e;
  e.control = *Name::from(control);
  e.kind = kind;
  e.value = value;
  e.t_us = t;
  return e;
}

const LearnRequest kLocY{R"(bpy.data.objects["Cube"].location[1])", LearnKind::float_, -10, 10};
const std::pair<std::int32_t, std::int32_t> k1023{0, 1023};

std::string keys_of(const LearnedMapping& m) {
  std::string out;
  for (const auto& [k, v] : m.entry.keys) out += k + ": " + v + "\n";
  return out;
}



auto append_k2(int* line = nullptr) {
  return [line](const std::string& text, std::string& err) -> std::optional<std::string> {
    auto r = mapping_edit::append_entry(text, mapping_edit::Entry{{{"control", "box.k2"}, {"add", "context.scene.frame_current"}}}, err);
    if (!r) return std::nullopt;
    if (line) *line = r->line;
    return r->text;
  };
}

const char* kFile = "devices:\n  box:\n    serial: {port: auto}\nmappings: []  # learned ones go here\n";

}  // namespace

TEST_CASE("a knob's first value after a learn started is its position; a move of 1% of its range is a touch") {
  Learner l;
  CHECK_FALSE(l.on_event(ev("k1", ControlKind::abs, 500), ControlKind::abs, k1023));  // not learning
  CHECK_FALSE(l.start(kLocY, 1'000'000));
  CHECK(l.deadline() == 16'000'000);
  CHECK_FALSE(l.on_event(ev("k2", ControlKind::abs, 300), ControlKind::abs, k1023));  // where k2 is
  CHECK_FALSE(l.on_event(ev("k2", ControlKind::abs, 305), ControlKind::abs, k1023));  // jitter
  CHECK_FALSE(l.on_event(ev("k1", ControlKind::abs, 900), ControlKind::abs, k1023));  // k1's position
  CHECK_FALSE(l.on_event(ev("b1", ControlKind::btn, 0), ControlKind::btn, std::nullopt));  // a release
  CHECK_FALSE(l.on_event(ev("e1", ControlKind::rel, 0), ControlKind::rel, std::nullopt));
  const auto t = l.on_event(ev("k2", ControlKind::abs, 311), ControlKind::abs, k1023);
  REQUIRE(t);
  CHECK(t->first.path == kLocY.path);
  CHECK(t->second.control == *Name::from("k2"));
  CHECK(t->second.kind == ControlKind::abs);
  CHECK_FALSE(l.waiting());
  CHECK_FALSE(l.on_event(ev("k2", ControlKind::abs, 600), ControlKind::abs, k1023));  // learned once
}

TEST_CASE("a press or an encoder step is a touch at once; a small range needs 2 steps") {
  Learner l;
  l.start(kLocY, 0);
  REQUIRE(l.on_event(ev("b3", ControlKind::btn, 1), ControlKind::btn, std::nullopt));
  l.start(kLocY, 0);
  REQUIRE(l.on_event(ev("e1", ControlKind::rel, -1), ControlKind::rel, std::nullopt));
  l.start(kLocY, 0);
  const std::pair<std::int32_t, std::int32_t> small{0, 10};
  CHECK_FALSE(l.on_event(ev("k1", ControlKind::abs, 4), ControlKind::abs, small));
  CHECK_FALSE(l.on_event(ev("k1", ControlKind::abs, 5), ControlKind::abs, small));
  CHECK(l.on_event(ev("k1", ControlKind::abs, 6), ControlKind::abs, small));
}

TEST_CASE("a learn expires after 15 s; a new learn replaces the waiting one") {
  Learner l;
  l.start(kLocY, 1'000'000);
  CHECK_FALSE(l.expire(15'999'999));
  auto replaced = l.start(LearnRequest{"context.scene.frame_current", LearnKind::int_, 1, 250}, 2'000'000);
  REQUIRE(replaced);
  CHECK(replaced->path == kLocY.path);
  CHECK_FALSE(l.expire(16'000'000));
  const auto gone = l.expire(17'000'000);
  REQUIRE(gone);
  CHECK(gone->path == "context.scene.frame_current");
  CHECK_FALSE(l.waiting());
  CHECK_FALSE(l.deadline());
}

TEST_CASE("learned_mapping: abs -> set over the range, rel -> add with a step, btn -> toggle or keyframe") {
  CHECK(keys_of(learned_mapping(kLocY, "box.k2", ControlKind::abs)) ==
        "control: box.k2\nset: 'bpy.data.objects[\"Cube\"].location[1]'\nto: [-10, 10]\n");
  CHECK(keys_of(learned_mapping(kLocY, "box.e1", ControlKind::rel)) ==
        "control: box.e1\nadd: 'bpy.data.objects[\"Cube\"].location[1]'\nstep: 0.2\n");
  const LearnRequest frame{"context.scene.frame_current", LearnKind::int_, 0, 250};
  CHECK(keys_of(learned_mapping(frame, "box.e1", ControlKind::rel)) == "control: box.e1\nadd: 'context.scene.frame_current'\nstep: 1\n");
  CHECK(keys_of(learned_mapping(frame, "box.b1", ControlKind::btn)) ==
        "control: box.b1\npress: {keyframe: 'context.scene.frame_current'}\n");
  const LearnRequest hide{R"(bpy.data.objects["Cube"].hide_render)", LearnKind::boolean, 0, 1};
  const auto toggle = learned_mapping(hide, "box.b3", ControlKind::btn);
  CHECK(toggle.what == "toggle");
  CHECK(keys_of(toggle) == "control: box.b3\npress: {toggle: 'bpy.data.objects[\"Cube\"].hide_render'}\n");
  const auto knob_on_bool = learned_mapping(hide, "box.k1", ControlKind::abs);
  CHECK(knob_on_bool.entry.keys.empty());
  CHECK(knob_on_bool.error == "box.k1 is a knob or fader; a bool property is learned from a button");
  const LearnRequest engine{"context.scene.render.engine", LearnKind::enum_, 0, 2};
  CHECK(learned_mapping(engine, "box.e1", ControlKind::rel).error ==
        "box.e1 is an encoder; an enum property is learned from a button");
  CHECK(learned_mapping(engine, "box.b1", ControlKind::btn).what == "keyframe");
}

TEST_CASE("the learn and forget events are decoded and checked; the answers encoded") {
  auto a = codec::decode_answer(R"({"ev":"learn","path":"bpy.data.objects[\"Cube\"].location[1]","kind":"FLOAT","min":-10,"max":10.5})");
  REQUIRE(a.kind == codec::Answer::Kind::learn);
  CHECK(a.message.empty());
  CHECK(a.learn.path == kLocY.path);
  CHECK(a.learn.kind == LearnKind::float_);
  CHECK(a.learn.hi == 10.5);
  a = codec::decode_answer(R"({"ev":"learn","path":"context.scene.__class__","kind":"FLOAT","min":0,"max":1})");
  CHECK(a.kind == codec::Answer::Kind::learn);
  CHECK_THAT(a.message, Catch::Contains("is not a data path"));
  CHECK_THAT(codec::decode_answer(R"({"ev":"learn","path":"context.scene.frame_current","kind":"STRING","min":0,"max":1})").message,
             Catch::Contains("FLOAT, INT, BOOLEAN or ENUM"));
  CHECK_THAT(codec::decode_answer(R"({"ev":"learn","path":"context.scene.frame_current","kind":"INT","min":0})").message,
             Catch::Contains("\"min\" and \"max\""));
  a = codec::decode_answer(R"({"ev":"forget","path":"context.scene.frame_current"})");
  CHECK(a.kind == codec::Answer::Kind::forget);
  CHECK(a.path == "context.scene.frame_current");
  CHECK(a.message.empty());

  std::string out;
  codec::LearnAnswer learned;
  learned.op = "learned";
  learned.path = "context.scene.frame_current";
  learned.control = "box.e1";
  learned.mapping = "add";
  learned.file = "/m/box.yaml";
  learned.line = 41;
  codec::append_learn_answer(out, learned);
  CHECK(nlohmann::json::parse(out) == nlohmann::json::parse(R"({"op":"learned","path":"context.scene.frame_current",
        "control":"box.e1","mapping":"add","file":"/m/box.yaml","line":41})"));
  out.clear();
  codec::LearnAnswer failed;
  failed.op = "learn_failed";
  failed.path = "context.scene.frame_current";
  failed.reason = "no control touched within 15 s";
  codec::append_learn_answer(out, failed);
  CHECK(out == R"({"op":"learn_failed","path":"context.scene.frame_current","reason":"no control touched within 15 s"})" "\n");
  out.clear();
  codec::LearnAnswer forgot;
  forgot.op = "forgot";
  forgot.path = "context.scene.a";
  forgot.file = "/m/b.yaml";
  forgot.lines = {5, 9};
  forgot.count = 2;
  codec::append_learn_answer(out, forgot);
  CHECK(nlohmann::json::parse(out) ==
        nlohmann::json::parse(R"({"op":"forgot","path":"context.scene.a","file":"/m/b.yaml","lines":[5,9],"count":2})"));
}

TEST_CASE("save_edit replaces the file atomically and keeps its mode") {
  kltest::TempDir dir;
  const auto file = dir.write("box.yaml", kFile);
  ::chmod(file.c_str(), 0640);
  int line = 0;
  std::string written;
  REQUIRE(save_edit(file, kFile, append_k2(&line), &written) == "");
  CHECK(kltest::read_file(file) == written);
  CHECK(written == "devices:\n  box:\n    serial: {port: auto}\nmappings:  # learned ones go here\n"
                   "  - control: box.k2\n    add: context.scene.frame_current\n");
  CHECK(line == 5);
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  CHECK(files == 1);  // no temporary file left
}

TEST_CASE("save_edit through a symlink replaces its target, and keeps the link") {
  kltest::TempDir dir;
  const auto real = dir.write("real.yaml", kFile);
  const auto link = dir.file("link.yaml");
  std::filesystem::create_symlink(real, link);
  REQUIRE(save_edit(link, kFile, append_k2(), nullptr) == "");
  CHECK(std::filesystem::is_symlink(link));
  CHECK(kltest::read_file(real).find("box.k2") != std::string::npos);
}

TEST_CASE("save_edit leaves a read-only, moved or changed file alone and says why") {
  kltest::TempDir dir;
  const auto file = dir.write("box.yaml", kFile);
  ::chmod(file.c_str(), 0444);
  CHECK(save_edit(file, kFile, append_k2(), nullptr) == file + " is read-only (mode 0444)");
  CHECK(kltest::read_file(file) == kFile);
  ::chmod(file.c_str(), 0644);
  CHECK(save_edit(file, "other text", append_k2(), nullptr) ==
        file + " changed since knoblink loaded it; reload it (SIGHUP) and try again, so no edit of yours is lost");
  CHECK(kltest::read_file(file) == kFile);
  std::filesystem::rename(file, dir.file("moved.yaml"));
  CHECK_THAT(save_edit(file, kFile, append_k2(), nullptr), Catch::StartsWith("cannot find " + file + ": ") &&
                                                               Catch::EndsWith("(moved or deleted?)"));
  CHECK_FALSE(std::filesystem::exists(file));
  const auto bad = dir.write("bad.yaml", "mappings: {a: 1}\n");
  CHECK_THAT(save_edit(bad, "mappings: {a: 1}\n", append_k2(), nullptr),
             Catch::Contains("mappings: is not a list"));
  CHECK(kltest::read_file(bad) == "mappings: {a: 1}\n");
}
