// The add-on's side of Contract 2 (docs/protocol.md) for tests of the real bridge: answers
// the bridge's hello, and reads back what the bridge sent, command by command, answering
// each command with an id like the add-on does.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"

namespace kltest {

/// Accepts the bridge's connection on l, reads its hello and answers it like the add-on
/// does; null when none comes within timeout or the hello is not one (hello: the line read).
std::unique_ptr<Conn> accept_bridge(Listener& l, Ms timeout, std::string* hello = nullptr);

/// What the bridge sent, by command.
struct Received {
  std::size_t lines = 0;                            ///< NDJSON lines read
  std::map<std::string, std::vector<double>> sets;  ///< set values per path, in order
  std::map<std::string, double> added;              ///< add values summed per path
  std::map<std::string, int> discrete;              ///< "keyframe PATH", "toggle PATH", "call OP", "watch PATH": how many
};

/// Reads lines from c into received (acknowledging every command that has an id) until
/// done(received) holds; false when timeout passes first or a line is not a JSON command.
bool read_until(Conn& c, Received& received, const std::function<bool(const Received&)>& done, Ms timeout);

}  // namespace kltest
