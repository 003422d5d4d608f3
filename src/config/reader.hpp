#pragma once
// Reading JSON values into the structs: the typed readers that check a value's type and range, the
// messages they give, and the state of a config being read (every error so far, and the variants
// chosen, which decide the keys that apply). Inside src/config only.
#include <array>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "config/names.hpp"
#include "config/types.hpp"

namespace nabla::config {

using ojson = nlohmann::ordered_json;

// --- showing what was got

// Scalars as JSON writes them (numbers as written, strings quoted, true, null), containers by their
// type. Strings are cut after about 40 bytes.
std::string describe(const ojson& v);
// A double for a message: shortest round-trip digits, "1" rather than "1.0".
std::string number_text(double x);
// An integer written as one (5) or as a number with nothing after the point (5.0, 5e2), exactly
// representable: the same value either way.
std::optional<int64_t> as_integer(const ojson& v);
// "(optimizer.type is "adam")", or "(... is "sgd", the default)" when the key was left out.
std::string is_note(const std::string& what, const char* value, bool given);
// "a.b" + "c" -> "a.b.c"; at the top level just "c".
std::string child(const std::string& path, const std::string& key);

struct Range {
  double lo;
  bool lo_open;
  double hi;
  bool hi_open;
  const char* text;
};
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr Range kPositive{0, true, kInf, false, "a number > 0"};
constexpr Range kNonNegative{0, false, kInf, false, "a number >= 0"};
constexpr Range kFraction{0, false, 1, true, "a number in [0, 1)"};
constexpr Range kDecay{0, true, 1, false, "a number in (0, 1]"};
// The inputs are divided by data.scale in float: far outside float's range they become 0 or infinity.
// Epochs of warm-up: counted in steps (epochs x steps an epoch, an int64), so bounded far below that.
constexpr Range kWarmup{0, false, 1e6, false, "a number in [0, 1e6]"};
constexpr Range kScale{1e-30, false, 1e30, false, "a number in [1e-30, 1e30] (the inputs are divided by it, in float)"};

// --- variants: keys that pick one (a layer's type, optimizer.type) decide which other keys apply

enum class Selector { none, format, layer_type, activation, norm, loss, optimizer, schedule };

template <class E>
constexpr Selector selector_of() {
  if constexpr (std::is_same_v<E, DataFormat>)
    return Selector::format;
  else if constexpr (std::is_same_v<E, LayerType>)
    return Selector::layer_type;
  else if constexpr (std::is_same_v<E, Activation>)
    return Selector::activation;
  else if constexpr (std::is_same_v<E, Norm>)
    return Selector::norm;
  else if constexpr (std::is_same_v<E, LossKind>)
    return Selector::loss;
  else if constexpr (std::is_same_v<E, OptimizerKind>)
    return Selector::optimizer;
  else if constexpr (std::is_same_v<E, ScheduleKind>)
    return Selector::schedule;
  else
    return Selector::none;
}

// A selector's value while its section (and the sections inside it) are read or written.
struct Variant {
  unsigned bit = 0;        // 1 << the enum's value
  const char* name = "";   // to_string of it
  const char* label = "";  // how notes name it: "optimizer.type", "this layer's activation"
  bool ok = true;          // false when it was given and invalid: then every key is taken to apply
  bool given = false;
  std::string at;  // the JSON path of the key that chose it, when given: "optimizer.type"
};
using Variants = std::array<Variant, 8>;  // by Selector

inline Variant& chosen(Variants& v, Selector s) { return v[static_cast<size_t>(s)]; }
inline const Variant& chosen(const Variants& v, Selector s) { return v[static_cast<size_t>(s)]; }

// A key that applies only to some values of a selector: "applies only to WHO (optimizer.type is ...)".
struct Only {
  Selector selector;
  unsigned mask;  // the values' bits
  const char* who;
};

template <class E>
Only only(std::initializer_list<E> values, const char* who) {
  unsigned mask = 0;
  for (E e : values) mask |= 1u << static_cast<unsigned>(e);
  return {selector_of<E>(), mask, who};
}

// False when a valid selector has a value the key does not apply to.
bool may_apply(const std::vector<Only>& only, const Variants& variants);
// True when every selector is valid and has a value the key applies to.
bool surely_applies(const std::vector<Only>& only, const Variants& variants);

// --- the config being read

class Reader {
 public:
  // `file` names the config in messages; relative data paths are resolved against `base_dir`.
  Reader(std::string file, const std::string& base_dir);

  std::vector<std::string> errors;  // load_config puts duplicate keys and bad --set here first
  Variants variants{};
  // The JSON paths that --set changed. A key of the file that no longer applies because --set
  // changed its variant (optimizer.type=adam leaves optimizer.momentum behind) is left out, and
  // said in `left_out`, rather than an error.
  std::vector<std::string> set_paths;
  struct LeftOut {
    std::string key, who, selector;  // "optimizer.momentum", "sgd", "optimizer.type"
  };
  std::vector<LeftOut> left_out;

  const std::string& file() const { return file_; }
  void error(const std::string& path, const std::string& what);
  // True when neither `path` nor an object around it had an error, so its value can be trusted.
  bool ok(const std::string& path) const;
  // Reports "applies only to ..." at `path` and returns false when may_apply does not hold (or
  // records it in left_out, see set_paths).
  bool applies(const std::vector<Only>& only, const std::string& path);

  // Each checks type and range, stores only a valid value and says whether it did.
  bool object(const ojson& v, const std::string& path, const std::string& hint = "");
  // `text` replaces the generated "a positive integer" / "an integer from 1 to 64" when the upper
  // bound is a technical limit rather than part of the meaning.
  bool integer(const ojson& v, const std::string& path, int64_t lo, int64_t hi, int64_t& out,
               const std::string& text = "");
  bool number(const ojson& v, const std::string& path, const Range& r, double& out);
  bool boolean(const ojson& v, const std::string& path, bool& out);
  bool one_of(const ojson& v, const std::string& path, const std::vector<std::string>& names, std::string& out);
  bool file_path(const ojson& v, const std::string& path, std::string& out);

  template <class E, size_t N>
  bool choice(const ojson& v, const std::string& path, const Name<E> (&table)[N], E& out) {
    if (v.is_string())
      if (auto e = value_of(table, v.get_ref<const std::string&>())) {
        out = *e;
        return true;
      }
    const auto [listed, accepted] = names_of(table);
    bad_choice(v, path, listed, accepted);
    return false;
  }

 private:
  std::string file_;
  std::filesystem::path base_;
  std::set<std::string> bad_;  // paths that had an error: the cross-field checks skip them

  void bad_choice(const ojson& v, const std::string& path, const std::vector<std::string>& listed,
                  const std::vector<std::string>& accepted);
};

}  // namespace nabla::config
