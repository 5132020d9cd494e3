// knoblink: the command line. Thin: parses arguments and wires the pieces.
#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>

#include "bridge/bridge.hpp"
#include "bridge/config.hpp"
#include "bridge/demo.hpp"
#include "bridge/devices.hpp"
#include "bridge/discovery.hpp"
#include "bridge/file_watch.hpp"
#include "knoblink/version.hpp"

using namespace knoblink;

namespace {

void setup_logging(int verbosity) {
  auto logger = spdlog::stderr_color_mt("knoblink");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(verbosity > 0 ? spdlog::level::debug : spdlog::level::info);
}

/// Loads a config, printing every problem; nullopt on any.
std::optional<Config> load_or_report(const std::string& file) {
  auto r = load_config_file(file);
  for (const auto& e : r.errors) std::cerr << e << "\n";
  if (!r.errors.empty())
    std::cerr << r.errors.size() << " problem" << (r.errors.size() == 1 ? "" : "s") << " in " << file << "\n";
  return std::move(r.config);
}

int cmd_check(const std::string& file) {
  const auto cfg = load_or_report(file);
  if (!cfg) return 1;
  std::cout << file << ": ok (" << cfg->devices.size() << " devices, " << cfg->mappings.size() << " mappings)\n";
  return 0;
}

/// The devices, then the running Blenders the bridge could connect to.
int cmd_list() {
  const bool ok = list_devices(std::cout, std::cerr);
  std::vector<std::string> problems;
  const auto blenders = find_blenders(discovery_dir(), problems);
  std::cout << "Blenders with the KnobLink add-on (" << discovery_dir() << "):\n";
  if (blenders.empty()) std::cout << "  (none running)\n";
  for (const auto& b : blenders)
    std::cout << "  port " << b.port << "  Blender " << b.blender << "  pid " << b.pid << "  "
              << (b.file.empty() ? "(unsaved file)" : b.file) << "\n      blender: {file: \""
              << std::filesystem::path(b.file).filename().string() << "\"}\n";
  for (const auto& p : problems) std::cout << "  skipped " << p << "\n";
  return ok ? 0 : 1;
}

int cmd_descriptor(const std::string& file) {
  std::string text;
  const bool ok = describe_descriptor(file, text);
  (ok ? std::cout : std::cerr) << text << (ok ? "" : "\n");
  return ok ? 0 : 1;
}

/// Runs io until SIGINT/SIGTERM; on_hup and on_usr1 are called for those signals.
void run_until_signalled(asio::io_context& io, const std::function<void()>& on_stop,
                         const std::function<void()>& on_hup, const std::function<void()>& on_usr1) {
  asio::signal_set stop_signals(io, SIGINT, SIGTERM);
  asio::signal_set other(io, SIGHUP, SIGUSR1);
  stop_signals.async_wait([&](const asio::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("{}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    on_stop();
    other.cancel();
  });
  std::function<void()> wait_other = [&] {
    other.async_wait([&](const asio::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP && on_hup) on_hup();
      if (sig == SIGUSR1 && on_usr1) on_usr1();
      wait_other();
    });
  };
  wait_other();
  io.run();
}

/// `knoblink run` without --config: $XDG_CONFIG_HOME/knoblink/knoblink.yaml, else
/// ~/.config/knoblink/knoblink.yaml (docs/install.md, "The mapping file").
std::string default_config_path() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg && *xdg == '/') return std::string(xdg) + "/knoblink/knoblink.yaml";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.config/knoblink/knoblink.yaml";
}

/// What the command line overrides in the mapping file, at start and on every reload.
struct RunOverrides {
  std::optional<std::uint16_t> blender_port;  ///< --blender-port (the add-on that started us)
  void apply(Config& cfg) const {
    if (!blender_port) return;
    // That add-on on this machine, with the token of its discovery file: not another Blender.
    cfg.blender = BlenderConfig{};
    cfg.blender.port = blender_port;
  }
};

