#include "bridge/mapping_edit.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace knoblink::mapping_edit {

namespace {

/// The file's line ending: CRLF when its first line ends so, else LF.
std::string_view eol_of(std::string_view text) {
  const auto nl = text.find('\n');
  return nl != std::string_view::npos && nl > 0 && text[nl - 1] == '\r' ? "\r\n" : "\n";
}

std::size_t line_start(std::string_view text, std::size_t pos) {
  while (pos > 0 && text[pos - 1] != '\n') --pos;
  return pos;
}

/// Where the line holding pos ends: its '\r\n' or '\n', or the end of the text.
std::size_t line_end(std::string_view text, std::size_t pos) {
  auto nl = text.find('\n', pos);
  if (nl == std::string_view::npos) return text.size();
  return nl > 0 && text[nl - 1] == '\r' ? nl - 1 : nl;
}

/// The start of the line after the one holding pos (text.size() on the last line).
std::size_t next_line(std::string_view text, std::size_t pos) {
  const auto nl = text.find('\n', pos);
  return nl == std::string_view::npos ? text.size() : nl + 1;
}

int line_number(std::string_view text, std::size_t pos) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
}

/// Spaces before the first other character of the line at start; npos for a blank line.
std::size_t indent_of(std::string_view text, std::size_t start) {
  std::size_t i = start;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i >= text.size() || text[i] == '\n' || text[i] == '\r') return std::string_view::npos;
  return i - start;
}

struct Parsed {
  YAML::Node root, list;
  std::size_t key_pos = 0;   ///< where the mappings key starts
  std::size_t end = 0;       ///< where the next top-level key's line starts (or the end)
  bool has_key = false;
};

bool parse(std::string_view text, Parsed& p, std::string& error) {
  try {
    p.root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    error = "line " + std::to_string(e.mark.line + 1) + ": YAML syntax: " + e.msg;
    return false;
  }
  p.end = text.size();
  if (p.root.IsNull()) return true;  // empty, or only comments
  if (!p.root.IsMap() || p.root.Style() == YAML::EmitterStyle::Flow) {
    error = "the file is not a block mapping (top-level keys, one per line)";
    return false;
  }
  std::vector<std::size_t> key_starts;
  for (const auto& kv : p.root) {
    const auto pos = static_cast<std::size_t>(kv.first.Mark().pos);
    if (kv.first.IsScalar() && kv.first.Scalar() == "mappings") {
      p.has_key = true;
      p.key_pos = pos;
      p.list.reset(kv.second);
    }
    key_starts.push_back(pos);
  }
  if (p.has_key)
    for (const auto pos : key_starts)
      if (pos > p.key_pos) p.end = std::min(p.end, line_start(text, pos));
  return true;
}

/// The end of the last line in [from, to) that is not blank and not a comment. With
/// indented_comments, an indented comment counts too (it belongs to a list whose items are
/// indented: a new entry goes after a commented-out one).
std::size_t last_content_end(std::string_view text, std::size_t from, std::size_t to, bool indented_comments) {
  std::size_t last = line_end(text, from);
  for (std::size_t at = line_start(text, from); at < to; at = next_line(text, at)) {
    const auto ind = indent_of(text, at);
    if (ind == std::string_view::npos) continue;
    if (text[at + ind] == '#' && (ind == 0 || !indented_comments)) continue;
    last = line_end(text, at);
  }
  return last;
}

/// Where the '-' of a block sequence item whose content starts at pos is.
std::size_t dash_before(std::string_view text, std::size_t pos) {
  while (pos > 0 && text[pos - 1] != '-') --pos;
  return pos > 0 ? pos - 1 : 0;
}

/// Calls on(i, c) for each character from `from` on that is outside comments and quoted
/// scalars, a quoted scalar once with c '"' at its closing quote, until on returns true:
/// that i, or npos at the end. A quote starts a scalar at the start of a token only (a plain
/// "don't" is plain text).
template <class On>
std::size_t scan(std::string_view text, std::size_t from, On on) {
  const auto token_start = [&](std::size_t i) {
    return i == from || std::string_view(" \t\r\n[{,:").find(text[i - 1]) != std::string_view::npos;
  };
  for (std::size_t i = from; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\'' && token_start(i)) {
      for (++i; i < text.size(); ++i)
        if (text[i] == '\'') {
          if (i + 1 < text.size() && text[i + 1] == '\'') ++i;
          else break;
        }
      if (i >= text.size()) return std::string_view::npos;
      if (on(i, '"')) return i;
    } else if (c == '"' && token_start(i)) {
      for (++i; i < text.size() && text[i] != '"'; ++i)
        if (text[i] == '\\') ++i;
      if (i >= text.size()) return std::string_view::npos;
      if (on(i, '"')) return i;
    } else if (c == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == '\n')) {
      i = line_end(text, i) - 1;  // its line's end is seen next
    } else if (on(i, c)) {
      return i;
    }
  }
  return std::string_view::npos;
}

