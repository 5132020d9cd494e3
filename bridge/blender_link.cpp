#include "bridge/blender_link.hpp"

#include <asio/connect.hpp>
#include <asio/write.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace knoblink {

namespace {
constexpr std::size_t kWriteChunk = 64 * 1024;
constexpr auto kHelloTimeout = std::chrono::seconds(5);
/// The socket's send buffer: what Blender has not read yet waits here (coalesced) instead
/// of in the kernel (docs/protocol.md, "Ordering, coalescing and the drain").
constexpr int kSendBuffer = 32 * 1024;
constexpr std::uint64_t kWatchIdBase = 1ull << 62;  ///< ids of watch commands, apart from the Outbox's
}  // namespace

BlenderLink::BlenderLink(asio::io_context& io, LinkOptions options, Outbox& outbox, const TargetTable& targets,
                         LinkListener& listener)
    : io_(io),
      opt_(std::move(options)),
      outbox_(outbox),
      targets_(targets),
      listener_(listener),
      resolver_(io),
      socket_(io),
      timer_(io),
      backoff_(opt_.min_backoff) {}

void BlenderLink::start() {
  stopped_ = false;
  do_connect();
}

void BlenderLink::stop() {
  stopped_ = true;
  ++generation_;
  timer_.cancel();
  resolver_.cancel();
  asio::error_code ignored;
  socket_.close(ignored);
  if (state_ == State::up) outbox_.on_disconnect();
  state_ = State::idle;
}

void BlenderLink::reconnect(LinkOptions options) {
  stop();  // handlers still queued see a new generation and do nothing
  opt_ = std::move(options);
  backoff_ = opt_.min_backoff;
  last_failure_.clear();
  start();
}

void BlenderLink::do_connect() {
  if (stopped_) return;
  if (opt_.locate) {
    std::string why;
    const auto e = opt_.locate(why);
    if (!e) return fail(why);
    opt_.host = e->host;
    opt_.port = e->port;
    opt_.token = e->token;
    if (e->via != last_via_) spdlog::info("blender: using {}", e->via);
    last_via_ = e->via;
  }
  state_ = State::connecting;
  const auto gen = ++generation_;
  resolver_.async_resolve(opt_.host, std::to_string(opt_.port), [this, gen](const asio::error_code& ec, auto results) {
    if (gen != generation_) return;
    if (ec) return fail("cannot resolve " + opt_.host + ": " + ec.message());
    asio::async_connect(socket_, results, [this, gen](const asio::error_code& ec2, const auto&) {
      if (gen != generation_) return;
      if (ec2)
        return fail("cannot connect to Blender at " + opt_.host + ":" + std::to_string(opt_.port) + ": " +
                    ec2.message() + " (is Blender running with the KnobLink add-on enabled?)");
      asio::error_code ignored;
      socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
      socket_.set_option(asio::socket_base::send_buffer_size(kSendBuffer), ignored);
      state_ = State::hello;
      reader_.reset();
      wbuf_.clear();
      codec::append_hello(wbuf_, opt_.client, opt_.token, opt_.session);
      writing_ = true;
      asio::async_write(socket_, asio::buffer(wbuf_), [this, gen](const asio::error_code& e, std::size_t) {
        if (gen != generation_) return;
        writing_ = false;
        if (e) return fail("cannot send hello: " + e.message());
      });
      timer_.expires_after(kHelloTimeout);
      timer_.async_wait([this, gen](const asio::error_code& e) {
        if (!e && gen == generation_ && state_ == State::hello)
          fail("no hello answer within 5 s (is that port the KnobLink add-on?)");
      });
      do_read();
    });
  });
}

void BlenderLink::fail(const std::string& why) {
  if (stopped_) return;
  ++generation_;
  asio::error_code ignored;
  socket_.close(ignored);
  writing_ = false;
  if (state_ == State::up) {
    ++reconnects_;
    outbox_.on_disconnect();
    listener_.on_link_down(why);
    backoff_ = opt_.min_backoff;
    last_failure_.clear();
  } else if (why != last_failure_) {
    spdlog::warn("blender: {}; retrying", why);
    last_failure_ = why;
  } else {
    spdlog::debug("blender: {}; retrying in {} ms", why, backoff_.count());
  }
  state_ = State::idle;
  timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, opt_.max_backoff);
  const auto gen = generation_;
  timer_.async_wait([this, gen](const asio::error_code& ec) {
    if (!ec && gen == generation_) do_connect();
  });
}

