// bridge/mapping_edit: learned mappings appended, forgotten ones cut, every other byte kept.
// Each case states the whole file before and after.
#include <catch2/catch.hpp>

#include "bridge/config.hpp"
#include "bridge/mapping_edit.hpp"

using namespace knoblink;
using namespace knoblink::mapping_edit;

namespace {

const Entry kEntry{{{"control", "box.k2"},
                    {"set", quote(R"(bpy.data.objects["Cube"].location[1])")},
                    {"to", "[-10, 10]"}}};
const char* kHead = "devices:\n  box:\n    serial: {port: auto}\n";

Appended appended(const std::string& text, const Entry& e = kEntry) {
  std::string error;
  auto r = append_entry(text, e, error);
  INFO(error);
  REQUIRE(r);
  return *r;
}

std::string error_of_append(const std::string& text) {
  std::string error;
  CHECK_FALSE(append_entry(text, kEntry, error));
  return error;
}

Removed removed(const std::string& text, const std::vector<std::size_t>& items) {
  std::string error;
  auto r = remove_entries(text, items, error);
  INFO(text << "\n" << error);
  REQUIRE(r);
  CHECK(r->lines.size() == items.size());
  auto loaded = load_config_text(r->text, "m.yaml");  // what is left still loads, the others all there
  INFO(r->text);
  CHECK(loaded.errors.empty());
  return *r;
}

std::string error_of_remove(const std::string& text, const std::vector<std::size_t>& items) {
  std::string error;
  CHECK_FALSE(remove_entries(text, items, error));
  return error;
}

/// The mapping on line of the result loads as the learned one.
void loads_learned(const Appended& a) {
  auto r = load_config_text(a.text, "m.yaml");
  INFO(a.text);
  REQUIRE(r.errors.empty());
  const auto& m = r.config->mappings.back();
  CHECK(m.line == a.line);
  REQUIRE(m.as<SetMapping>());
  CHECK(m.as<SetMapping>()->path == R"(bpy.data.objects["Cube"].location[1])");
  CHECK(m.as<SetMapping>()->to0 == -10);
}

}  // namespace