/// An item of a flow sequence: its text is [start, end) (no blanks or comments after it),
/// stop is the ',' after it or the ']' that closes the sequence.
struct FlowItem {
  std::size_t start = 0, end = 0, stop = std::string_view::npos;
};

FlowItem flow_item(std::string_view text, std::size_t start) {
  FlowItem item{start, start};
  int depth = 0;
  item.stop = scan(text, start, [&](std::size_t i, char c) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return false;
    if (depth == 0 && (c == ',' || c == ']' || c == '}')) return true;
    if (c == '[' || c == '{') ++depth;
    else if (c == ']' || c == '}') --depth;
    item.end = i + 1;
    return false;
  });
  return item;
}

/// Whether only blanks, or blanks and a comment, are on pos's line from pos to its end.
bool rest_blank(std::string_view text, std::size_t pos) {
  const auto end = line_end(text, pos);
  while (pos < end && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
  return pos == end || text[pos] == '#';
}

/// Whether only blanks are on pos's line before pos.
bool lead_blank(std::string_view text, std::size_t pos) {
  for (auto i = line_start(text, pos); i < pos; ++i)
    if (text[i] != ' ' && text[i] != '\t') return false;
  return true;
}

/// The entry as block lines, each after an eol: "- key: v" at dash, the others at content.
std::string block(const Entry& e, std::size_t dash, std::size_t content, std::string_view eol) {
  std::string out;
  for (std::size_t i = 0; i < e.keys.size(); ++i) {
    out += eol;
    if (i == 0) out += std::string(dash, ' ') + "-" + std::string(content - dash - 1, ' ');
    else out += std::string(content, ' ');
    out += e.keys[i].first + ": " + e.keys[i].second;
  }
  return out;
}

std::string flow(const Entry& e) {
  std::string out = "{";
  for (std::size_t i = 0; i < e.keys.size(); ++i)
    out += (i ? ", " : "") + e.keys[i].first + ": " + e.keys[i].second;
  return out + "}";
}

/// The file's top-level keys but mappings, and its mappings: items, each as YAML text.
struct Content {
  std::vector<std::string> others, items;
};

Content content_of(const Parsed& p) {
  Content c;
  if (p.root.IsMap())
    for (const auto& kv : p.root)
      if (!(kv.first.IsScalar() && kv.first.Scalar() == "mappings"))
        c.others.push_back(YAML::Dump(kv.first) + ": " + YAML::Dump(kv.second));
  if (p.has_key && p.list.IsSequence())
    for (const auto& item : p.list) c.items.push_back(YAML::Dump(item));
  return c;
}

/// Checks that the edited text holds what the text held, but for the items cut (indices
/// into its mappings:) and `added` new ones at the end: the file's layout may be one these
/// rules do not edit correctly, and a broken file (or one missing anything of the user's)
/// must never be written.
bool check_edit(const Parsed& before, std::string_view text, const std::vector<std::size_t>& cut, std::size_t added,
                std::string& error) {
  Parsed after;
  std::string why;
  if (parse(text, after, why) && after.has_key && (after.list.IsSequence() || after.list.IsNull())) {
    const auto was = content_of(before);
    const auto now = content_of(after);
    std::vector<std::string> kept;
    for (std::size_t i = 0; i < was.items.size(); ++i)
      if (std::find(cut.begin(), cut.end(), i) == cut.end()) kept.push_back(was.items[i]);
    if (now.others == was.others && now.items.size() == kept.size() + added &&
        std::equal(kept.begin(), kept.end(), now.items.begin()))
      return true;
  }
  error = "the edited file would not hold exactly what it held " + std::string(added ? "plus" : "less") +
          " the mapping (" + (why.empty() ? "an unusual layout of mappings:" : why) +
          "); nothing was written, edit it by hand";
  return false;
}

/// Where the item of a block list at pos starts (its dash's line) and ends (the start of
/// the line after its last line; blank lines and comments after it stay with what follows).
std::pair<std::size_t, std::size_t> block_span(std::string_view text, const Parsed& p, std::size_t i) {
  const auto from = line_start(text, dash_before(text, static_cast<std::size_t>(p.list[i].Mark().pos)));
  const auto limit = i + 1 < p.list.size()
                         ? line_start(text, dash_before(text, static_cast<std::size_t>(p.list[i + 1].Mark().pos)))
                         : p.end;
  return {from, next_line(text, last_content_end(text, from, limit, false))};
}

/// Item i of a flow list [...] cut out with its comma: a whole line (or lines) when it has
/// them to itself, else the item and the blanks that would be left doubled; the last item
/// takes the comma before it instead (`[a, b]` -> `[a]`). "" + error when it cannot be.
std::optional<std::string> cut_flow_item(std::string_view text, const Parsed& p, std::size_t i, std::string& error) {
  const auto item_at = [&](std::size_t k) { return flow_item(text, static_cast<std::size_t>(p.list[k].Mark().pos)); };
  const auto it = item_at(i);
  if (it.stop == std::string_view::npos || (text[it.stop] != ',' && text[it.stop] != ']')) {
    error = "line " + std::to_string(line_number(text, it.start)) + ": cannot find where mapping " +
            std::to_string(i + 1) + " of the flow list mappings: [...] ends";
    return std::nullopt;
  }
  const bool comma = text[it.stop] == ',';
  const auto after = comma ? it.stop + 1 : it.end;  // what follows the item (and its comma)
  std::vector<std::pair<std::size_t, std::size_t>> cuts;
  if (lead_blank(text, it.start) && rest_blank(text, after)) {
    cuts.emplace_back(line_start(text, it.start), next_line(text, after));  // its own lines
  } else {
    auto from = it.start;
    while (from > 0 && (text[from - 1] == ' ' || text[from - 1] == '\t')) --from;
    auto to = after;
    while (to < text.size() && (text[to] == ' ' || text[to] == '\t')) ++to;
    if (comma && to < line_end(text, to) && text[to] != '#' && text[to] != ']') {  // `a, b, c` -> `a, c`
      cuts.emplace_back(it.start, to);
    } else {  // `a, b,  # x` -> `a,  # x`; `a, b,]` -> `a,]`; `a, b]` -> `a]` (below)
      cuts.emplace_back(from, after);
    }
  }
  if (!comma && i > 0) {
    const auto prev = item_at(i - 1);
    if (prev.stop == std::string_view::npos || text[prev.stop] != ',') {
      error = "line " + std::to_string(line_number(text, prev.start)) + ": cannot find the comma after mapping " +
              std::to_string(i) + " of the flow list mappings: [...]";
      return std::nullopt;
    }
    if (cuts.front().first == prev.stop + 1) cuts.front().first = prev.stop;  // `a, b]`: ", b" in one
    else cuts.insert(cuts.begin(), {prev.stop, prev.stop + 1});
  }
  std::string out;
  std::size_t kept = 0;
  for (const auto& [from, to] : cuts) {
    out.append(text.substr(kept, from - kept));
    kept = to;
  }
  out.append(text.substr(kept));
  return out;
}

}  // namespace

