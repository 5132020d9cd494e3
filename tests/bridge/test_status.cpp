// Where the time goes and what the panel is told: the latency histogram, the error log,
// the status and mappings lines (docs/protocol.md, "Status"), and commands' read times
// through the mapper and the outbox.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>

#include "bridge/latency.hpp"
#include "bridge/link_codec.hpp"
#include "bridge/mapper.hpp"
#include "bridge/outbox.hpp"
#include "bridge/status.hpp"

using namespace knoblink;
using nlohmann::json;

TEST_CASE("latency: buckets are contiguous, exact below 32 us, within 1/16 above") {
  std::size_t last = 0;
  for (std::int64_t us = 0; us < 200'000; ++us) {
    const auto b = LatencyHistogram::bucket(us);
    CHECK((b == last || b == last + 1));
    last = b;
    const auto low = LatencyHistogram::bucket_low(b);
    REQUIRE(low <= us);
    if (us < 32) CHECK(low == us);
    else CHECK(static_cast<double>(us - low) <= static_cast<double>(us) / 16);
  }
  CHECK(LatencyHistogram::bucket(std::int64_t{1} << 40) == LatencyHistogram::kBuckets - 1);
  CHECK(LatencyHistogram::bucket(-5) == 0);
}

TEST_CASE("latency: percentiles of known data, within 1/32") {
  LatencyHistogram h;
  CHECK(h.summary() == LatencySummary{});
  std::vector<std::int64_t> v;
  std::mt19937 rng(7);
  std::lognormal_distribution<double> dist(5.0, 1.2);  // a latency-like spread around 150 us
  for (int i = 0; i < 20000; ++i) v.push_back(static_cast<std::int64_t>(dist(rng)));
  for (auto x : v) h.record(x);
  std::sort(v.begin(), v.end());
  const auto exact = [&](double q) { return static_cast<double>(v[static_cast<std::size_t>(q * static_cast<double>(v.size())) - 1]); };
  CHECK(h.count() == 20000);
  CHECK(h.max() == v.back());
  CHECK(static_cast<double>(h.percentile(0.5)) == Approx(exact(0.5)).epsilon(1.0 / 32 + 0.01));
  CHECK(static_cast<double>(h.percentile(0.99)) == Approx(exact(0.99)).epsilon(1.0 / 32 + 0.01));
  h.clear();
  h.record(5);
  CHECK(h.summary() == LatencySummary{1, 5, 5, 5});
}

TEST_CASE("latency: a stage's window closes on roll, the total goes on") {
  LatencyStage s;
  s.record(100);
  s.record(300);
  CHECK(s.last_window().n == 0);  // no window closed yet
  s.roll();
  CHECK(s.last_window().n == 2);
  s.roll();
  CHECK(s.last_window().n == 0);  // an idle window
  CHECK(s.total().n == 2);
  CHECK(to_string(s.total()).find("(n=2)") != std::string::npos);
  CHECK(to_string(s.last_window()) == "none");
}

TEST_CASE("status: the error log keeps the last 8 distinct texts, counting repeats") {
  ErrorLog log;
  for (int i = 0; i < 10; ++i) log.add("e" + std::to_string(i), i);
  REQUIRE(log.entries().size() == ErrorLog::kMax);
  CHECK(log.entries().front().text == "e2");
  log.add("e5", 42);
  CHECK(log.entries().back() == StatusError{"e5", 2, 42});
  CHECK(log.entries().size() == ErrorLog::kMax);
}

TEST_CASE("codec: the status line carries every field docs/protocol.md names") {
  Status s;
  s.file = "/home/u/box.yaml";
  s.reloads = 2;
  s.config_errors = {"/home/u/box.yaml:3:5: bad"};
  s.devices = {{"box", "serial", "open", "/dev/pts/3", "connected"}};
  s.layers = {{"shift", true}};
  s.errors = {{"Blender refused set x: not_found no x", 3, 1796119199.5}};
  s.read_to_sent = {{10, 80, 400, 900}, {100, 70, 380, 1200}, 5};
  std::string out;
  codec::append_status(out, s);
  REQUIRE(out.back() == '\n');
  const auto j = json::parse(out);
  CHECK(j == json::parse(R"({"op":"status","file":"/home/u/box.yaml","reloads":2,
    "config_errors":["/home/u/box.yaml:3:5: bad"],
    "devices":[{"name":"box","kind":"serial","state":"open","attached":"/dev/pts/3","detail":"connected"}],
    "layers":[{"name":"shift","on":true}],
    "errors":[{"text":"Blender refused set x: not_found no x","count":3,"at":1796119199.5}],
    "latency":{"read_to_sent":{"n":10,"p50_us":80,"p99_us":400,"max_us":900,"window_s":5.0,
                               "total":{"n":100,"p50_us":70,"p99_us":380,"max_us":1200}}}})"));
  s.record = false;
  s.devices[0].detail = "bad \xff byte";  // a device's own words may be any bytes
  out.clear();
  codec::append_status(out, s);
  const auto k = json::parse(out);
  CHECK(k["record"] == false);
  CHECK(k["devices"][0]["detail"].get<std::string>().find("bad ") == 0);
}

