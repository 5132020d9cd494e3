#include "sim_commands.hpp"

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
                "'; expected knob, enc, press, release, bounce, reset, unplug, replug, sync or quit");
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
