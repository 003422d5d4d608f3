#pragma once
// How deep a JSON value nabla reads may nest. Its configs, checkpoint headers and metadata nest
// five levels at most; nlohmann's copies of a value recurse one stack frame a level, so a file
// nested 100,000 levels deep overflowed the stack. Every parse first looks for the place where
// the text goes deeper than this, and refuses it there, before the parser builds anything.
#include <cstddef>
#include <string_view>

namespace nabla {

constexpr int kMaxJsonDepth = 64;

// The byte offset of the first '[' or '{' (outside strings) that opens level kMaxJsonDepth + 1,
// or npos. Syntax is the parser's business: this only counts brackets.
inline size_t too_deep_at(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character, a quote perhaps
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string_view::npos;
}

}  // namespace nabla
