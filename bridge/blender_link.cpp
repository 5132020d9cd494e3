#include "bridge/blender_link.hpp"

#include <asio/connect.hpp>
#include <asio/write.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace knoblink {

namespace {
constexpr std::size_t kMaxLine = 64 * 1024;
constexpr std::size_t kWriteChunk = 64 * 1024;
constexpr auto kHelloTimeout = std::chrono::seconds(5);
constexpr std::uint64_t kWatchIdBase = 1ull << 62;  ///< ids of watch commands, apart from the Outbox's

std::optional<double> as_number(const nlohmann::json& v) {
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (v.is_number()) return v.get<double>();
  if (v.is_array()) {
    for (const auto& x : v)
      if (as_number(x).value_or(0) != 0) return 1;
    return 0;
  }
  return std::nullopt;
}
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
      state_ = State::hello;
      rline_.clear();
      discarding_ = false;
      nlohmann::json hello = {{"hello", 1}, {"client", opt_.client}};
      if (!opt_.token.empty()) hello["token"] = opt_.token;
      wbuf_ = hello.dump() + "\n";
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
    std::string_view data(rbuf_.data(), n);
    while (!data.empty()) {
      const auto nl = data.find('\n');
      const auto chunk = data.substr(0, nl);
      if (!discarding_) {
        if (rline_.size() + chunk.size() > kMaxLine) {
          spdlog::warn("blender: skipped an answer longer than {} bytes", kMaxLine);
          discarding_ = true;
          rline_.clear();
        } else {
          rline_.append(chunk);
        }
      }
      if (nl == std::string_view::npos) break;
      if (!discarding_) on_line(rline_);
      if (gen != generation_) return;  // the line ended this connection
      rline_.clear();
      discarding_ = false;
      data.remove_prefix(nl + 1);
    }
    do_read();
  });
}

void BlenderLink::on_line(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    spdlog::warn("blender: not a JSON object from the add-on: {}", std::string(line.substr(0, 200)));
    return;
  }
  if (state_ == State::hello) {
    if (j.contains("hello")) {
      timer_.cancel();
      state_ = State::up;
      backoff_ = opt_.min_backoff;
      last_failure_.clear();
      outbox_.on_connect();
      watch_lines_.clear();
      queue_watches();  // ahead of any command
      listener_.on_link_up(j.value("server", "?"), j.value("blender", "?"));
      do_write();
      return;
    }
    const std::string msg = j.value("message", j.value("error", std::string("no hello")));
    return fail("Blender refused the hello: " + msg);
  }
  if (j.contains("ev")) {
    if (j["ev"] == "value" && j.contains("path") && j["path"].is_string()) {
      const auto t = targets_.find(j["path"].get<std::string>());
      if (t >= 0) listener_.on_watched(static_cast<std::uint32_t>(t), as_number(j.value("value", nlohmann::json())));
    }
    return;
  }
  if (j.contains("id") && j["id"].is_number_unsigned()) {
    const auto id = j["id"].get<std::uint64_t>();
    const auto cmd = id >= kWatchIdBase ? std::nullopt : outbox_.ack(id);
    if (j.contains("error")) {
      std::string what = id >= kWatchIdBase ? "watch" : "command";
      if (cmd) what = std::string(to_string(cmd->op)) + " " + targets_.text(cmd->target);
      listener_.on_remote_error(what + ": " + j["error"].dump() + " " + j.value("message", std::string()));
    }
    return;
  }
  if (j.contains("error"))
    listener_.on_remote_error(j["error"].dump() + " " + j.value("message", std::string()));
}

void BlenderLink::queue_watches() {
  for (std::size_t i = 0; i < watched_.size(); ++i) {
    nlohmann::json w = {{"id", kWatchIdBase + i}, {"op", "watch"}, {"path", targets_.text(watched_[i])}};
    watch_lines_ += w.dump() + "\n";
  }
}

void BlenderLink::set_watched(std::vector<std::uint32_t> watched) {
  watched_ = std::move(watched);
  if (state_ != State::up) return;
  queue_watches();  // a reloaded mapping: watching again sends each current value
  do_write();
}

void BlenderLink::kick() {
  if (state_ == State::up && !writing_) do_write();
}

void BlenderLink::do_write() {
  if (writing_ || state_ != State::up) return;
  wbuf_.clear();
  wbuf_.swap(watch_lines_);
  outbox_.write_pending(wbuf_, targets_, kWriteChunk);
  if (wbuf_.empty()) return;
  writing_ = true;
  const auto gen = generation_;
  asio::async_write(socket_, asio::buffer(wbuf_), [this, gen](const asio::error_code& ec, std::size_t) {
    if (gen != generation_) return;
    writing_ = false;
    if (ec) return fail("write failed: " + ec.message());
    do_write();
  });
}

}  // namespace knoblink
