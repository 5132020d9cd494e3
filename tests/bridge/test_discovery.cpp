// Finding Blender through the add-on's discovery files (docs/protocol.md, "Discovery and token").
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "bridge/discovery.hpp"

using namespace knoblink;

namespace {

struct Dir {
  std::filesystem::path path;
  Dir() {
    char tmpl[] = "/tmp/knoblink-discovery-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~Dir() { std::filesystem::remove_all(path); }
  void write(const std::string& name, const std::string& text) const { std::ofstream(path / name) << text; }
};

std::string file(int port, long pid, const std::string& blend, double started) {
  return "{\"port\":" + std::to_string(port) + ",\"token\":\"t" + std::to_string(port) + "\",\"pid\":" +
         std::to_string(pid) + ",\"blender\":\"3.4.1\",\"file\":\"" + blend + "\",\"started\":" + std::to_string(started) +
         "}";
}

}  // namespace

TEST_CASE("discovery: live Blenders are found, dead and broken files are skipped") {
  Dir d;
  d.write("blender-9876.json", file(9876, ::getpid(), "/home/a/rig.blend", 100));
  d.write("blender-9877.json", file(9877, ::getpid(), "", 200));
  d.write("blender-9878.json", file(9878, 999999999, "/home/a/old.blend", 300));  // that process is gone
  d.write("blender-9879.json", "{\"port\": \"x\"}");
  d.write("notes.txt", "not a discovery file");
  d.write("blender-9880.json", file(9880, ::getpid(), "", 400));
  std::filesystem::permissions(d.path / "blender-9880.json", std::filesystem::perms::others_write,
                               std::filesystem::perm_options::add);  // anyone could have written it
  std::vector<std::string> problems;
  const auto found = find_blenders(d.path.string(), problems);
  REQUIRE(found.size() == 2);
  REQUIRE(problems.size() == 2);
  std::sort(problems.begin(), problems.end());
  CHECK_THAT(problems[0], Catch::Contains("blender-9879.json: no valid \"port\""));
  CHECK_THAT(problems[1], Catch::Contains("blender-9880.json: not owned by this user or writable by others"));

  std::string why;
  auto b = choose_blender(found, "", why);
  REQUIRE(b);
  CHECK(b->port == 9877);  // the most recently started
  CHECK(b->token == "t9877");
  CHECK_THAT(why, Catch::Contains("the most recently started of 2 running"));
  b = choose_blender(found, "rig.blend", why);
  REQUIRE(b);
  CHECK(b->port == 9876);
  CHECK_THAT(why, Catch::Contains("matches 'rig.blend'"));
  CHECK_FALSE(choose_blender(found, "nothing.blend", why));
  CHECK_THAT(why, Catch::Contains("none of the 2 running Blenders has a file matching 'nothing.blend'"));
  CHECK_FALSE(choose_blender({}, "", why));
  CHECK_THAT(why, Catch::Contains("no running Blender with the KnobLink add-on found"));
}

TEST_CASE("discovery: a file without a token or with a bad port is not a Blender") {
  std::string why;
  CHECK_FALSE(parse_discovery("{\"port\":9876}", "f", why));
  CHECK(why == "no \"token\"");
  CHECK_FALSE(parse_discovery("{\"port\":70000,\"token\":\"x\"}", "f", why));
  CHECK_FALSE(parse_discovery("[1]", "f", why));
  CHECK(why == "not a JSON object");
  const auto b = parse_discovery(file(1234, 42, "/x.blend", 1.5), "f", why);
  REQUIRE(b);
  CHECK((b->port == 1234 && b->pid == 42 && b->file == "/x.blend" && b->started == 1.5));
}
