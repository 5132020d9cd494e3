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
/// line) when the text is not YAML or mappings: is not a list, or the result would not
/// hold exactly what the text held plus the entry.
std::optional<Appended> append_entry(std::string_view text, const Entry& entry, std::string& error);

/// The text without some items of its mappings: list, and the 1-based line each removed
/// item started on (in the order asked).
struct Removed {
  std::string text;
  std::vector<int> lines;
};

/// Cuts the items of the mappings: list at items (0-based indices into the list, as
/// config.cpp's Mapping::item). A block list's item goes from its "- " line to its last
/// line; comments and blank lines after it stay; a list left empty is left as `mappings:`
/// (no items). A flow list's item (`mappings: [{...}, {...}]`) goes with its comma: its own
/// lines when nothing else is on them, else the item and one blank (`[a, b, c]` -> `[a, c]`,
/// `[a, b]` -> `[a]`). nullopt + error (naming the line) when the text is not YAML, has no
/// list, an index is past its end, an item is an alias (*name) of another, or the result
/// would not hold exactly the other items and keys.
std::optional<Removed> remove_entries(std::string_view text, const std::vector<std::size_t>& items, std::string& error);

}  // namespace knoblink::mapping_edit
