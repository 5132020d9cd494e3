// The shared Contract 2 fixtures (tests/data/contract2/, also read by the add-on's
// tests/addon/test_fixtures.py): `knoblink check` accepts exactly the paths and operator
// names the add-on accepts, and the outbox coalesces exactly like the add-on's queue.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "bridge/config.hpp"
#include "bridge/data_path.hpp"
#include "bridge/link_codec.hpp"
#include "bridge/outbox.hpp"

using namespace knoblink;
using nlohmann::json;

namespace {

std::vector<json> rows(const std::string& name) {
  const std::string file = std::string(KNOBLINK_TEST_DATA) + "/contract2/" + name;
  std::ifstream in(file);
  REQUIRE(in.good());
  std::vector<json> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') out.push_back(json::parse(line));
  REQUIRE(!out.empty());
  return out;
}

/// A one-mapping file that uses text as a set target, as `knoblink check` reads it.
LoadResult check_with_path(const std::string& text) {
  // A YAML double-quoted scalar, so every character of text (a newline too) reaches the parser.
  std::string quoted;
  for (char c : text) {
    if (c == '\\' || c == '"') quoted += std::string("\\") + c;
    else if (c == '\n') quoted += "\\n";
    else quoted += c;
  }
  return load_config_text("devices: {box: {serial: {port: /dev/null}}}\nmappings:\n  - control: box.k1\n    set: \"" +
                              quoted + "\"\n",
                          "fixture.yaml");
}

std::string kind_name(PathSegment::Kind k) {
  switch (k) {
    case PathSegment::Kind::attr: return "attr";
    case PathSegment::Kind::index: return "index";
    case PathSegment::Kind::key: return "key";
  }
  return "?";
}

}  // namespace

TEST_CASE("fixtures: every valid path parses to its parts, and check accepts it") {
  for (const auto& r : rows("paths_valid.jsonl")) {
    const auto text = r["path"].get<std::string>();
    INFO(text);
    const auto p = parse_data_path(text);
    REQUIRE(p.path);
    json root = p.path->fan_out   ? json{"each", p.path->context_attr}
                : p.path->context ? json{"context", p.path->context_attr}
                                  : json{"data", p.path->collection, p.path->name,
                                         p.path->library ? json(*p.path->library) : json(nullptr)};
    CHECK(root == r["root"]);
    json segments = json::array();
    for (const auto& s : p.path->segments)
      segments.push_back(s.kind == PathSegment::Kind::index ? json{"index", std::stoull(s.text)}
                                                            : json{kind_name(s.kind), s.text});
    CHECK(segments == r["segments"]);
    const auto loaded = check_with_path(text);
    CHECK(loaded.errors.empty());
    CHECK(loaded.config.has_value());
  }
}

TEST_CASE("fixtures: every invalid path is refused with its reason, by check too") {
  for (const auto& r : rows("paths_invalid.jsonl")) {
    const auto text = r["path"].get<std::string>();
    const auto reason = r["reason"].get<std::string>();
    INFO(text << " (expected: " << reason << ")");
    const auto p = parse_data_path(text);
    CHECK_FALSE(p.path);
    CHECK_THAT(p.error, Catch::Contains(reason));
    const auto loaded = check_with_path(text);
    REQUIRE(loaded.errors.size() == 1);
    CHECK_THAT(loaded.errors[0], Catch::Contains("fixture.yaml:4:") && Catch::Contains(reason));
  }
}

TEST_CASE("fixtures: operator names") {
  for (const auto& r : rows("operators.jsonl")) {
    const auto name = r["operator"].get<std::string>();
    INFO(name);
    CHECK(is_operator_name(name) == r["valid"].get<bool>());
    const auto loaded = load_config_text(
        "devices: {box: {serial: {port: /dev/null}}}\nmappings:\n  - control: box.b1\n    press: {call: '" + name + "'}\n",
        "fixture.yaml");
    CHECK(loaded.config.has_value() == r["valid"].get<bool>());
  }
}

TEST_CASE("fixtures: the outbox coalesces like the add-on's queue") {
  for (const auto& r : rows("coalescing.jsonl")) {
    INFO(r["name"].get<std::string>());
    TargetTable targets;
    std::vector<Command> pushed;
    for (const auto& c : r["push"]) {
      const auto op = c[0].get<std::string>();
      Command cmd;
      for (Op o : {Op::set, Op::add, Op::toggle, Op::keyframe, Op::call, Op::record})
        if (to_string(o) == op) cmd.op = o;
      REQUIRE(to_string(cmd.op) == op);
      if (cmd.op == Op::record) cmd.value = c[1].get<bool>() ? 1 : 0;  // ["record", on]: no target
      else cmd.target = targets.intern(c[1].get<std::string>());
      if (c.size() > 2) cmd.value = c[2].get<double>();
      pushed.push_back(cmd);
    }
    std::vector<bool> absolute(targets.size(), false);
    for (const auto& c : pushed)
      if (c.op == Op::set) absolute[c.target] = true;
    Outbox box(targets.size(), absolute);
    for (const auto& c : pushed) box.push(c);
    json queue = json::array();
    while (const auto o = box.pop()) {
      std::string line;
      codec::append_command(line, o->cmd, targets, o->id);
      const json j = json::parse(line);
      json row = {j["op"], j.contains("operator") ? j["operator"] : j.contains("on") ? j["on"] : j["path"]};
      if (j.contains("value")) row.push_back(j["value"]);
      queue.push_back(row);
    }
    CHECK(queue == r["queue"]);
  }
}
