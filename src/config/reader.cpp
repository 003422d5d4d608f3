// The typed readers and the messages they give: what was expected, and what was got.
#include "config/reader.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "util/error.hpp"

namespace nabla::config {

namespace fs = std::filesystem;

namespace {

std::string quoted(const std::string& s) {
  std::string t = s;
  if (t.size() > 40) {
    size_t cut = 40;
    while (cut > 0 && (static_cast<unsigned char>(t[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
    t = t.substr(0, cut) + "...";
  }
  return ojson(t).dump(-1, ' ', false, ojson::error_handler_t::replace);
}

bool ruled_out(const Only& o, const Variants& variants) {
  const Variant& v = chosen(variants, o.selector);
  return v.ok && !(v.bit & o.mask);
}

}  // namespace

std::string describe(const ojson& v) {
  switch (v.type()) {
    case ojson::value_t::null:
      return "null";
    case ojson::value_t::string:
      return quoted(v.get_ref<const std::string&>());
    case ojson::value_t::array:
      return v.empty() ? "an empty array" : "an array";
    case ojson::value_t::object:
      return v.empty() ? "an empty object" : "an object";
    default:
      return v.dump();  // numbers, booleans
  }
}

std::string number_text(double x) {
  std::string s = ojson(x).dump();
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s;
}

std::optional<int64_t> as_integer(const ojson& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= 9007199254740992.0) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

std::string is_note(const std::string& what, const char* value, bool given) {
  return "(" + what + " is \"" + value + "\"" + (given ? "" : ", the default") + ")";
}

std::string child(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

bool may_apply(const std::vector<Only>& only, const Variants& variants) {
  return std::none_of(only.begin(), only.end(), [&](const Only& o) { return ruled_out(o, variants); });
}

bool surely_applies(const std::vector<Only>& only, const Variants& variants) {
  return std::all_of(only.begin(), only.end(),
                     [&](const Only& o) { return chosen(variants, o.selector).ok && !ruled_out(o, variants); });
}

// ---------------------------------------------------------------------------------------------

Reader::Reader(std::string file, const std::string& base_dir) : file_(std::move(file)) {
  std::error_code ec;
  const fs::path base = base_dir.empty() ? fs::path(".") : fs::path(base_dir);
  base_ = fs::absolute(base, ec);
  if (ec) base_ = base;
}

void Reader::error(const std::string& path, const std::string& what) {
  errors.push_back(Error::join(file_, path, what));
  bad_.insert(path);
}

bool Reader::ok(const std::string& path) const {
  if (bad_.count(path)) return false;
  for (size_t i = 0; i < path.size(); ++i)
    if ((path[i] == '.' || path[i] == '[') && bad_.count(path.substr(0, i))) return false;
  return true;
}

bool Reader::applies(const std::vector<Only>& only, const std::string& path) {
  for (const Only& o : only)
    if (ruled_out(o, variants)) {
      const Variant& v = chosen(variants, o.selector);
      auto set = [&](const std::string& p) {
        return std::find(set_paths.begin(), set_paths.end(), p) != set_paths.end();
      };
      if (!v.at.empty() && set(v.at) && !set(path)) {
        left_out.push_back({path, o.who, v.at});
        return false;
      }
      error(path, std::string("applies only to ") + o.who + " " + is_note(v.label, v.name, v.given));
      return false;
    }
  return true;
}

bool Reader::object(const ojson& v, const std::string& path, const std::string& hint) {
  if (v.is_object()) return true;
  error(path, "expected an object, got " + describe(v) + (hint.empty() ? "" : " (" + hint + ")"));
  return false;
}

bool Reader::integer(const ojson& v, const std::string& path, int64_t lo, int64_t hi, int64_t& out,
                     const std::string& text) {
  std::string expected = text;
  if (expected.empty())
    expected = hi != INT64_MAX ? "an integer from " + std::to_string(lo) + " to " + std::to_string(hi)
               : lo == 1       ? "a positive integer"
                               : "an integer >= " + std::to_string(lo);
  const auto x = as_integer(v);
  if (x && *x >= lo && *x <= hi) {
    out = *x;
    return true;
  }
  std::string message = "expected " + expected + ", got " + describe(v);
  if (x && *x > hi && !text.empty()) message += " (the largest allowed is " + std::to_string(hi) + ")";
  error(path, message);
  return false;
}

bool Reader::number(const ojson& v, const std::string& path, const Range& r, double& out) {
  if (v.is_number()) {
    const double x = v.get<double>();
    if (std::isfinite(x) && (r.lo_open ? x > r.lo : x >= r.lo) && (r.hi_open ? x < r.hi : x <= r.hi)) {
      out = x;
      return true;
    }
  }
  std::string message = std::string("expected ") + r.text + ", got " + describe(v);
  // A number JSON cannot hold ("1e400", "NaN", "inf"): --set passes what is not JSON as a string.
  if (v.is_string()) {
    const std::string& t = v.get_ref<const std::string&>();
    char* end = nullptr;
    errno = 0;
    const double x = t.empty() ? 0 : std::strtod(t.c_str(), &end);
    if (!t.empty() && end == t.c_str() + t.size())
      message += std::isnan(x)     ? " (a string: JSON has no NaN)"
                 : errno == ERANGE ? " (a string: " + t + " is beyond a double's range)"
                 : std::isinf(x)   ? " (a string: JSON has no infinity)"
                                   : " (a string, not a number)";
  }
  error(path, message);
  return false;
}

bool Reader::boolean(const ojson& v, const std::string& path, bool& out) {
  if (v.is_boolean()) {
    out = v.get<bool>();
    return true;
  }
  error(path, "expected true or false, got " + describe(v));
  return false;
}

bool Reader::one_of(const ojson& v, const std::string& path, const std::vector<std::string>& names, std::string& out) {
  if (v.is_string() && std::find(names.begin(), names.end(), v.get_ref<const std::string&>()) != names.end()) {
    out = v.get<std::string>();
    return true;
  }
  bad_choice(v, path, names, names);
  return false;
}

bool Reader::file_path(const ojson& v, const std::string& path, std::string& out) {
  if (!v.is_string() || v.get_ref<const std::string&>().empty()) {
    error(path, "expected a file path (a non-empty string), got " + describe(v));
    return false;
  }
  // The file system would cut the path at a NUL ("a.raw\u0000junk" would open a.raw).
  if (v.get_ref<const std::string&>().find('\0') != std::string::npos) {
    error(path, "a file path cannot hold a NUL character (\\u0000), got " + describe(v));
    return false;
  }
  // Relative to the config's folder; stored absolute and lexically normal. Existence is the
  // data module's business (a config may be validated on a machine without the data).
  out = (base_ / fs::path(v.get_ref<const std::string&>())).lexically_normal().string();
  return true;
}

void Reader::bad_choice(const ojson& v, const std::string& path, const std::vector<std::string>& listed,
                        const std::vector<std::string>& accepted) {
  std::string message = "expected one of " + joined(listed) + ", got " + describe(v);
  if (v.is_string())
    if (auto s = closest(v.get_ref<const std::string&>(), accepted)) message += " (did you mean \"" + *s + "\"?)";
  error(path, message);
}

}  // namespace nabla::config
