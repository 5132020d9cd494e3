#include "sim_commands.hpp"

#include <cstdlib>

#include <charconv>
#include <vector>

namespace knoblink::sim {
namespace {

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

bool to_int(std::string_view s, std::int32_t& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

Command fail(std::string why) {
  Command c;
  c.op = Command::Op::error;
  c.error = std::move(why);
  return c;
}

}  // namespace

Command parse_command(std::string_view line) {
  const auto w = split(line);
  Command c;
  if (w.empty() || w[0][0] == '#') return c;
  const std::string_view verb = w[0];
  struct Simple {
    std::string_view name;
    Command::Op op;
  };
  static constexpr Simple kSimple[] = {{"reset", Command::Op::reset},   {"unplug", Command::Op::unplug},
                                       {"replug", Command::Op::replug}, {"sync", Command::Op::sync},
                                       {"quit", Command::Op::quit}};
  for (const auto& s : kSimple) {
    if (verb != s.name) continue;
    if (w.size() != 1) return fail(std::string(verb) + " takes no arguments");
    c.op = s.op;
    return c;
  }

  if (verb == "noise") {
    // Everything after "noise " as bytes; \xNN makes any byte.
    const auto at = line.find("noise") + 5;
    const std::string_view text = line.size() > at ? line.substr(at + 1) : std::string_view{};
    if (text.empty()) return fail("usage: noise TEXT  (\\xNN for any byte)");
    c.op = Command::Op::noise;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\\' && i + 3 < text.size() && text[i + 1] == 'x') {
        const std::string hex(text.substr(i + 2, 2));
        char* end = nullptr;
        const long v = std::strtol(hex.c_str(), &end, 16);
        if (end == hex.c_str() + 2) {
          c.bytes += static_cast<char>(v);
          i += 3;
          continue;
        }
      }
      c.bytes += text[i];
    }
    c.bytes += '\n';
    return c;
  }

  int count = 0;
  std::string_view usage;
  if (verb == "knob") {
    c.op = Command::Op::knob, count = kKnobs, usage = "knob I VALUE  (I 1..4; VALUE 0..1023, or 0mv..5000mv)";
  } else if (verb == "enc") {
    c.op = Command::Op::enc, count = kEncoders, usage = "enc I STEPS [US_PER_EDGE]  (I 1..2; STEPS signed, +clockwise)";
  } else if (verb == "press" || verb == "release" || verb == "bounce") {
    c.op = verb == "release" ? Command::Op::release : Command::Op::press;
    c.bounce = verb == "bounce";
    count = kButtons, usage = "press|release I [bounce], bounce I  (I 1..6)";
  } else {
    return fail("unknown command '" + std::string(verb) +
                "'; expected knob, enc, press, release, bounce, reset, unplug, replug, sync, noise or quit");
  }
  const std::string use = "usage: " + std::string(usage);
  std::int32_t index = 0;
  if (w.size() < 2 || !to_int(w[1], index) || index < 1 || index > count) return fail(use);
  c.index = index - 1;

  switch (c.op) {
    case Command::Op::knob: {
      if (w.size() != 3) return fail(use);
      std::string_view v = w[2];
      const bool mv = v.size() > 2 && v.substr(v.size() - 2) == "mv";
      if (mv) v.remove_suffix(2);
      std::int32_t n = 0;
      if (!to_int(v, n) || n < 0 || n > (mv ? kVccMv : 1023)) return fail(use);
      c.value = mv ? n : counts_to_mv(n);
      return c;
    }
    case Command::Op::enc: {
      if (w.size() < 3 || w.size() > 4 || !to_int(w[2], c.value)) return fail(use);
      c.edge_us = kDefaultEdgeUs;
      if (w.size() == 4 && (!to_int(w[3], c.edge_us) || c.edge_us < 1 || c.edge_us > 1000000))
        return fail(use);
      if (c.value < -100000 || c.value > 100000) return fail("enc: at most 100000 steps at once");
      return c;
    }
    default:  // press / release / bounce
      if (w.size() == 3 && w[2] == "bounce" && !c.bounce) c.bounce = true;
      else if (w.size() != 2) return fail(use);
      return c;
  }
}

}  // namespace knoblink::sim
