#include "bridge/demo.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "bridge/blender_link.hpp"
#include "bridge/bridge.hpp"
#include "bridge/child_process.hpp"
#include "bridge/file_watch.hpp"
#include "knoblink/version.hpp"

namespace knoblink {

namespace {

/// A port on 127.0.0.1 nobody listens on right now (the add-on takes the next one if it races).
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  std::uint16_t port = 9876;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

/// Watches scene values through a second add-on connection and remembers what changed.
class SceneWatcher final : public LinkListener {
 public:
  struct Seen {
    double first = 0, last = 0;
    int updates = 0;
  };
  explicit SceneWatcher(const std::vector<std::string>& paths) : outbox_(0, {}) {
    for (const auto& p : paths) targets_.intern(p);
  }
  void start(asio::io_context& io, std::uint16_t port) {
    LinkOptions o;
    BlenderConfig b;
    b.port = port;
    o.locate = [b](std::string& why) { return locate_blender(b, why); };  // the token of that port's Blender
    o.client = "knoblink-demo-watcher/" + std::string(kVersion);
    outbox_.retarget(targets_.size(), std::vector<bool>(targets_.size(), false));
    link_ = std::make_unique<BlenderLink>(io, o, outbox_, targets_, *this);
    std::vector<std::uint32_t> all(targets_.size());
    for (std::uint32_t i = 0; i < all.size(); ++i) all[i] = i;
    link_->set_watched(all);
    link_->start();
  }
  void stop() {
    if (link_) link_->stop();
  }
  void on_link_up(const std::string&, const std::string&) override {}
  void on_link_down(const std::string&) override {}
  void on_watched(std::uint32_t t, std::optional<double> value) override {
    if (!value) return;
    const double v = *value;
    auto& s = seen_[t];
    if (s.updates == 0) s.first = v;
    else if (v == s.last) return;
    s.last = v;
    ++s.updates;
    std::printf("scene  %-48s = %.4g\n", targets_.text(t).c_str(), v);
    std::fflush(stdout);
  }
  void on_remote_error(const std::string& text) override { spdlog::warn("demo watcher: {}", text); }
  /// Paths whose value changed after the first report.
  std::string summary(int& changed) const {
    std::string out;
    changed = 0;
    for (const auto& [t, s] : seen_) {
      if (s.updates < 2) continue;
      ++changed;
      char buf[256];
      std::snprintf(buf, sizeof buf, "%s%s %.4g->%.4g (%d updates)", out.empty() ? "" : ", ",
                    targets_.text(t).c_str(), s.first, s.last, s.updates - 1);
      out += buf;
    }
    return out;
  }

