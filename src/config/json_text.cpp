// A config file's text as JSON: the file read whole (bounded), nlohmann's syntax errors rewritten
// as "FILE:LINE:COLUMN: JSON syntax error: ...", and keys given twice caught while parsing.
#include "config/json_text.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "util/error.hpp"
#include "util/json_depth.hpp"

namespace nabla::config {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

// A config is a few kilobytes; a file much larger is something else.
constexpr size_t kMaxConfigBytes = size_t(16) << 20;

std::string read_text(const std::string& path) {
  auto fail = [&](const std::string& what) { throw Errors({Error::join(path, "", what)}); };
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail(std::string("cannot open: ") + std::strerror(EISDIR));
  const auto status = fs::status(path, ec);
  if (!ec && fs::exists(status) && !fs::is_regular_file(status))
    fail("is not a regular file (a device or a pipe?), expected a JSON config file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(std::string("cannot open: ") + std::strerror(errno));
  std::string text;
  char buffer[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
    text.append(buffer, n);
    if (text.size() > kMaxConfigBytes) {
      std::fclose(f);
      fail("is over " + std::to_string(kMaxConfigBytes >> 20) + " MB, expected a JSON config file");
    }
  }
  const int read_error = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (read_error) fail(std::string("cannot read: ") + std::strerror(read_error));
  return text;
}

namespace {

// "LINE:COLUMN" (both from 1, columns in characters) of the byte at `offset`.
std::string line_column(const std::string& text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n')
      line++, column = 1;
    else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80)
      column++;  // not a UTF-8 continuation byte
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

// nlohmann's "[json.exception.parse_error.101] parse error at line 3, column 14: syntax error while
// parsing value - unexpected '}'; ..." becomes "FILE:3:14: JSON syntax error: unexpected '}'; ...".
std::string syntax_error(const std::string& text, const std::string& file, const nlohmann::json::parse_error& e) {
  std::string what = e.what();
  if (const size_t colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
  const std::string prefix = "syntax error while parsing ";
  if (what.compare(0, prefix.size(), prefix) == 0)
    if (const size_t dash = what.find(" - "); dash != std::string::npos) what = what.substr(dash + 3);
  // "; last read: '{<U+000A>/'" repeats what line:column already says, less readably.
  const std::string last_read = "; last read: '";
  if (const size_t from = what.find(last_read); from != std::string::npos) {
    const size_t to = what.find("'; ", from + last_read.size());
    what.erase(from, to == std::string::npos ? std::string::npos : to + 1 - from);
  }
  std::string where = file;
  if (e.byte > 0) {
    const size_t at = e.byte - 1;  // e.byte counts the offending byte itself
    where += ":" + line_column(text, at);
    const std::string invalid = "invalid literal";
    const unsigned char c = at < text.size() ? static_cast<unsigned char>(text[at]) : 0;
    if (what.compare(0, invalid.size(), invalid) == 0 && c > ' ' && c < 127) {
      const char quote = c == '\'' ? '"' : '\'';
      what.replace(0, invalid.size(), std::string("unexpected ") + quote + text[at] + quote);
      if (c == '/') what += " (JSON has no comments)";
      if (c == '\'') what += " (JSON strings take double quotes)";
    }
  }
  return where + ": JSON syntax error: " + what;
}

// out_of_range 406, "number overflow parsing '1e400'": a number too large for a double. It carries
// no position: the literal is found in the text.
std::string other_error(const std::string& text, const std::string& file, const nlohmann::json::exception& e) {
  std::string what = e.what(), where = file;
  const std::string marker = "number overflow parsing '";
  if (const size_t m = what.find(marker); m != std::string::npos) {
    const std::string literal = what.substr(m + marker.size(), what.rfind('\'') - m - marker.size());
    what = "number out of range: " + literal;
    if (const size_t at = text.find(literal); at != std::string::npos) where += ":" + line_column(text, at);
  }
  return where + ": JSON syntax error: " + what;
}

}  // namespace

ojson parse_text(const std::string& text, const std::string& file, std::vector<std::string>& errors) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw Errors({Error::join(file, "", "the file is empty (expected a JSON object)")});
  // A UTF-16 file (as some Windows editors save) is all "invalid literal" to a JSON parser.
  if (text.rfind("\xFF\xFE", 0) == 0 || text.rfind("\xFE\xFF", 0) == 0)
    throw Errors({Error::join(file, "",
                              std::string("the file is UTF-16 (it starts with the byte-order mark ") +
                                  (text[0] == '\xFF' ? "FF FE" : "FE FF") + "): save it as UTF-8, as JSON is")});
  // The JSON library takes a NUL byte for the end of the text, and would ignore what follows it.
  if (const size_t nul = text.find('\0'); nul != std::string::npos)
    throw Errors({file + ":" + line_column(text, nul) + ": JSON syntax error: a NUL byte (JSON text holds none)"});

  if (const size_t deep = too_deep_at(text); deep != std::string::npos)
    throw Errors({file + ":" + line_column(text, deep) + ": JSON nested more than " + std::to_string(kMaxJsonDepth) +
                  " levels deep (a config nests five)"});

  struct Frame {
    bool array;
    size_t index = 0;   // array: the element being parsed
    std::string key{};  // object: the key being parsed
    std::set<std::string> keys{};
  };
  std::vector<Frame> stack;
  auto path = [&] {
    std::string s;
    for (const auto& f : stack) {  // appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "[" + ...
      if (f.array) {
        s += '[';
        s += std::to_string(f.index);
        s += ']';
      } else {
        if (!s.empty()) s += '.';
        s += f.key;
      }
    }
    return s;
  };
  using Event = nlohmann::json::parse_event_t;
  auto track = [&](int, Event event, ojson& parsed) {
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        stack.push_back({event == Event::array_start});
        break;
      case Event::key:
        stack.back().key = parsed.get<std::string>();
        if (!stack.back().keys.insert(stack.back().key).second)
          errors.push_back(Error::join(file, path(), "duplicate key"));
        break;
      case Event::value:
        if (!stack.empty() && stack.back().array) stack.back().index++;
        break;
      case Event::object_end:
      case Event::array_end:
        stack.pop_back();
        if (!stack.empty() && stack.back().array) stack.back().index++;
        break;
    }
    return true;
  };
  try {
    return ojson::parse(text, track);
  } catch (const nlohmann::json::parse_error& e) {
    throw Errors({syntax_error(text, file, e)});
  } catch (const nlohmann::json::exception& e) {
    throw Errors({other_error(text, file, e)});
  }
}

}  // namespace nabla::config
