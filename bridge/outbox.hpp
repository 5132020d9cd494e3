// The outbound queue to Blender, coalescing as the add-on does (docs/protocol.md,
// "Ordering, coalescing and the drain"; both sides pass tests/data/contract2/coalescing.jsonl):
//  - a set replaces a queued set or add on its path, at the older entry's place,
//  - an add is summed into a queued add on its path,
//  - toggle/keyframe/call are never merged or dropped, and each is a barrier for every path,
//  - past kSoftCap pending commands, sets and adds merge across barriers too.
// Adds and discrete commands are sent with an id and kept until the add-on acknowledges
// them; after a reconnect they are sent again with the same id (the add-on applies an id
// of the same session once), after the latest value of every absolute target. It holds values, not bytes (link_codec.cpp encodes them). Pure: no I/O, no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "bridge/command.hpp"
#include "bridge/ring.hpp"

namespace knoblink {

/// Counters of the queue. Nothing is ever dropped: a command is sent, or merged into one that is.
struct OutboxStats {
  std::uint64_t pushed = 0;   ///< commands received from the mapping
  std::uint64_t merged = 0;   ///< absorbed into a pending command on the same path
  std::uint64_t sent = 0;     ///< lines written for the link
  std::uint64_t resent = 0;   ///< unacknowledged commands sent again after a reconnect
  std::uint64_t resynced = 0; ///< absolute values re-sent after a reconnect
};

/// A command to write, with the id the add-on answers (0: a set, sent without one).
struct Outgoing {
  Command cmd;
  std::uint64_t id = 0;
};

class Outbox final : public CommandSink {
 public:
  /// Pending commands past which sets and adds merge into the newest pending one for their
  /// path even across discrete commands, so a long disconnect cannot grow the queue with
  /// knob values (discrete commands are still all kept).
  static constexpr std::size_t kSoftCap = 16384;

  /// targets: the size of the TargetTable; absolute[t]: t receives absolute sets.
  Outbox(std::uint32_t targets, std::vector<bool> absolute);

  void push(const Command& c) override;
  /// The target table grew (a reloaded config): size the per-target state again.
  void retarget(std::uint32_t targets, std::vector<bool> absolute);
  /// Commands waiting to be written.
  std::size_t pending() const { return queue_.size(); }
  /// Commands written but not yet acknowledged.
  std::size_t unacked() const { return unacked_.size(); }

  /// Takes the oldest pending command for writing (tracked until acked unless it is a set).
  std::optional<Outgoing> pop();
  /// The add-on answered id (ok or error); returns the command it belonged to.
  std::optional<Command> ack(std::uint64_t id);
  /// The connection dropped: unacknowledged commands go back to the front, in their order.
  void on_disconnect();
  /// A connection is up: queue the latest value of every absolute target first.
  void on_connect();

  const OutboxStats& stats() const { return stats_; }

 private:
  struct Entry {
    Command cmd;
    std::uint64_t segment = 0;
    std::uint64_t id = 0;  ///< 0 until first written (tracked commands only); kept when re-sent
  };
  void append(const Command& c);
  void reindex();

  Ring<Entry> queue_{256};
  Ring<Entry> unacked_{256};
  std::uint64_t head_seq_ = 0;             ///< sequence number of queue_.front()
  std::vector<std::uint64_t> open_;        ///< seq+1 of the target's pending set or add, 0 = none
  std::vector<Command> latest_;            ///< newest absolute set per target (its value or enum name)
  std::vector<bool> has_latest_, absolute_;
  std::uint64_t segment_ = 0;              ///< bumped by every discrete command
  std::uint64_t next_id_ = 1;
  OutboxStats stats_;
};

}  // namespace knoblink
