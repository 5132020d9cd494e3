// The Blender link (docs/protocol.md): an Asio TCP client that says hello, streams the
// Outbox as NDJSON, reads answers and feedback, and reconnects forever with capped
// exponential backoff. It only moves bytes: link_codec.cpp encodes and decodes the lines. After a reconnect the Outbox re-sends the latest
// absolute values and every unacknowledged command.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bridge/command.hpp"
#include "bridge/discovery.hpp"
#include "bridge/latency.hpp"
#include "bridge/link_codec.hpp"
#include "knoblink/version.hpp"
#include "bridge/outbox.hpp"

namespace knoblink {

struct LinkOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9876;
  std::string token;
  /// When set, asked before every connection attempt where Blender is now (it may have
  /// restarted on another port, with another token); nullopt + why: not yet, retry later.
  std::function<std::optional<Endpoint>(std::string& why)> locate;
  /// Sent in the hello: the add-on applies each id of a session once (exactly once across
  /// reconnects; docs/protocol.md). Empty: none.
  std::string session;
  std::string client = "knoblink/" + std::string(kVersion);
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{3000};
};

/// What the link reports to the bridge.
class LinkListener {
 public:
  virtual ~LinkListener() = default;
  /// Hello answered; blender is the version Blender reported.
  virtual void on_link_up(const std::string& server, const std::string& blender) = 0;
  virtual void on_link_down(const std::string& why) = 0;
  /// A watched target's value (vectors: 1 when any element is non-zero; nullopt when the
  /// path does not resolve or the value is not a number).
  virtual void on_watched(std::uint32_t target, std::optional<double> value) = 0;
  /// The add-on answered an error (for a command, or about a line).
  virtual void on_remote_error(const std::string& text) = 0;
  /// The add-on reported one of its own stages' latency ({"ev":"latency"}, docs/protocol.md).
  virtual void on_latency(const std::string& stage, const StageStatus& figures) {
    (void)stage;
    (void)figures;
  }
  /// Blender asks to learn a property (error: why the event is unusable, else empty).
  virtual void on_learn(const LearnRequest& /*request*/, const std::string& /*error*/) {}
  /// Blender asks to forget the mappings of path (error: why the event is unusable, else empty).
  virtual void on_forget(const std::string& /*path*/, const std::string& /*error*/) {}
  /// Recording was turned on or off in Blender (by anyone), or is on when the link comes up.
  virtual void on_record(bool /*on*/) {}
};

class BlenderLink {
 public:
  BlenderLink(asio::io_context& io, LinkOptions options, Outbox& outbox, const TargetTable& targets,
              LinkListener& listener);
  /// Connects (and keeps reconnecting).
  void start();
  void stop();
  /// Connects to another address (a reloaded mapping); queued commands are kept.
  void reconnect(LinkOptions options);
  /// The outbox has new commands: write them when the connection is up and idle.
  void kick();
  /// Sends one line (an answer to learn or forget) ahead of queued commands; dropped
  /// with a log line when the link is not up (the Blender that asked is gone).
  void send_line(std::string line);
  /// Targets to watch for feedback on each (re)connection (and now, when connected).
  void set_watched(std::vector<std::uint32_t> watched);
  bool up() const { return state_ == State::up; }
  /// Whether the connected add-on takes status and mappings lines (its hello lists "status").
  bool takes_status() const { return up() && takes_status_; }
  /// Writes one line (a status or mappings line, with its newline) ahead of queued commands;
  /// false, and nothing is sent, when the link is down or the add-on does not take status.
  bool send_status(std::string_view line);
  /// Device read -> written to the socket, for every command made by a device read.
  LatencyStage& read_to_sent() { return read_to_sent_; }
  /// Connections lost after having been up.
  std::uint64_t reconnects() const { return reconnects_; }

 private:
  enum class State { idle, connecting, hello, up };
  void do_connect();
  void do_read();
  void do_write();
  /// Handles one answer; false when it ended the connection (gen is no longer current).
  bool on_line(std::string_view line, std::uint64_t gen);
  void fail(const std::string& why);
  /// Queues a watch command for every watched target, to be written before commands.
  void queue_watches();

  asio::io_context& io_;
  LinkOptions opt_;
  Outbox& outbox_;
  const TargetTable& targets_;
  LinkListener& listener_;
  asio::ip::tcp::resolver resolver_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  State state_ = State::idle;
  bool stopped_ = true;
  bool writing_ = false;
  codec::LineReader reader_;
  std::string wbuf_;
  std::string watch_lines_;  ///< watch commands, status lines and answers to write before commands
  std::vector<std::int64_t> batch_reads_;  ///< read times of the commands in the write in flight
  LatencyStage read_to_sent_;
  bool takes_status_ = false;
  std::array<char, 8192> rbuf_{};
  std::vector<std::uint32_t> watched_;
  std::chrono::milliseconds backoff_;
  std::uint64_t reconnects_ = 0;
  std::uint64_t generation_ = 0;  ///< bumped per connection so stale handlers do nothing
  std::string last_failure_;
  std::string last_via_;  ///< where locate found Blender last, to log a change once
};

}  // namespace knoblink
