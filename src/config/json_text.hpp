#pragma once
// A config file's text as JSON: reading it, syntax errors with LINE:COLUMN, and keys given twice.
// Inside src/config only.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nabla::config {

// The file's bytes. Throws nabla::Errors (one "FILE: what" line) when it cannot be opened or read,
// is not a regular file or is over 16 MB.
std::string read_text(const std::string& path);

// Parses the text keeping the file's key order; every key given twice in one object goes into
// `errors` (JSON keeps the last one silently). Throws nabla::Errors for an empty file and for a
// syntax error ("FILE:LINE:COLUMN: JSON syntax error: ...").
nlohmann::ordered_json parse_text(const std::string& text, const std::string& file, std::vector<std::string>& errors);

}  // namespace nabla::config