void BlenderLink::do_read() {
  const auto gen = generation_;
  socket_.async_read_some(asio::buffer(rbuf_), [this, gen](const asio::error_code& ec, std::size_t n) {
    if (gen != generation_) return;
    if (ec) return fail(ec == asio::error::eof ? "Blender closed the connection" : "read failed: " + ec.message());
    const bool go_on = reader_.feed(
        std::string_view(rbuf_.data(), n), [&](std::string_view line) { return on_line(line, gen); },
        [](std::size_t) { spdlog::warn("blender: skipped an answer longer than {} bytes", codec::kMaxLine); });
    if (!go_on) return;  // a line ended this connection
    do_read();
  });
}

bool BlenderLink::on_line(std::string_view line, std::uint64_t gen) {
  const codec::Answer a = codec::decode_answer(line);
  using Kind = codec::Answer::Kind;
  if (a.kind == Kind::malformed) {
    spdlog::warn("blender: {} (from the add-on)", a.message);
    return true;
  }
  if (state_ == State::hello) {
    if (a.kind != Kind::hello) {
      fail("Blender refused the hello: " + (a.message.empty() ? a.code.empty() ? "no hello" : a.code : a.message));
      return false;
    }
    timer_.cancel();
    state_ = State::up;
    takes_status_ = std::find(a.features.begin(), a.features.end(), "status") != a.features.end();
    backoff_ = opt_.min_backoff;
    last_failure_.clear();
    outbox_.on_connect();
    watch_lines_.clear();
    queue_watches();  // ahead of any command
    listener_.on_link_up(a.server, a.blender);
    do_write();
    return gen == generation_;
  }
  switch (a.kind) {
    case Kind::value:
      if (const auto t = targets_.find(a.path); t >= 0) listener_.on_watched(static_cast<std::uint32_t>(t), a.value);
      break;
    case Kind::record: listener_.on_record(a.value.value_or(0) != 0); break;
    case Kind::ok:
    case Kind::error: {
      const bool watch = a.has_id && a.id >= kWatchIdBase;
      const auto cmd = a.has_id && !watch ? outbox_.ack(a.id) : std::nullopt;
      if (a.kind == Kind::error) {
        std::string what = watch ? "watch " : a.has_id ? "command: " : "";
        if (cmd) {
          const Op op = cmd->op;
          what = std::string(to_string(op)) + (op == Op::record ? std::string(": ") : " " + targets_.text(cmd->target) + ": ");
        }
        listener_.on_remote_error(what + a.code + " " + a.message);
      }
      break;
    }
    case Kind::latency: listener_.on_latency(a.stage, a.figures); break;
    case Kind::learn: listener_.on_learn(a.learn, a.message); break;
    case Kind::forget: listener_.on_forget(a.path, a.message); break;
    case Kind::hello:
    case Kind::other:
    case Kind::malformed: break;
  }
  return gen == generation_;
}

void BlenderLink::queue_watches() {
  for (std::size_t i = 0; i < watched_.size(); ++i)
    codec::append_command(watch_lines_, Command{Op::watch, watched_[i], 0}, targets_, kWatchIdBase + i);
}

void BlenderLink::set_watched(std::vector<std::uint32_t> watched) {
  watched_ = std::move(watched);
  if (state_ != State::up) return;
  queue_watches();  // a reloaded mapping: watching again sends each current value
  do_write();
}

bool BlenderLink::send_status(std::string_view line) {
  if (!takes_status()) return false;
  watch_lines_.append(line);
  do_write();
  return true;
}

void BlenderLink::send_line(std::string line) {
  if (state_ != State::up) {
    spdlog::warn("blender: not connected; dropped the answer {}", line.substr(0, line.find('\n')));
    return;
  }
  watch_lines_ += line;
  do_write();
}

void BlenderLink::kick() {
  if (state_ == State::up && !writing_) do_write();
}

void BlenderLink::do_write() {
  if (writing_ || state_ != State::up) return;
  wbuf_.clear();
  wbuf_.swap(watch_lines_);
  batch_reads_.clear();  // keeps its capacity: no allocation per event once it has grown
  while (wbuf_.size() < kWriteChunk)
    if (const auto o = outbox_.pop()) {
      codec::append_command(wbuf_, o->cmd, targets_, o->id);
      if (o->cmd.t_us != 0) batch_reads_.push_back(o->cmd.t_us);
    } else {
      break;
    }
  if (wbuf_.empty()) return;
  writing_ = true;
  const auto gen = generation_;
  asio::async_write(socket_, asio::buffer(wbuf_), [this, gen](const asio::error_code& ec, std::size_t) {
    if (gen != generation_) return;
    writing_ = false;
    if (ec) return fail("write failed: " + ec.message());
    // Every byte is with the kernel now: the stage ends here (docs/performance.md).
    const auto now = monotonic_us();
    for (const auto t : batch_reads_) read_to_sent_.record(now - t);
    do_write();
  });
}

}  // namespace knoblink