std::string quote(std::string_view s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::optional<Appended> append_entry(std::string_view text, const Entry& entry, std::string& error) {
  Parsed p;
  if (!parse(text, p, error)) return std::nullopt;
  const auto eol = eol_of(text);
  Appended out;
  std::size_t at = 0;       // the insertion point
  std::string insert;       // what goes there
  std::size_t cut_from = 0, cut_to = 0;  // a range replaced by nothing (an empty value's [] or ~)
  if (!p.has_key) {
    // A new block at the end (after a newline the text may lack).
    at = text.size();
    if (!text.empty() && text.back() != '\n') insert += eol;
    insert += "mappings:";
    insert += block(entry, 2, 4, eol);
    insert += eol;
    out.line = line_number(text, text.size()) + (text.empty() || text.back() == '\n' ? 1 : 2);
  } else if (p.list.IsNull() || (p.list.IsSequence() && p.list.Style() == YAML::EmitterStyle::Flow &&
                                  p.list.size() == 0)) {
    // mappings: with nothing, ~, null or []: the value goes, the block follows the key's line.
    const auto colon = text.find(':', p.key_pos);
    const auto end = line_end(text, p.key_pos);
    auto value_end = end;
    for (auto i = colon + 1; i < end; ++i)
      if (text[i] == '#' && (text[i - 1] == ' ' || text[i - 1] == '\t')) {
        value_end = i;
        break;
      }
    auto v0 = colon + 1, v1 = value_end;
    while (v0 < v1 && (text[v0] == ' ' || text[v0] == '\t')) ++v0;
    while (v1 > v0 && (text[v1 - 1] == ' ' || text[v1 - 1] == '\t')) --v1;
    const auto value = text.substr(v0, v1 - v0);
    const bool empty_list = value.size() >= 2 && value.front() == '[' && value.back() == ']' &&
                            value.find_first_not_of(" \t", 1) == value.size() - 1;
    if (!value.empty() && value != "~" && value != "null" && value != "Null" && value != "NULL" && !empty_list) {
      error = "line " + std::to_string(line_number(text, p.key_pos)) + ": mappings: is '" + std::string(value) +
              "'; learn adds to a list written as items (- control: ...) or []";
      return std::nullopt;
    }
    if (!value.empty()) {
      cut_from = colon + 1;  // "mappings: []  # none" -> "mappings:  # none"
      cut_to = v1;
    }
    at = end;
    insert = block(entry, 2, 4, eol);
    out.line = line_number(text, p.key_pos) + 1;
  } else if (!p.list.IsSequence()) {
    error = "line " + std::to_string(line_number(text, p.key_pos)) +
            ": mappings: is not a list; learn adds to a list of - control: ... items";
    return std::nullopt;
  } else if (p.list.Style() == YAML::EmitterStyle::Flow) {
    const auto last = flow_item(text, static_cast<std::size_t>(p.list[p.list.size() - 1].Mark().pos));
    if (last.stop == std::string_view::npos) {
      error = "line " + std::to_string(line_number(text, last.start)) +
              ": cannot find where the last mapping of the flow list mappings: [...] ends";
      return std::nullopt;
    }
    at = last.end;  // right after it: before a comment or line break that follows it
    insert = ", " + flow(entry);
    out.line = line_number(text, at);
  } else {
    const YAML::Node first = p.list[0];
    const auto first_pos = static_cast<std::size_t>(first.Mark().pos);
    const auto dash = dash_before(text, first_pos);
    const std::size_t dash_col = dash - line_start(text, dash);
    std::size_t content_col = dash_col + 2;
    if (first.IsMap() && first.Style() != YAML::EmitterStyle::Flow) {
      const auto col = first_pos - line_start(text, first_pos);
      if (col > dash_col) content_col = col;
    }
    at = last_content_end(text, p.key_pos, p.end, dash_col > 0);
    insert = block(entry, dash_col, content_col, eol);
    out.line = line_number(text, at) + 1;
  }
  out.text.reserve(text.size() + insert.size());
  if (cut_to > cut_from) {
    out.text.append(text.substr(0, cut_from));
    out.text.append(text.substr(cut_to, at - cut_to));
  } else {
    out.text.append(text.substr(0, at));
  }
  out.text += insert;
  out.text.append(text.substr(at));
  if (!check_edit(p, out.text, {}, 1, error)) return std::nullopt;
  return out;
}

std::optional<Removed> remove_entries(std::string_view text, const std::vector<std::size_t>& items,
                                     std::string& error) {
  Parsed p;
  if (!parse(text, p, error)) return std::nullopt;
  if (!p.has_key || !p.list.IsSequence()) {
    error = "the file has no list of mappings";
    return std::nullopt;
  }
  std::vector<std::size_t> order(items);
  std::sort(order.begin(), order.end(), std::greater<>());  // the last first: the others stay where they are
  order.erase(std::unique(order.begin(), order.end()), order.end());
  if (order.empty() || order.front() >= p.list.size()) {
    error = "the file has " + std::to_string(p.list.size()) + " mappings, not the one to remove (it changed?)";
    return std::nullopt;
  }
  for (std::size_t i = 1; i < p.list.size(); ++i)
    if (p.list[i].Mark().pos <= p.list[i - 1].Mark().pos) {  // an alias (*name) is its anchor's node
      error = "line " + std::to_string(line_number(text, p.key_pos)) + ": mapping " + std::to_string(i + 1) +
              " of mappings: is an alias of an earlier one (*name); edit the file by hand";
      return std::nullopt;
    }
  Removed out;
  for (const auto i : items) out.lines.push_back(p.list[i].Mark().line + 1);
  const bool flow = p.list.Style() == YAML::EmitterStyle::Flow;
  std::string now(text);
  for (const auto i : order) {
    Parsed q;
    if (!parse(now, q, error)) return std::nullopt;
    if (flow) {
      auto cut = cut_flow_item(now, q, i, error);
      if (!cut) return std::nullopt;
      now = std::move(*cut);
    } else {
      const auto [from, to] = block_span(now, q, i);
      now.erase(from, to - from);
    }
  }
  if (!check_edit(p, now, order, 0, error)) return std::nullopt;
  out.text = std::move(now);
  return out;
}

}  // namespace knoblink::mapping_edit
