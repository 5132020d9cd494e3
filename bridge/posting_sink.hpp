// An EventSink that hands every call to another sink on an io_context's thread, for
// device sources that read on a thread of their own (hid::HidSource). Calls are queued
// in order under a mutex; an eventfd wakes the io thread once per batch. Nothing is
// allocated per event once the queue has reached its working size (an asio::post from
// a foreign thread would allocate its handler every time).
#pragma once

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include <mutex>
#include <string>

#include "bridge/ring.hpp"
#include "devices/event_sink.hpp"

namespace knoblink {

class PostingSink final : public EventSink {
 public:
  /// target is called on io's thread. Delivery starts at once; call stop() before io is done.
  PostingSink(asio::io_context& io, EventSink& target);
  ~PostingSink() override;
  PostingSink(const PostingSink&) = delete;
  PostingSink& operator=(const PostingSink&) = delete;
  /// Stops waiting for calls (so io.run() can return); calls queued later are dropped.
  void stop();

  void on_event(const ControlEvent& e) override;
  void on_notice(std::uint16_t device, Severity severity, std::string_view text) override;
  void on_connection(std::uint16_t device, bool connected) override;
  void on_control(std::uint16_t device, const ControlInfo& info) override;
  void on_malformed(std::uint16_t device, std::string_view what) override;

 private:
  struct Item {
    enum class Kind : std::uint8_t { event, notice, connection, control, malformed };
    Kind kind = Kind::event;
    std::uint16_t device = 0;
    Severity severity = Severity::info;
    bool connected = false;
    ControlEvent event;
    ControlInfo info;
    std::string text;
  };
  void enqueue(const Item& item);
  void arm();
  void deliver();

  EventSink& target_;
  int efd_ = -1;
  asio::posix::stream_descriptor wake_;
  std::mutex mutex_;
  Ring<Item> queue_{256};  ///< filled by the reader thread (under mutex_)
  Ring<Item> taken_{256};  ///< being delivered on the io thread
  bool signalled_ = false; ///< a wake-up is on its way (under mutex_)
};

}  // namespace knoblink
