// The running bridge: devices -> Mapper -> Outbox -> BlenderLink, and feedback back
// to device outputs. Owns the pipeline for one config; reload() swaps in a new one.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bridge/blender_link.hpp"
#include "bridge/config.hpp"
#include "bridge/device_memory.hpp"
#include "bridge/devices.hpp"
#include "bridge/learn.hpp"
#include "bridge/mapper.hpp"
#include "bridge/outbox.hpp"
#include "bridge/status.hpp"
#include "devices/device_source.hpp"
#include "devices/event_sink.hpp"

namespace knoblink {

/// Logs a device's notice at its own level (a warning as a warning).
void log_notice(Severity severity, std::string_view text);

/// Everything counted while running; printed on exit, on SIGUSR1 and with -v every few seconds.
struct Counters {
  std::uint64_t events = 0;     ///< control events decoded
  std::uint64_t unmapped = 0;   ///< events no mapping uses
  std::uint64_t malformed = 0;  ///< lines/reports skipped
  std::uint64_t device_reconnects = 0;
  std::uint64_t learned = 0;    ///< mappings learned (docs/protocol.md, "Learn and forget")
  std::uint64_t forgotten = 0;  ///< mappings forgotten
  std::uint64_t positions = 0;  ///< snapshot values taken as positions (the first known, or unmoved while away)
};

class Bridge final : public EventSink, public LinkListener {
 public:
  Bridge(asio::io_context& io, Config config);
  ~Bridge() override;
  void start();
  void stop();
  /// Reads the mapping file again (a save, SIGHUP) and swaps it in when its bytes differ from
  /// those last read: the mapping is rebuilt; the devices stay open when the file names the
  /// same ones (else they are reopened), the Blender link when its address is the same;
  /// queued discrete commands are kept. Learned mappings the file could not take stay live
  /// on top of it (docs/protocol.md, "Learn and forget"). A broken file keeps the running
  /// mapping, and its problems (file:line:col) are logged and go into the status. False
  /// when broken.
  bool reload_file();
  /// Applied to every config the bridge loads itself (reload_file, learn, forget): what the
  /// command line overrides in the file (`knoblink run --blender-port`).
  void set_overrides(std::function<void(Config&)> overrides) { overrides_ = std::move(overrides); }
  /// One line with every counter.
  std::string counters_line() const;
  /// The stage latencies: device read -> sent (bridge), received -> applied (what the add-on
  /// last reported); each over the last 5 s window and since the start.
  std::string latency_line() const;
  /// What the KnobLink panel is told now (docs/protocol.md, "Status").
  Status status() const;
  /// One line per device: its name, kind, where it is attached and its state.
  std::vector<std::string> device_lines() const;

  // EventSink
  void on_event(const ControlEvent& event) override;
  void on_notice(std::uint16_t device, Severity severity, std::string_view text) override;
  void on_connection(std::uint16_t device, bool connected) override;
  void on_control(std::uint16_t device, const ControlInfo& info) override;
  void on_malformed(std::uint16_t device, std::string_view what) override;
  // LinkListener
  void on_link_up(const std::string& server, const std::string& blender) override;
  void on_link_down(const std::string& why) override;
  void on_watched(std::uint32_t target, std::optional<double> value) override;
  void on_remote_error(const std::string& text) override;
  void on_latency(const std::string& stage, const StageStatus& figures) override;
  void on_learn(const LearnRequest& request, const std::string& error) override;
  void on_forget(const std::string& path, const std::string& error) override;
  void on_record(bool on) override;