int cmd_run(std::string file, int verbosity, const RunOverrides& overrides) {
  if (file.empty()) {
    file = default_config_path();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      std::cerr << "knoblink run: no --config given and the default mapping file " << file
                << " does not exist; write one there (start from examples/knobbox.yaml, every key is in "
                   "docs/mapping.md) or pass --config FILE\n";
      return 1;
    }
  }
  auto cfg = load_or_report(file);
  if (!cfg) return 1;
  overrides.apply(*cfg);
  asio::io_context io(1);
  Bridge bridge(io, std::move(*cfg));
  bridge.set_overrides([&overrides](Config& c) { overrides.apply(c); });  // reloads, learn and forget too
  bridge.start();
  // Reload on save (docs/mapping.md, "Reloading"); SIGHUP reloads too.
  FileWatch watch(io, file, [&] { bridge.reload_file(); });
  if (std::string why; !watch.start(why)) spdlog::warn("{}", why);
  asio::steady_timer stats(io);
  std::function<void()> tick = [&] {
    stats.expires_after(std::chrono::seconds(5));
    stats.async_wait([&](const asio::error_code& ec) {
      if (ec) return;
      spdlog::debug("counters: {}", bridge.counters_line());
      spdlog::debug("latency: {}", bridge.latency_line());
      tick();
    });
  };
  if (verbosity > 0) tick();
  spdlog::info("knoblink running with {}; reloads when it is saved or on SIGHUP; Ctrl-C stops, SIGUSR1 prints "
               "counters and latencies", file);
  run_until_signalled(
      io,
      [&] {
        stats.cancel();
        watch.stop();
        bridge.stop();
      },
      [&] { bridge.reload_file(); },
      [&] {
        spdlog::info("counters: {}", bridge.counters_line());
        spdlog::info("latency: {}", bridge.latency_line());
        for (const auto& line : bridge.device_lines()) spdlog::info("device {}", line);
      });
  std::cerr << "counters: " << bridge.counters_line() << "\n";
  return 0;
}

/// Prints what the devices send, without Blender.
class MonitorSink final : public EventSink {
 public:
  explicit MonitorSink(std::vector<std::string> names) : names_(std::move(names)) {}
  void on_event(const ControlEvent& e) override {
    std::printf("%s.%.*s %s %d%s\n", names_[e.device].c_str(), static_cast<int>(e.control.view().size()),
                e.control.view().data(), std::string(to_string(e.kind)).c_str(), e.value,
                e.snapshot ? " (snapshot)" : "");
    std::fflush(stdout);
  }
  void on_notice(std::uint16_t, Severity s, std::string_view text) override { log_notice(s, text); }
  void on_connection(std::uint16_t d, bool up) override {
    std::printf("# %s %s\n", names_[d].c_str(), up ? "connected" : "disconnected");
    std::fflush(stdout);
  }
  void on_control(std::uint16_t d, const ControlInfo& c) override {
    std::printf("# %s.%.*s is %s", names_[d].c_str(), static_cast<int>(c.name.view().size()), c.name.view().data(),
                std::string(to_string(c.kind)).c_str());
    if (c.has_range) std::printf(" %d..%d", c.min, c.max);
    std::printf("\n");
    std::fflush(stdout);
  }

 private:
  std::vector<std::string> names_;
};