 private:
  TargetTable targets_;
  Outbox outbox_;
  std::unique_ptr<BlenderLink> link_;
  std::map<std::uint32_t, Seen> seen_;
};

}  // namespace

int run_demo(const DemoOptions& opt) {
  auto loaded = load_config_file(opt.config);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  Config cfg = std::move(*loaded.config);
  const int box = cfg.device_index("box");
  auto* serial = box < 0 ? nullptr : std::get_if<SerialConfig>(&cfg.devices[box].kind);
  if (!serial) {
    std::fprintf(stderr, "demo: %s needs a serial device named box\n", opt.config.c_str());
    return 1;
  }
  for (const auto& [what, path] : {std::pair{"emulator", opt.sim}, std::pair{"firmware", opt.firmware},
                                   std::pair{"Blender launcher", opt.launcher}}) {
    if (!std::filesystem::exists(path)) {
      std::fprintf(stderr, "demo: the %s is missing: %s (run scripts/build)\n", what, path.c_str());
      return 1;
    }
  }

  char tmpl[] = "/tmp/knoblink-demo-XXXXXX";
  const std::string tmp = ::mkdtemp(tmpl) ? tmpl : "/tmp";
  const std::string link = tmp + "/knobbox";
  serial->port = link;

  asio::io_context io(1);
  std::vector<std::string> watched;
  for (const auto& m : cfg.mappings)
    if (!m.path().empty() && std::find(watched.begin(), watched.end(), m.path()) == watched.end())
      watched.push_back(m.path());
  SceneWatcher scene(watched);
  std::unique_ptr<Bridge> bridge;
  ChildProcess sim(io, "knoblink-sim"), blender(io, "blender");
  bool sim_ready = false, blender_ready = false, stopping = false;
  int leds = 0, status = 0;
  asio::steady_timer sweep(io), deadline(io), startup(io);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  FileWatch watch(io, opt.config, [&] {
    if (bridge) bridge->reload_file();
  });

  auto stop = [&](int code) {
    if (stopping) return;
    stopping = true;
    status = code;
    sweep.cancel();
    deadline.cancel();
    startup.cancel();
    signals.cancel();
    watch.stop();
    scene.stop();
    if (bridge) bridge->stop();
    sim.stop(std::chrono::milliseconds(2000));
    blender.stop(std::chrono::milliseconds(5000));
    io.stop();
  };

  // The choreography: what a person would do with the box, one step every 50 ms.
  int step = 0;
  std::function<void()> do_sweep = [&] {
    sweep.expires_after(std::chrono::milliseconds(50));
    sweep.async_wait([&](const asio::error_code& ec) {
      if (ec) return;
      const double t = step * 0.05;
      const int k1 = static_cast<int>(std::lround(511.5 + 511.5 * std::sin(t * 0.8)));
      const int k2 = static_cast<int>(std::lround(511.5 + 511.5 * std::sin(t * 1.3 + 1)));
      sim.send("knob 1 " + std::to_string(k1));
      sim.send("knob 2 " + std::to_string(k2));
      if (step % 10 == 0) sim.send("enc 1 1");
      if (step % 40 == 20) sim.send("press 2");
      if (step % 40 == 22) sim.send("release 2");
      if (step % 60 == 30) sim.send("press 3");
      if (step % 60 == 32) sim.send("release 3");
      ++step;
      do_sweep();
    });
  };
  auto maybe_go = [&] {
    if (!sim_ready || !blender_ready || bridge) return;
    startup.cancel();
    std::printf("demo: Blender ready on 127.0.0.1:%u, knob box on %s; sweeping the knobs%s\n",
                static_cast<unsigned>(cfg.blender.port.value_or(0)), link.c_str(),
                opt.duration_s > 0 ? "" : " (Ctrl-C stops)");
    bridge = std::make_unique<Bridge>(io, cfg);
    // A save of the mapping reloads it, as with `knoblink run` (docs/mapping.md, "Reloading"),
    // still on the emulated box and this Blender.
    bridge->set_overrides([&link, port = cfg.blender.port](Config& c) {
      if (const int i = c.device_index("box"); i >= 0)
        if (auto* s = std::get_if<SerialConfig>(&c.devices[i].kind)) s->port = link;
      c.blender.port = port;
    });
    bridge->start();
    if (std::string why; !watch.start(why)) spdlog::warn("{}", why);
    do_sweep();
  };

  std::string error;
  if (!sim.start({opt.sim, "--link", link, opt.firmware},
                 [&](const std::string& line, bool eof) {
                   if (eof) {
                     if (!stopping) std::fprintf(stderr, "demo: the emulator exited\n"), stop(1);
                     return;
                   }
                   if (line.rfind("pty ", 0) == 0) {
                     sim_ready = true;
                     maybe_go();
                   } else if (line.rfind("led ", 0) == 0) {
                     ++leds;
                     std::printf("box    LED %s\n", line.substr(4).c_str());
                     std::fflush(stdout);
                   }
                 },
                 error)) {
    std::fprintf(stderr, "demo: %s\n", error.c_str());
    return 1;
  }
  std::vector<std::string> bl = {opt.launcher, "--port", std::to_string(free_port())};
  if (opt.gui) bl.push_back("--gui");
  const std::string blender_log = tmp + "/blender.log";
  if (!blender.start(bl,
                     [&](const std::string& line, bool eof) {
                       if (eof) {
                         if (!stopping)
                           std::fprintf(stderr, "demo: Blender exited; its log: %s\n", blender_log.c_str()), stop(1);
                         return;
                       }
                       const std::string tag = "knoblink-addon listening on ";
                       if (const auto at = line.find(tag); at != std::string::npos && !blender_ready) {
                         const auto colon = line.rfind(':');
                         cfg.blender.port = static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)));
                         blender_ready = true;
                         scene.start(io, *cfg.blender.port);
                         maybe_go();
                       }
                     },
                     error, blender_log)) {
    std::fprintf(stderr, "demo: %s\n", error.c_str());
    return 1;
  }
  startup.expires_after(std::chrono::seconds(90));
  startup.async_wait([&](const asio::error_code& ec) {
    if (ec) return;
    std::fprintf(stderr, "demo: %s did not start within 90 s (log: %s)\n", blender_ready ? "the emulator" : "Blender",
                 blender_log.c_str());
    stop(1);
  });
  if (opt.duration_s > 0) {
    deadline.expires_after(std::chrono::milliseconds(static_cast<long>(opt.duration_s * 1000)));
    deadline.async_wait([&](const asio::error_code& ec) {
      if (!ec) stop(0);
    });
  }
  signals.async_wait([&](const asio::error_code& ec, int) {
    if (!ec) stop(0);
  });
  io.run();
  if (status == 0) {
    int changed = 0;
    const std::string what = scene.summary(changed);
    std::printf("demo summary: %s; %d scene values changed%s%s; %d LED changes; bridge %s\n",
                changed > 0 ? "Blender changed" : "Blender did NOT change", changed, changed ? ": " : "",
                what.c_str(), leds, bridge ? bridge->counters_line().c_str() : "never started");
    status = changed > 0 ? 0 : 1;
  }
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);
  return status;
}

}  // namespace knoblink
