#include "bridge/outbox.hpp"

#include <algorithm>

namespace knoblink {

Outbox::Outbox(std::uint32_t targets, std::vector<bool> absolute)
    : open_(targets, 0),
      latest_(targets),
      has_latest_(targets, false),
      absolute_(std::move(absolute)) {
  absolute_.resize(targets, false);
}

void Outbox::retarget(std::uint32_t targets, std::vector<bool> absolute) {
  open_.resize(targets, 0);
  latest_.resize(targets);
  has_latest_.resize(targets, false);
  absolute_ = std::move(absolute);
  absolute_.resize(targets, false);
}

void Outbox::append(const Command& c) {
  const std::uint64_t seq = head_seq_ + queue_.size();
  queue_.push_back(Entry{c, segment_, 0});
  if (!is_discrete(c.op)) open_[c.target] = seq + 1;
  else ++segment_;  // later sets and adds never merge across a discrete command
}

void Outbox::push(const Command& c) {
  ++stats_.pushed;
  if (c.op == Op::set) {
    latest_[c.target] = c;
    has_latest_[c.target] = true;
  }
  if (!is_discrete(c.op)) {
    const std::uint64_t p = open_[c.target];
    if (p != 0 && p - 1 >= head_seq_) {
      Entry& e = queue_[p - 1 - head_seq_];
      // A set replaces a set or an add; an add sums only into an add.
      // Never into a command already sent with an id: the add-on answers a re-sent id
      // with its first outcome, without applying it again (exactly once).
      if ((e.segment == segment_ || queue_.size() >= kSoftCap) && (c.op == Op::set || e.cmd.op == Op::add) &&
          e.id == 0) {
        e.cmd.op = c.op;
        e.cmd.value = c.op == Op::set ? c.value : e.cmd.value + c.value;
        e.cmd.arg = c.arg;
        // A set sends the newest read; a sum waits since its oldest delta (docs/performance.md).
        if (c.op == Op::set || e.cmd.t_us == 0) e.cmd.t_us = c.t_us;
        ++stats_.merged;
        return;
      }
    }
  }
  append(c);
}

std::optional<Outgoing> Outbox::pop() {
  if (queue_.empty()) return std::nullopt;
  Entry e = queue_.front();
  const std::uint64_t seq = head_seq_;
  queue_.pop_front();
  ++head_seq_;
  if (!is_discrete(e.cmd.op) && open_[e.cmd.target] == seq + 1) open_[e.cmd.target] = 0;
  if (e.cmd.op != Op::set) {
    if (e.id == 0) e.id = next_id_++;
    unacked_.push_back(e);
  }
  ++stats_.sent;
  return Outgoing{e.cmd, e.id};
}

std::optional<Command> Outbox::ack(std::uint64_t id) {
  // The add-on applies in order, so the id is almost always at the front.
  for (std::size_t i = 0; i < unacked_.size(); ++i) {
    if (unacked_[i].id != id) continue;
    const Command c = unacked_[i].cmd;
    // Remove entry i, keeping the order of the others.
    for (std::size_t j = i; j > 0; --j) unacked_[j] = unacked_[j - 1];
    unacked_.pop_front();
    return c;
  }
  return std::nullopt;
}

void Outbox::reindex() {
  std::fill(open_.begin(), open_.end(), 0);
  for (std::size_t i = 0; i < queue_.size(); ++i) {
    const Entry& e = queue_[i];
    if (!is_discrete(e.cmd.op)) open_[e.cmd.target] = head_seq_ + i + 1;
  }
}

void Outbox::on_disconnect() {
  if (unacked_.empty()) return;
  // Rebuild as [unacked..., pending...] (a rare path: allocation is fine here).
  Ring<Entry> rebuilt(unacked_.size() + queue_.size());
  for (std::size_t i = 0; i < unacked_.size(); ++i) {
    Entry e = unacked_[i];  // keeps its id: the same session's add-on applies it once
    e.segment = 0;
    e.cmd.t_us = 0;  // a resend measures the outage, not the bridge: not timed
    rebuilt.push_back(e);
    ++stats_.resent;
  }
  for (std::size_t i = 0; i < queue_.size(); ++i) rebuilt.push_back(queue_[i]);
  unacked_.clear();
  queue_ = std::move(rebuilt);
  reindex();
}

void Outbox::on_connect() {
  // Latest absolute values first, so re-sent discrete commands (a keyframe) see them.
  Ring<Entry> rebuilt(queue_.size() + open_.size());
  ++segment_;
  for (std::uint32_t t = 0; t < latest_.size(); ++t) {
    if (!absolute_[t] || !has_latest_[t]) continue;
    Entry e{latest_[t], 0, 0};
    e.cmd.t_us = 0;  // not timed, like a resend
    rebuilt.push_back(e);
    ++stats_.resynced;
  }
  for (std::size_t i = 0; i < queue_.size(); ++i) rebuilt.push_back(queue_[i]);
  queue_ = std::move(rebuilt);
  reindex();
}

}  // namespace knoblink