int cmd_monitor(const std::string& file, const std::string& port, int baud) {
  std::vector<DeviceConfig> devices;
  if (!file.empty()) {
    auto cfg = load_or_report(file);
    if (!cfg) return 1;
    devices = std::move(cfg->devices);
  } else {
    SerialConfig serial;
    serial.port = port;
    serial.baud = baud;
    devices.push_back({"dev", serial, 0});
  }
  std::vector<std::string> names;
  for (const auto& d : devices) names.push_back(d.name);
  MonitorSink sink(names);
  asio::io_context io(1);
  DeviceContext context(io);
  std::vector<std::unique_ptr<DeviceSource>> sources;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    std::string error;
    auto source = make_device(context, static_cast<std::uint16_t>(i), devices[i], sink, error);
    if (!source) {
      spdlog::error("{}", error);
      continue;
    }
    source->start();
    sources.push_back(std::move(source));
  }
  run_until_signalled(
      io,
      [&] {
        for (auto& s : sources) s->stop();
      },
      nullptr, nullptr);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"knoblink: knobs, encoders and buttons -> Blender"};
  app.require_subcommand(1);
  app.fallthrough();  // -v works before or after the subcommand
  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "Debug logs (and counters every 5 s with run)");
  app.set_version_flag("--version", "knoblink " + std::string(knoblink::kVersion));

  std::string config;
  auto* run = app.add_subcommand("run", "Map the devices of a mapping file to Blender");
  run->add_option("-c,--config", config,
                  "The mapping file (YAML); default $XDG_CONFIG_HOME/knoblink/knoblink.yaml (~/.config/...)")
      ->check(CLI::ExistingFile);
  RunOverrides overrides;
  run->add_option("--blender-port", overrides.blender_port,
                  "Connect to the add-on on this port (token from its discovery file), whatever blender: says");
  bool exit_with_parent = false;
  run->add_flag("--exit-with-parent", exit_with_parent,
                "Stop when the process that started this one ends (the add-on's bundled bridge)");

  std::string check_file;
  auto* check = app.add_subcommand("check", "Validate a mapping file; prints file:line:col for each problem");
  check->add_option("file", check_file, "The mapping file (YAML)")->required();

  auto* list = app.add_subcommand("list", "List serial ports and HID devices with a ready-to-paste match:");

  std::string descriptor_file;
  auto* descriptor = app.add_subcommand("descriptor", "Show the controls a HID report descriptor declares");
  descriptor->add_option("file", descriptor_file,
                         "Raw bytes (/sys/class/hidraw/hidrawN/device/report_descriptor) or hex text")
      ->required();

  std::string mon_config, mon_port = "auto";
  int mon_baud = 115200;
  auto* monitor = app.add_subcommand("monitor", "Show live control values from the devices (no Blender needed)");
  monitor->add_option("-c,--config", mon_config, "Open the devices of this mapping file")->check(CLI::ExistingFile);
  monitor->add_option("-p,--port", mon_port, "A serial port path, or auto (without --config)");
  monitor->add_option("-b,--baud", mon_baud, "Baud rate (without --config)");

  DemoOptions demo_opt;
  demo_opt.config = KNOBLINK_SOURCE_DIR "/examples/knobbox.yaml";
  demo_opt.sim = KNOBLINK_DEFAULT_SIM;
  demo_opt.firmware = KNOBLINK_DEFAULT_FIRMWARE;
  demo_opt.launcher = KNOBLINK_SOURCE_DIR "/scripts/blender-addon";
  demo_opt.gui = std::getenv("DISPLAY") != nullptr;
  bool headless = false;
  auto* demo = app.add_subcommand("demo", "Emulated knob box -> knoblink -> Blender, knobs swept, scene changes printed");
  demo->add_option("-d,--duration", demo_opt.duration_s, "Stop after S seconds; exit 0 only if Blender changed");
  demo->add_flag("--gui", demo_opt.gui, "Show a Blender window (default when $DISPLAY is set)");
  demo->add_flag("--headless", headless, "No Blender window");
  demo->add_option("--config", demo_opt.config, "The mapping")->capture_default_str();
  demo->add_option("--sim", demo_opt.sim, "The knob-box emulator")->capture_default_str();
  demo->add_option("--firmware", demo_opt.firmware, "The knob-box firmware (ELF)")->capture_default_str();
  demo->add_option("--blender-launcher", demo_opt.launcher, "Starts Blender with the add-on")->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  setup_logging(verbosity);
  std::signal(SIGPIPE, SIG_IGN);

  if (*run) {
    if (exit_with_parent) {
      // SIGTERM, the ordinary stop, when the parent dies without stopping us (Blender killed).
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() == 1) return 0;  // it died before the prctl
    }
    return cmd_run(config, verbosity, overrides);
  }
  if (*check) return cmd_check(check_file);
  if (*list) return cmd_list();
  if (*descriptor) return cmd_descriptor(descriptor_file);
  if (*monitor) return cmd_monitor(mon_config, mon_port, mon_baud);
  if (*demo) {
    if (headless) demo_opt.gui = false;
    return run_demo(demo_opt);
  }
  return 2;
}
