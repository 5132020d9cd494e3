// BlenderLink + Outbox against a loopback NDJSON peer: coalescing under backpressure
// keeps the newest value, acknowledgements clear the resend list.
#include <catch2/catch.hpp>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "bridge/blender_link.hpp"
#include "harness.hpp"

using namespace knoblink;
using namespace kltest;
using nlohmann::json;

namespace {
struct Listener_ final : LinkListener {
  std::atomic<int> ups{0}, downs{0};
  void on_link_up(const std::string&, const std::string&) override { ++ups; }
  void on_link_down(const std::string&) override { ++downs; }
  void on_watched(std::uint32_t, std::optional<double>) override {}
  void on_remote_error(const std::string&) override {}
};
}  // namespace

TEST_CASE("a slow Blender gets the newest value, not a backlog, and every press") {
  kltest::Listener server;
  TargetTable targets;
  const auto x = targets.intern("context.scene.frame_float");
  const auto play = targets.intern("screen.animation_play");
  Outbox outbox(targets.size(), {true, false});
  Listener_ events;
  asio::io_context io;
  LinkOptions opt;
  opt.port = server.port();
  BlenderLink link(io, opt, outbox, targets, events);
  link.start();
  std::thread loop([&] {
    auto guard = asio::make_work_guard(io);
    io.run();
  });

  auto conn = server.accept(10s);
  REQUIRE(conn);
  REQUIRE(conn->read_line(5s));
  conn->send(R"({"hello":1,"server":"t","blender":"t"})" "\n");
  REQUIRE(wait_until([&] { return events.ups == 1; }, 5s));

  // 300,000 knob values and 100 presses while Blender does not read.
  constexpr int kValues = 300000;
  for (int i = 1; i <= kValues; ++i) {
    asio::post(io, [&, i] {
      outbox.push({Op::set, x, static_cast<double>(i)});
      if (i % 3000 == 0) outbox.push({Op::call, play, 0});
      link.kick();
    });
  }
  std::atomic<bool> posted{false};
  asio::post(io, [&] { posted = true; });
  REQUIRE(wait_until([&] { return posted.load(); }, 20s));

  int lines = 0, presses = 0;
  double last = -1;
  std::uint64_t last_id = 0;
  while (last != kValues || presses < kValues / 3000) {
    auto l = conn->read_line(10s);
    REQUIRE(l);
    ++lines;
    const auto j = json::parse(*l);
    if (j["op"] == "call") {
      ++presses;
      last_id = j["id"].get<std::uint64_t>();
      conn->send(R"({"id":)" + std::to_string(last_id) + R"(,"ok":true})" "\n");
    } else {
      CHECK(j["value"].get<double>() > last);  // never an older value after a newer one
      last = j["value"].get<double>();
    }
  }
  CHECK(presses == 100);
  CHECK(last == kValues);
  CHECK(lines < kValues);  // coalesced, not a backlog
  REQUIRE(wait_until([&] { return outbox.unacked() == 0; }, 5s));
  asio::post(io, [&] {
    link.stop();
    io.stop();
  });
  loop.join();
  INFO("lines on the wire: " << lines);
}
