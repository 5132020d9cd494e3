// Edits of the mapping file's text that keep every other byte as it was (docs/mapping.md,
// "Learned mappings"): a learned mapping is appended to the mappings: list, a forgotten one
// is cut out of it. Comments, order, quoting, blank lines, indentation and line endings
// (LF or CRLF) stay; the new entry is written in the style of the list's existing items.
// Pure: text in, text out; yaml-cpp only finds where the list and its items are.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knoblink::mapping_edit {

/// One mapping entry to write: its keys in order, each value already YAML text (a plain
/// scalar, a quoted path from quote(), or a flow list like "[0, 1]").
struct Entry {
  std::vector<std::pair<std::string, std::string>> keys;
};

/// s as a YAML single-quoted scalar ('' for each '): data paths contain [ ] and quotes.
std::string quote(std::string_view s);

/// The text with the entry added at the end of its mappings: list, and the 1-based line of
/// the new entry's first key in it.
struct Appended {
  std::string text;
  int line = 0;
};

/// Appends entry to the mappings: list of text: after the list's last item (block style;
/// the first item's indentation), inside a flow list's brackets, in place of an empty
/// value, `[]` or `~`, or as a new mappings: block at the end when there is none. Nothing
/// before the insertion point and nothing after it changes. nullopt + error (naming the
/// line) when the text is not YAML or mappings: is not a list.
std::optional<Appended> append_entry(std::string_view text, const Entry& entry, std::string& error);

/// The text without some items of its mappings: list, and how many were cut.
struct Removed {
  std::string text;
  int count = 0;
};

/// Cuts the items of a block-style mappings: list whose first key is on one of item_lines
/// (1-based, as config.cpp's Mapping::line): each from its "- " line to its last line;
/// comments and blank lines after it stay. A list left empty is left as `mappings:` (no
/// items). nullopt + error when the text is not YAML, the list is in flow style, or a line
/// names no item.
std::optional<Removed> remove_entries(std::string_view text, const std::vector<int>& item_lines, std::string& error);

}  // namespace knoblink::mapping_edit
