#include "bridge/posting_sink.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace knoblink {

PostingSink::PostingSink(asio::io_context& io, EventSink& target) : target_(target), wake_(io) {
  efd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  wake_.assign(::dup(efd_));
  arm();
}

PostingSink::~PostingSink() {
  stop();
  if (efd_ >= 0) ::close(efd_);
}

void PostingSink::stop() {
  asio::error_code ignored;
  wake_.close(ignored);
}

void PostingSink::arm() {
  wake_.async_wait(asio::posix::descriptor_base::wait_read, [this](const asio::error_code& ec) {
    if (ec) return;  // stopped
    deliver();
    arm();
  });
}

void PostingSink::enqueue(const Item& item) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(item);
    wake = !signalled_;
    signalled_ = true;
  }
  if (wake) {
    const std::uint64_t one = 1;
    (void)!::write(efd_, &one, sizeof one);
  }
}

void PostingSink::deliver() {
  std::uint64_t count = 0;
  (void)!::read(efd_, &count, sizeof count);
  {
    std::lock_guard lock(mutex_);
    std::swap(queue_, taken_);
    signalled_ = false;
  }
  for (std::size_t i = 0; i < taken_.size(); ++i) {
    const Item& it = taken_[i];
    switch (it.kind) {
      case Item::Kind::event: target_.on_event(it.event); break;
      case Item::Kind::notice: target_.on_notice(it.device, it.severity, it.text); break;
      case Item::Kind::connection: target_.on_connection(it.device, it.connected); break;
      case Item::Kind::control: target_.on_control(it.device, it.info); break;
      case Item::Kind::malformed: target_.on_malformed(it.device, it.text); break;
    }
  }
  taken_.clear();
}

void PostingSink::on_event(const ControlEvent& e) {
  Item item;  // a local: several reader threads may share this sink
  item.kind = Item::Kind::event;
  item.event = e;
  enqueue(item);
}

void PostingSink::on_notice(std::uint16_t device, Severity severity, std::string_view text) {
  Item item;  // a local: several reader threads may share this sink
  item.kind = Item::Kind::notice;
  item.device = device;
  item.severity = severity;
  item.text.assign(text);
  enqueue(item);
}

void PostingSink::on_connection(std::uint16_t device, bool connected) {
  Item item;  // a local: several reader threads may share this sink
  item.kind = Item::Kind::connection;
  item.device = device;
  item.connected = connected;
  enqueue(item);
}

void PostingSink::on_control(std::uint16_t device, const ControlInfo& info) {
  Item item;  // a local: several reader threads may share this sink
  item.kind = Item::Kind::control;
  item.device = device;
  item.info = info;
  enqueue(item);
}

void PostingSink::on_malformed(std::uint16_t device, std::string_view what) {
  Item item;  // a local: several reader threads may share this sink
  item.kind = Item::Kind::malformed;
  item.device = device;
  item.text.assign(what);
  enqueue(item);
}

}  // namespace knoblink
