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

/// The ']' closing the flow sequence opened at open (quotes and comments skipped), or npos.
std::size_t closing_bracket(std::string_view text, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\'') {
      for (++i; i < text.size(); ++i)
        if (text[i] == '\'') {
          if (i + 1 < text.size() && text[i + 1] == '\'') ++i;
          else break;
        }
    } else if (c == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i)
        if (text[i] == '\\') ++i;
    } else if (c == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == '\n')) {
      i = line_end(text, i);
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (--depth == 0) return c == ']' ? i : std::string_view::npos;
    }
  }
  return std::string_view::npos;
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

/// Checks that the edit left a list of want items: the file's layout may be one these
/// rules do not place an entry in correctly, and a broken file must never be written.
bool check_items(std::string_view text, std::size_t want, std::string& error) {
  Parsed p;
  std::string why;
  if (parse(text, p, why) && p.has_key && (p.list.IsSequence() || (want == 0 && p.list.IsNull())) &&
      (p.list.IsNull() ? 0 : p.list.size()) == want)
    return true;
  error = "the edited file would not hold " + std::to_string(want) + " mappings (" +
          (why.empty() ? "an unusual layout of mappings:" : why) + "); edit it by hand";
  return false;
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
  const std::size_t before = p.has_key && p.list.IsSequence() ? p.list.size() : 0;
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
    const auto open = static_cast<std::size_t>(p.list.Mark().pos);
    const auto close = closing_bracket(text, open);
    if (close == std::string_view::npos) {
      error = "line " + std::to_string(line_number(text, open)) + ": cannot find the ] closing mappings: [";
      return std::nullopt;
    }
    at = close;
    while (at > open + 1 && (text[at - 1] == ' ' || text[at - 1] == '\t' || text[at - 1] == '\n' ||
                             text[at - 1] == '\r'))
      --at;
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
  if (!check_items(out.text, before + 1, error)) return std::nullopt;
  return out;
}

std::optional<Removed> remove_entries(std::string_view text, const std::vector<int>& item_lines, std::string& error) {
  Parsed p;
  if (!parse(text, p, error)) return std::nullopt;
  if (!p.has_key || !p.list.IsSequence()) {
    error = "the file has no list of mappings";
    return std::nullopt;
  }
  if (p.list.Style() == YAML::EmitterStyle::Flow) {
    error = "line " + std::to_string(line_number(text, p.key_pos)) +
            ": mappings: is in flow style [...]; remove the entry by hand";
    return std::nullopt;
  }
  // Each item spans from its dash's line to the end of its last content line.
  struct Span {
    std::size_t from, to;
    int line;
  };
  std::vector<Span> spans;
  for (std::size_t i = 0; i < p.list.size(); ++i) {
    const auto pos = static_cast<std::size_t>(p.list[i].Mark().pos);
    spans.push_back({line_start(text, dash_before(text, pos)), 0, p.list[i].Mark().line + 1});
  }
  for (std::size_t i = 0; i < spans.size(); ++i) {  // comments after an item stay (they lead the next)
    const auto limit = i + 1 < spans.size() ? spans[i + 1].from : p.end;
    spans[i].to = next_line(text, last_content_end(text, spans[i].from, limit, false));
  }
  Removed out;
  std::size_t kept = 0;
  for (const auto& s : spans) {
    if (std::find(item_lines.begin(), item_lines.end(), s.line) == item_lines.end()) continue;
    out.text.append(text.substr(kept, s.from - kept));
    kept = s.to;
    ++out.count;
  }
  if (out.count != static_cast<int>(item_lines.size())) {
    error = "no mapping starts on one of the lines given (the file changed?)";
    return std::nullopt;
  }
  out.text.append(text.substr(kept));
  if (!check_items(out.text, spans.size() - static_cast<std::size_t>(out.count), error)) return std::nullopt;
  return out;
}

}  // namespace knoblink::mapping_edit
