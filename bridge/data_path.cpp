#include "bridge/data_path.hpp"

#include <algorithm>

namespace knoblink {

namespace {

constexpr std::size_t kMaxPath = 1024;

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word(char c) { return is_alpha(c) || is_digit(c) || c == '_'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

/// One token of the path after the root, as the add-on's _TOKEN regex reads it.
struct Token {
  PathSegment segment;
  std::optional<std::string> library;
  std::size_t pos = 0;
  bool each = false;  ///< [*]
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : t_(text) {}

  /// Reads every token from pos; false (and error set) at the first thing that is none.
  bool run(std::size_t pos, std::vector<Token>& out, std::string& error) {
    while (pos < t_.size()) {
      Token tok;
      tok.pos = pos;
      const std::size_t end = token(pos, tok);
      if (end == 0) {
        error = "cannot parse " + quoted(t_.substr(pos)) + " at offset " + std::to_string(pos) + " of " +
                quoted(t_) + "; expected .name, [integer], [\"key\"] or [*]";
        return false;
      }
      out.push_back(std::move(tok));
      pos = end;
    }
    return true;
  }

 private:
  /// The end of the token at pos, or 0 when there is none.
  std::size_t token(std::size_t pos, Token& tok) {
    if (t_[pos] == '.') {
      std::size_t i = pos + 1;
      if (i >= t_.size() || !(is_alpha(t_[i]) || t_[i] == '_')) return 0;
      while (i < t_.size() && is_word(t_[i])) ++i;
      tok.segment = {PathSegment::Kind::attr, std::string(t_.substr(pos + 1, i - pos - 1))};
      return i;
    }
    if (t_[pos] != '[') return 0;
    if (t_.substr(pos, 3) == "[*]") {
      tok.each = true;
      tok.segment = {PathSegment::Kind::attr, "*"};
      return pos + 3;
    }
    std::size_t i = pos + 1;
    if (i < t_.size() && is_digit(t_[i])) {
      while (i < t_.size() && is_digit(t_[i])) ++i;
      if (i >= t_.size() || t_[i] != ']') return 0;
      std::string digits(t_.substr(pos + 1, i - pos - 1));
      digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
      tok.segment = {PathSegment::Kind::index, std::move(digits)};
      return i + 1;
    }
    i = skip_space(i);
    if (i >= t_.size() || (t_[i] != '"' && t_[i] != '\'')) return 0;
    const char quote = t_[i];
    std::string key;
    i = string(i, quote, key);
    if (i == 0) return 0;
    i = skip_space(i);
    if (quote == '"' && i < t_.size() && t_[i] == ',') {
      i = skip_space(i + 1);
      if (t_.substr(i, 4) == "None") {
        i += 4;
      } else if (i < t_.size() && t_[i] == '"') {
        std::string lib;
        i = string(i, '"', lib);
        if (i == 0) return 0;
        tok.library = std::move(lib);
      } else {
        return 0;
      }
      i = skip_space(i);
    }
    if (i >= t_.size() || t_[i] != ']') return 0;
    tok.segment = {PathSegment::Kind::key, std::move(key)};
    return i + 1;
  }

  std::size_t skip_space(std::size_t i) const {
    while (i < t_.size() && is_space(t_[i])) ++i;
    return i;
  }

  /// Reads a quoted string starting at the quote at i into out (backslash escapes any
  /// character but a newline); the index after the closing quote, or 0.
  std::size_t string(std::size_t i, char quote, std::string& out) const {
    for (++i; i < t_.size(); ++i) {
      const char c = t_[i];
      if (c == quote) return i + 1;
      if (c == '\\') {
        if (i + 1 >= t_.size() || t_[i + 1] == '\n') return 0;
        out += t_[++i];
      } else {
        out += c;
      }
    }
    return 0;
  }

  std::string_view t_;
};

std::string context_roots(std::string_view sep, bool selections = false) {
  std::string out;
  for (auto r : kContextRoots) out += (out.empty() ? "" : std::string(sep)) + std::string(r);
  if (selections)
    for (auto r : kSelectionRoots) out += std::string(sep) + std::string(r) + "[*]";
  return out;
}

bool is_selection(std::string_view attr) {
  return std::find(std::begin(kSelectionRoots), std::end(kSelectionRoots), attr) != std::end(kSelectionRoots);
}

}  // namespace

DataPathResult parse_data_path(std::string_view text) {
  DataPathResult r;
  if (text.size() > kMaxPath) {
    r.error = "path is " + std::to_string(text.size()) + " characters; at most " + std::to_string(kMaxPath);
    return r;
  }
  // (bpy.)context or bpy.data, then a word boundary.
  const auto starts = [&](std::string_view word, std::size_t at) {
    return text.substr(at, word.size()) == word && (at + word.size() >= text.size() || !is_word(text[at + word.size()]));
  };
  std::size_t pos = 0;
  bool context = false;
  if (starts("context", 0)) {
    context = true;
    pos = 7;
  } else if (text.substr(0, 4) == "bpy." && starts("context", 4)) {
    context = true;
    pos = 11;
  } else if (text.substr(0, 4) == "bpy." && starts("data", 4)) {
    pos = 8;
  } else {
    r.error = "path " + quoted(text) + " must start with bpy.data.<collection>[\"name\"] or context.<" +
              context_roots("|") + ">";
    return r;
  }
  std::vector<Token> toks;
  if (!Lexer(text).run(pos, toks, r.error)) return r;
  for (const auto& t : toks)
    if (!t.each && t.segment.kind != PathSegment::Kind::index && !t.segment.text.empty() && t.segment.text[0] == '_') {
      r.error = "segment " + quoted(t.segment.text) + " at offset " + std::to_string(t.pos) + " of " + quoted(text) +
                " starts with an underscore; not allowed";
      return r;
    }
  const std::size_t root_tokens = context ? 1 : 2;
  for (std::size_t i = root_tokens; i < toks.size(); ++i)
    if (toks[i].library) {
      r.error = "a library name is only allowed right after bpy.data.<collection> (offset " +
                std::to_string(toks[i].pos) + " of " + quoted(text) + ")";
      return r;
    }
  for (std::size_t i = 0; i < toks.size(); ++i)
    if (toks[i].each && !(i == 1 && context && !toks[0].each && toks[0].segment.kind == PathSegment::Kind::attr &&
                          is_selection(toks[0].segment.text))) {
      std::string after;
      for (auto sel : kSelectionRoots) after += (after.empty() ? "" : " or ") + ("context." + std::string(sel));
      r.error = "[*] at offset " + std::to_string(toks[i].pos) + " of " + quoted(text) +
                ": [*] is only allowed right after " + after;
      return r;
    }
  DataPath p;
  p.context = context;
  std::size_t first = root_tokens;
  if (!context) {
    if (toks.size() < 2 || toks[0].segment.kind != PathSegment::Kind::attr ||
        toks[1].segment.kind != PathSegment::Kind::key) {
      r.error = "path " + quoted(text) + " must start with bpy.data.<collection>[\"name\"]";
      return r;
    }
    p.collection = toks[0].segment.text;
    p.name = toks[1].segment.text;
    p.library = toks[1].library;
  } else if (!toks.empty() && toks[0].segment.kind == PathSegment::Kind::attr && !toks[0].each &&
             is_selection(toks[0].segment.text)) {
    if (toks.size() < 2 || !toks[1].each) {
      r.error = "context." + toks[0].segment.text + " in " + quoted(text) +
                " is a list: it needs [*] to fan out (context." + toks[0].segment.text + "[*].<property>)";
      return r;
    }
    p.fan_out = true;
    p.context_attr = toks[0].segment.text;
    first = 2;
  } else {
    const bool allowed = !toks.empty() && toks[0].segment.kind == PathSegment::Kind::attr && !toks[0].each &&
                         std::find(std::begin(kContextRoots), std::end(kContextRoots), toks[0].segment.text) !=
                             std::end(kContextRoots);
    if (!allowed) {
      r.error = "context root " + quoted(toks.empty() ? std::string() : toks[0].segment.text) + " in " + quoted(text) +
                " is not allowed; allowed: " + context_roots(", ", true);
      return r;
    }
    p.context_attr = toks[0].segment.text;
  }
  for (std::size_t i = first; i < toks.size(); ++i) p.segments.push_back(std::move(toks[i].segment));
  const auto& s = p.segments;
  if (s.empty()) {
    r.error = "path " + quoted(text) + " names a data-block or struct, not a property";
    return r;
  }
  if (s.back().kind == PathSegment::Kind::index && (s.size() < 2 || s[s.size() - 2].kind != PathSegment::Kind::attr)) {
    r.error = "path " + quoted(text) + " ends in an index that does not follow a property name";
    return r;
  }
  r.path = std::move(p);
  return r;
}

bool is_operator_name(std::string_view text) {
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) return false;
  const auto part = [](std::string_view w) {
    if (w.empty() || !(w[0] >= 'a' && w[0] <= 'z')) return false;
    return std::all_of(w.begin(), w.end(), [](char c) { return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_'; });
  };
  return part(text.substr(0, dot)) && part(text.substr(dot + 1));
}

}  // namespace knoblink
