// An EventSink that hands every call to another sink on an io_context's thread, for
// device sources that read on a thread of their own (hid::HidSource). Events are
// copied (ControlEvent holds its name inline); notice texts are copied into strings.
#pragma once

#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <string>

#include "devices/event_sink.hpp"

namespace knoblink {

class PostingSink final : public EventSink {
 public:
  /// target must outlive every handler posted to io.
  PostingSink(asio::io_context& io, EventSink& target) : io_(io), target_(target) {}

  void on_event(const ControlEvent& e) override {
    asio::post(io_, [t = &target_, e] { t->on_event(e); });
  }
  void on_notice(std::uint16_t device, Severity severity, std::string_view text) override {
    asio::post(io_, [t = &target_, device, severity, s = std::string(text)] { t->on_notice(device, severity, s); });
  }
  void on_connection(std::uint16_t device, bool connected) override {
    asio::post(io_, [t = &target_, device, connected] { t->on_connection(device, connected); });
  }
  void on_control(std::uint16_t device, const ControlInfo& info) override {
    asio::post(io_, [t = &target_, device, info] { t->on_control(device, info); });
  }
  void on_malformed(std::uint16_t device, std::string_view what) override {
    asio::post(io_, [t = &target_, device, s = std::string(what)] { t->on_malformed(device, s); });
  }

 private:
  asio::io_context& io_;
  EventSink& target_;
};

}  // namespace knoblink