TEST_CASE("codec: the mappings line lists each control -> target, a button's actions one by one") {
  auto r = load_config_text(R"(devices:
  box: {serial: {port: /dev/null}}
layers:
  shift: {hold: box.b4}
mappings:
  - control: box.k1
    set: 'bpy.data.objects["Cube"].location[0]'
  - control: box.k1
    layer: shift
    set: context.active_object.scale[2]
  - control: box.e1
    add: context.scene.frame_current
  - control: box.b1
    press: {call: screen.animation_play}
    long: {call: screen.animation_cancel}
    led: box.l1
    watch: context.scene.use_gravity
  - control: box.l2
    watch: context.scene.use_preview_range
)",
                            "m.yaml");
  INFO((r.errors.empty() ? "" : r.errors[0]));
  REQUIRE(r.config);
  std::string out;
  codec::append_mappings(out, *r.config);
  const auto j = json::parse(out);
  CHECK(j["op"] == "mappings");
  CHECK(j["file"] == "m.yaml");
  const auto& m = j["mappings"];
  REQUIRE(m.size() == 6);
  CHECK(m[0] == json::parse(R"({"control":"box.k1","does":"set","target":"bpy.data.objects[\"Cube\"].location[0]","line":6})"));
  CHECK(m[1]["layer"] == "shift");
  CHECK(m[2]["does"] == "add");
  CHECK((m[3]["does"] == "call" && m[3]["on"] == "press" && m[3]["target"] == "screen.animation_play" &&
         m[3]["led"] == "box.l1"));
  CHECK((m[4]["on"] == "long" && m[4]["target"] == "screen.animation_cancel"));
  CHECK((m[5]["does"] == "watch" && m[5]["target"] == "context.scene.use_preview_range"));
  CHECK_FALSE(m[0].contains("unsaved"));
  // A learned mapping the file could not take: why, and no line of the file.
  r.config->mappings[2].unsaved = "m.yaml is read-only (mode 0444)";
  out.clear();
  codec::append_mappings(out, *r.config);
  CHECK(json::parse(out)["mappings"][2] ==
        json::parse(R"j({"control":"box.e1","does":"add","target":"context.scene.frame_current","line":0,
                         "unsaved":"m.yaml is read-only (mode 0444)"})j"));
}

TEST_CASE("codec: the hello answer's features and the add-on's latency event decode") {
  using K = codec::Answer::Kind;
  auto a = codec::decode_answer(R"({"hello":1,"server":"s","blender":"3.4.1","features":["status","x",3]})");
  CHECK(a.features == std::vector<std::string>{"status", "x"});
  a = codec::decode_answer(R"({"ev":"latency","stage":"received_to_applied","window_s":5,"n":40,"p50_us":900,
    "p99_us":4800,"max_us":5100,"total":{"n":400,"p50_us":800,"p99_us":4700,"max_us":9000}})");
  REQUIRE(a.kind == K::latency);
  CHECK(a.stage == "received_to_applied");
  CHECK(a.figures == StageStatus{{40, 900, 4800, 5100}, {400, 800, 4700, 9000}, 5});
}

namespace {
struct Recorder final : CommandSink {
  std::vector<Command> history;
  void push(const Command& c) override { history.push_back(c); }
};
}  // namespace

TEST_CASE("commands carry the read time of their event; a merged set the newest, a sum the oldest") {
  auto r = load_config_text(R"(devices:
  box: {serial: {port: /dev/null}}
mappings:
  - control: box.k1
    set: context.scene.a
  - control: box.e1
    add: context.scene.b
)",
                            "m.yaml");
  REQUIRE(r.config);
  TargetTable targets;
  Mapper mapper(*r.config, targets);
  Recorder rec;
  const auto ev = [](const char* c, int v, std::int64_t t) {
    ControlEvent e;
    e.control = Name::unchecked(c);
    e.kind = ControlKind::abs;
    e.value = v;
    e.t_us = t;
    return e;
  };
  mapper.on_event(ev("k1", 10, 1000), rec);
  REQUIRE(rec.history.size() == 1);
  CHECK(rec.history[0].t_us == 1000);

  std::vector<bool> absolute(targets.size());
  for (std::uint32_t t = 0; t < targets.size(); ++t) absolute[t] = mapper.is_absolute(t);
  Outbox box(targets.size(), absolute);
  mapper.on_event(ev("k1", 10, 1000), box);
  mapper.on_event(ev("k1", 20, 2000), box);  // merges: the newest read
  mapper.on_event(ev("e1", 1, 3000), box);
  mapper.on_event(ev("e1", 1, 4000), box);   // sums: waits since the oldest
  auto a = box.pop();
  auto b = box.pop();
  REQUIRE((a && b));
  CHECK(a->cmd.t_us == 2000);
  CHECK(b->cmd.t_us == 3000);
  // After a reconnect the latest values and the unacknowledged add are sent again, untimed.
  box.on_disconnect();
  box.on_connect();
  while (const auto o = box.pop()) CHECK(o->cmd.t_us == 0);
}