 private:
  void build_pipeline();
  LinkOptions link_options() const;
  void open_devices();
  /// Sets an output on its device, unless it has that value already; the value is kept
  /// (docs/devices.md, "Replug") and written again when the device comes back.
  void write_output(const OutputWrite& w);
  /// Writes an output's value to its device; a failed write is logged once per new reason.
  void send_output(std::uint16_t device, const Name& control, std::int32_t value);
  /// Arms the timer for the mapper's next tick (none when nothing is due).
  void arm_tick();
  void stop_devices();
  /// A problem for the user: logged by the caller, kept for the status.
  void note_error(std::string_view text);
  /// Something the status shows changed: send it soon (at most every kStatusGap).
  void status_changed();
  /// Sends the status if it differs from the last one sent (with_mappings: the mappings
  /// line first, and the status even when unchanged).
  void send_status(bool with_mappings);
  /// Every second: device details, and every 5 s the latency window.
  void arm_housekeeping();
  /// Makes config the running one (devices kept open when they are the same); why: for the log.
  void apply(Config config, const char* why);
  /// A waiting learn sees every event, snapshot values as positions (docs/protocol.md, "Learn and forget").
  void learn_from(const ControlEvent& e);
  /// A learn's control was touched: the mapping made live, appended to the file, answered.
  void learn(const LearnRequest& request, const Touched& touched);
  void answer(const codec::LearnAnswer& a);
  /// Arms learn_timer_ for the learner's deadline.
  void arm_learn();
  /// A learned mapping the file could not take (read-only, moved, ...): live on top of
  /// whatever the file holds until the bridge stops (docs/protocol.md, "Learn and forget").
  struct Unsaved {
    mapping_edit::Entry entry;
    std::string control, path;  ///< "box.k2" and its target
    std::string reason;         ///< why it is not in the file
  };
  /// base (a mapping file's text) with the unsaved learns appended to its mappings:,
  /// loaded, the overrides applied, the appended ones marked (Mapping::unsaved). One that
  /// does not load on top of base is the error. When base was just reloaded, one that base
  /// maps too (same control, no layer, same target) is dropped from unsaved first, and one
  /// that does not load is dropped, logged and noted instead (the file may have lost its
  /// device).
  std::optional<Config> compose(const std::string& base, std::vector<Unsaved>& unsaved, bool reloaded,
                                std::string& error);
  /// "" when the file holds what the running mapping was made from, so a learn or forget
  /// may edit it; else why it may not.
  std::string out_of_sync() const;

  asio::io_context& io_;
  Config config_;
  TargetTable targets_;
  std::unique_ptr<Mapper> mapper_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<BlenderLink> link_;
  DeviceContext device_context_{io_};  ///< shared by the devices (serial ports held)
  std::vector<std::unique_ptr<DeviceSource>> devices_;  ///< by device index; null for a device that cannot be opened
  std::vector<std::vector<ControlInfo>> described_;     ///< by device index: what it described, for a reloaded mapping
  std::vector<std::string> output_errors_;  ///< by device index: the last failed output write, told once
  DeviceMemory memory_;  ///< each device's last input values and latest output values, across replugs
  asio::steady_timer tick_timer_{io_};
  std::optional<std::int64_t> armed_;  ///< when tick_timer_ fires, if armed
  const std::string session_;  ///< this run's hello session: ids are applied once across reconnects
  Learner learner_;
  asio::steady_timer learn_timer_{io_};
  /// The mapping file's bytes as the bridge last read (reload_file: broken ones too) or wrote
  /// them. A save (or learn's own write) that leaves them as they are is no reload.
  std::string file_text_;
  /// The text the running mapping is made from: file_text_ unless the file is broken or a
  /// forget could not be written; config_.text is it with unsaved_ appended.
  std::string base_text_;
  std::vector<Unsaved> unsaved_;  ///< learned, live, not in the file
  std::function<void(Config&)> overrides_;
  Counters counters_;
  std::string last_remote_error_;
  std::uint64_t repeated_remote_errors_ = 0;
  // The status (docs/protocol.md, "Status").
  std::vector<std::string> device_state_;   ///< by device index: open | lost | retrying | failed
  ErrorLog errors_;
  std::vector<std::string> config_errors_;  ///< the last failed reload's problems
  std::uint64_t reloads_ = 0;
  std::uint64_t layer_changes_seen_ = 0;
  bool recording_seen_ = false;             ///< the record switch as the status last showed it
  std::string last_status_;                 ///< the status line last sent
  std::chrono::steady_clock::time_point last_status_at_{};
  bool status_armed_ = false;
  asio::steady_timer status_timer_{io_};
  asio::steady_timer housekeeping_{io_};
  unsigned housekeeping_ticks_ = 0;
  std::string addon_stage_name_;            ///< what the add-on last reported
  StageStatus addon_stage_;
};

}  // namespace knoblink