TEST_CASE("quote makes a YAML single-quoted scalar") {
  CHECK(quote(R"(bpy.data.objects["Cube"].location[1])") == R"('bpy.data.objects["Cube"].location[1]')");
  CHECK(quote(R"(bpy.data.objects["it's"].location[1])") == R"('bpy.data.objects["it''s"].location[1]')");
}

TEST_CASE("append after the last item, in its indentation, with comments and keys around kept") {
  const std::string before = std::string("# my box\n") + kHead +
                             "mappings:\n"
                             "  - control: box.k1   # the big knob\n"
                             "    set: context.active_object.rotation_euler[2]\n"
                             "    to: [0, 6.2832]\n";
  const auto a = appended(before);
  CHECK(a.text == before +
                      "  - control: box.k2\n"
                      "    set: 'bpy.data.objects[\"Cube\"].location[1]'\n"
                      "    to: [-10, 10]\n");
  CHECK(a.line == 9);
  loads_learned(a);
}

TEST_CASE("append when mappings: is not the last key: the keys after it stay where they are") {
  const std::string items = "mappings:\n"
                            "  - control: box.k1\n"
                            "    set: context.scene.frame_current\n";
  const std::string tail = "\n# the layers\nlayers:\n  shift: {hold: box.b4}\n";
  const auto a = appended(kHead + items + tail);
  CHECK(a.text == kHead + items +
                      "  - control: box.k2\n"
                      "    set: 'bpy.data.objects[\"Cube\"].location[1]'\n"
                      "    to: [-10, 10]\n" +
                      tail);
  CHECK(a.line == 7);
  loads_learned(a);
}

TEST_CASE("append keeps an indented comment after the last item with the list") {
  const std::string before = std::string(kHead) +
                             "mappings:\n"
                             "  - control: box.k1\n"
                             "    set: context.scene.frame_current\n"
                             "  # - control: box.k9 (later)\n"
                             "\n"
                             "# end\n";
  const auto a = appended(before);
  CHECK(a.text == std::string(kHead) +
                      "mappings:\n"
                      "  - control: box.k1\n"
                      "    set: context.scene.frame_current\n"
                      "  # - control: box.k9 (later)\n"
                      "  - control: box.k2\n"
                      "    set: 'bpy.data.objects[\"Cube\"].location[1]'\n"
                      "    to: [-10, 10]\n"
                      "\n"
                      "# end\n");
  loads_learned(a);
}

TEST_CASE("append in the style of the existing items: no indent, wide indent") {
  SECTION("dashes at column 0") {
    const std::string before = std::string(kHead) + "mappings:\n- control: box.k1\n  set: context.scene.frame_current\n";
    const auto a = appended(before);
    CHECK(a.text == before + "- control: box.k2\n  set: 'bpy.data.objects[\"Cube\"].location[1]'\n  to: [-10, 10]\n");
    loads_learned(a);
  }
  SECTION("four spaces, three after the dash") {
    const std::string before =
        std::string(kHead) + "mappings:\n    -   control: box.k1\n        set: context.scene.frame_current\n";
    const auto a = appended(before);
    CHECK(a.text == before +
                        "    -   control: box.k2\n        set: 'bpy.data.objects[\"Cube\"].location[1]'\n"
                        "        to: [-10, 10]\n");
    loads_learned(a);
  }
  SECTION("a first item in flow style: the new one in block style after the dash") {
    const std::string before =
        std::string(kHead) + "mappings:\n  - {control: box.k1, add: context.scene.frame_current}\n";
    const auto a = appended(before);
    CHECK(a.text == before +
                        "  - control: box.k2\n    set: 'bpy.data.objects[\"Cube\"].location[1]'\n    to: [-10, 10]\n");
    loads_learned(a);
  }
}

TEST_CASE("append to a file without a trailing newline adds one before the entry and none after") {
  const std::string before = std::string(kHead) + "mappings:\n  - control: box.k1\n    set: context.scene.frame_current";
  const auto a = appended(before);
  CHECK(a.text == before + "\n  - control: box.k2\n    set: 'bpy.data.objects[\"Cube\"].location[1]'\n    to: [-10, 10]");
  loads_learned(a);
}

TEST_CASE("append to a CRLF file writes CRLF lines") {
  const std::string before =
      "devices:\r\n  box:\r\n    serial: {port: auto}\r\nmappings:\r\n  - control: box.k1\r\n    set: context.scene.a\r\n";
  const auto a = appended(before);
  CHECK(a.text == before + "  - control: box.k2\r\n    set: 'bpy.data.objects[\"Cube\"].location[1]'\r\n    to: [-10, 10]\r\n");
  CHECK(a.line == 7);
  loads_learned(a);
}

TEST_CASE("append to an empty list: mappings: [], ~ or nothing") {
  const std::string learned = "\n  - control: box.k2\n    set: 'bpy.data.objects[\"Cube\"].location[1]'\n    to: [-10, 10]";
  SECTION("[] with a comment after it") {
    const auto a = appended(std::string(kHead) + "mappings: []  # none yet\nlayers: {}\n");
    CHECK(a.text == std::string(kHead) + "mappings:  # none yet" + learned + "\nlayers: {}\n");
    CHECK(a.line == 5);
    loads_learned(a);
  }
  SECTION("[ ] at the end without a newline") {
    const auto a = appended(std::string(kHead) + "mappings: [ ]");
    CHECK(a.text == std::string(kHead) + "mappings:" + learned);
    loads_learned(a);
  }
  SECTION("~") {
    const auto a = appended(std::string(kHead) + "mappings: ~\n");
    CHECK(a.text == std::string(kHead) + "mappings:" + learned + "\n");
    loads_learned(a);
  }
  SECTION("nothing, then another key") {
    const auto a = appended(std::string("mappings:\n") + kHead);
    CHECK(a.text == "mappings:" + learned + "\n" + kHead);
    CHECK(a.line == 2);
    loads_learned(a);
  }
}

TEST_CASE("append to a flow list with items: inside its brackets") {
  const std::string before = std::string(kHead) + "mappings: [{control: box.k1, add: context.scene.frame_current},\n"
                                                  "  {control: box.b1, press: {call: screen.animation_play}} ]  # two\n";
  const auto a = appended(before);
  CHECK(a.text == std::string(kHead) +
                      "mappings: [{control: box.k1, add: context.scene.frame_current},\n"
                      "  {control: box.b1, press: {call: screen.animation_play}}, {control: box.k2, set: "
                      "'bpy.data.objects[\"Cube\"].location[1]', to: [-10, 10]} ]  # two\n");
  CHECK(a.line == 5);
  loads_learned(a);
}

TEST_CASE("append to a flow list whose last item has a comment after it: before the comment") {
  const std::string before = std::string(kHead) + "mappings: [{control: box.k1, add: context.scene.frame_current}   # one, [1]\n"
                                                  "]\n";
  const auto a = appended(before);
  CHECK(a.text == std::string(kHead) +
                      "mappings: [{control: box.k1, add: context.scene.frame_current}, {control: box.k2, set: "
                      "'bpy.data.objects[\"Cube\"].location[1]', to: [-10, 10]}   # one, [1]\n]\n");
  loads_learned(a);
  CHECK(removed(a.text, {1}).text == before);
}

TEST_CASE("append when there is no mappings: key: a new block at the end") {
  const auto a = appended(kHead);
  CHECK(a.text == std::string(kHead) + "mappings:\n  - control: box.k2\n    set: 'bpy.data.objects[\"Cube\"].location[1]'\n"
                                       "    to: [-10, 10]\n");
  CHECK(a.line == 5);
  loads_learned(a);
  const auto b = appended("devices:\n  box:\n    serial: {port: auto}");  // no newline at the end
  CHECK(b.text == "devices:\n  box:\n    serial: {port: auto}\nmappings:\n  - control: box.k2\n"
                  "    set: 'bpy.data.objects[\"Cube\"].location[1]'\n    to: [-10, 10]\n");
  CHECK(b.line == 5);
}

TEST_CASE("append refuses files it cannot place an entry in, naming why") {
  CHECK_THAT(error_of_append("devices: [oops\n"), Catch::Contains("YAML syntax"));
  CHECK_THAT(error_of_append(std::string(kHead) + "mappings: {a: 1}\n"), Catch::Contains("line 4: mappings: is not a list"));
  CHECK_THAT(error_of_append(std::string(kHead) + "mappings: 3\n"), Catch::Contains("line 4: mappings: is not a list"));
  CHECK_THAT(error_of_append("- a\n- b\n"), Catch::Contains("not a block mapping"));
  CHECK_THAT(error_of_append("{devices: {}, mappings: []}\n"), Catch::Contains("not a block mapping"));
}

TEST_CASE("remove cuts an item from its dash to its last line; comments around stay") {
  const std::string head = std::string(kHead) + "mappings:\n";
  const std::string k1 = "  - control: box.k1\n    set: context.scene.a\n";
  const std::string k2 = "  - control: box.k2   # learned\n    set: 'bpy.data.objects[\"Cube\"].location[1]'\n    to: [-10, 10]\n";
  const std::string b1 = "  # the play button\n  - control: box.b1\n    press: {call: screen.animation_play}\n";
  SECTION("in the middle") {
    const auto r = removed(head + k1 + k2 + b1, {1});
    CHECK(r.text == head + k1 + b1);
    CHECK(r.lines == std::vector<int>{7});
  }
  SECTION("the last one, keys after the list") {
    const std::string tail = "\nlayers:\n  shift: {hold: box.b4}\n";
    CHECK(removed(head + k1 + k2 + tail, {1}).text == head + k1 + tail);
  }
  SECTION("the last one, no newline at the end") {
    CHECK(removed(head + k1 + "  - control: box.k2\n    set: context.scene.b", {1}).text == head + k1);
  }
  SECTION("two at once") {
    const auto r = removed(head + k1 + k2 + b1, {0, 1});
    CHECK(r.text == head + b1);
    CHECK(r.lines == std::vector<int>{5, 7});
  }
  SECTION("the only one: mappings: stays, empty, and the file still loads") {
    const auto r = removed(head + k2, {0});
    CHECK(r.text == head);
  }
  SECTION("CRLF") {
    const std::string h = "devices:\r\n  box:\r\n    serial: {port: auto}\r\nmappings:\r\n";
    const std::string a = "  - control: box.k1\r\n    set: context.scene.a\r\n";
    const std::string b = "  - control: box.k2\r\n    set: context.scene.b\r\n";
    CHECK(removed(h + a + b, {1}).text == h + a);
    CHECK(removed(h + a + b, {0}).text == h + b);
  }
  SECTION("append then remove gives the file back, byte for byte") {
    const std::string before = head + k1 + b1 + "\n# end\n";
    const auto a = appended(before);
    CHECK(removed(a.text, {2}).text == before);
  }
}

TEST_CASE("remove a flow map item of a block list: its lines, as a block item's") {
  const std::string head = std::string(kHead) + "mappings:\n";
  const std::string k1 = "  - {control: box.k1, set: context.scene.a}   # one\n";
  const std::string k2 = "  - {control: box.k2, set: 'bpy.data.objects[\"it''s, [odd]\"].location[1]',\n"
                         "     to: [-10, 10]}\n";
  const std::string b1 = "  - control: box.b1\n    press: {call: screen.animation_play}\n";
  CHECK(removed(head + k1 + k2 + b1, {0}).text == head + k2 + b1);
  CHECK(removed(head + k1 + k2 + b1, {1}).text == head + k1 + b1);  // over two lines
  CHECK(removed(head + k1 + b1 + k2, {2}).text == head + k1 + b1);
  CHECK(removed("mappings:\n- {control: box.k1, set: context.scene.a}\n- {control: box.k2, set: context.scene.b}" +
                    std::string("\n") + kHead,
                {1})
            .text == "mappings:\n- {control: box.k1, set: context.scene.a}\n" + std::string(kHead));
}

TEST_CASE("remove an item of a flow list on one line: the item and its comma") {
  const std::string head = std::string(kHead) + "mappings: [";
  const std::string a = "{control: box.k1, set: context.scene.a}";
  const std::string b = "{control: box.k2, set: 'bpy.data.objects[\"Cube\"].location[1]', to: [-10, 10]}";
  const std::string c = "{control: box.b1, press: {call: screen.animation_play}}";
  const std::string tail = "]  # three, [see] below\nlayers: {}\n";
  SECTION("in the middle") {
    const auto r = removed(head + a + ", " + b + ", " + c + tail, {1});
    CHECK(r.text == head + a + ", " + c + tail);
    CHECK(r.lines == std::vector<int>{4});
  }
  SECTION("the first") { CHECK(removed(head + a + ", " + b + ", " + c + tail, {0}).text == head + b + ", " + c + tail); }
  SECTION("the last: the comma before it goes") {
    CHECK(removed(head + a + ", " + b + ", " + c + tail, {2}).text == head + a + ", " + b + tail);
  }
  SECTION("the last two") { CHECK(removed(head + a + ", " + b + ", " + c + tail, {1, 2}).text == head + a + tail); }
  SECTION("all of them: [] stays, and loads as no mappings") {
    CHECK(removed(head + a + ", " + b + ", " + c + tail, {0, 1, 2}).text == head + tail);
    CHECK(removed(head + " " + b + " " + tail, {0}).text == head + " " + tail);
  }
  SECTION("a trailing comma stays a trailing comma") {
    CHECK(removed(head + a + ", " + b + "," + tail, {1}).text == head + a + "," + tail);
  }
  SECTION("no newline at the end, CRLF") {
    const std::string h = "devices:\r\n  box:\r\n    serial: {port: auto}\r\nmappings: [";
    CHECK(removed(h + a + ", " + b + "]", {0}).text == h + b + "]");
  }
  SECTION("append then remove gives the file back, byte for byte") {
    const std::string before = head + a + ", " + c + tail;
    const auto added = appended(before);
    CHECK(removed(added.text, {2}).text == before);
  }
}

TEST_CASE("remove an item of a flow list over lines: its own lines, comments of the others kept") {
  const std::string open = std::string(kHead) + "mappings: [   # the knobs\n";
  const std::string a = "  {control: box.k1, set: context.scene.a},   # one\n";
  const std::string b = "  {control: box.k2,\n   set: context.scene.b},   # two, over two lines\n";
  const std::string c = "  {control: box.k3, set: context.scene.c}    # three\n";
  const std::string close = "]\n# after\n";
  SECTION("in the middle") { CHECK(removed(open + a + b + c + close, {1}).text == open + a + c + close); }
  SECTION("the first") { CHECK(removed(open + a + b + c + close, {0}).text == open + b + c + close); }
  SECTION("the last: its line, and the comma of the one before") {
    CHECK(removed(open + a + b + c + close, {2}).text ==
          open + a + "  {control: box.k2,\n   set: context.scene.b}   # two, over two lines\n" + close);
  }
  SECTION("the last with ] on its line: the item goes, the ] stays") {
    const std::string last = "  {control: box.k3, set: context.scene.c}]  # end\n";
    CHECK(removed(open + a + last, {1}).text ==
          open + "  {control: box.k1, set: context.scene.a}   # one\n]  # end\n");
  }
  SECTION("items on the [ line and after it") {
    const std::string t = std::string(kHead) + "mappings: [{control: box.k1, set: context.scene.a},\n"
                                               "           {control: box.k2, set: context.scene.b}]\n";
    CHECK(removed(t, {0}).text == std::string(kHead) + "mappings: [\n           {control: box.k2, set: context.scene.b}]\n");
    CHECK(removed(t, {1}).text == std::string(kHead) + "mappings: [{control: box.k1, set: context.scene.a}\n]\n");
  }
  SECTION("CRLF and no newline at the end") {
    const std::string h = "devices:\r\n  box:\r\n    serial: {port: auto}\r\nmappings: [\r\n";
    const std::string x = "  {control: box.k1, set: context.scene.a},\r\n";
    const std::string y = "  {control: box.k2, set: context.scene.b}\r\n";
    CHECK(removed(h + x + y + "]", {1}).text == h + "  {control: box.k1, set: context.scene.a}\r\n]");
    CHECK(removed(h + x + y + "]", {0}).text == h + y + "]");
  }
}

TEST_CASE("remove refuses what it cannot cut safely, naming the line") {
  CHECK_THAT(error_of_remove(std::string(kHead) + "mappings:\n  - control: box.k1\n    set: context.scene.a\n", {1}),
             Catch::Contains("has 1 mappings, not the one to remove"));
  CHECK_THAT(error_of_remove(std::string(kHead) + "mappings: {a: 1}\n", {0}), Catch::Contains("no list of mappings"));
  // An alias repeats its anchor's node: cutting either would change the other.
  CHECK_THAT(error_of_remove(std::string(kHead) + "mappings:\n  - &k {control: box.k1, set: context.scene.a}\n  - *k\n",
                             {1}),
             Catch::Contains("line 4: mapping 2 of mappings: is an alias"));
  CHECK_THAT(error_of_remove(std::string(kHead) + "mappings: [\n", {0}), Catch::Contains("YAML syntax"));
}
