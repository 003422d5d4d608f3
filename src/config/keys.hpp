#pragma once
// The schema's machinery. A section is a table of keys, and each key says once how it is read and
// written, which variants it applies to, whether it is required and whether it may change on
// resume. schema.cpp holds the tables; parse.cpp reads a config through them (read_section),
// to_json.cpp writes one (write_section) and config_schema() lists them (describe_section).
// Inside src/config only.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/reader.hpp"
#include "config/schema.hpp"

namespace nabla::config {

enum class Type { integer, number, boolean, string, path, object, array };
const char* type_name(Type t);  // as configs/README.md names it

// What a key holds, and how it moves between JSON and its section's struct S.
template <class S>
struct Value {
  Type type;
  // Reads `v` into the struct, reporting any problem at `path`; says whether it stored a value.
  std::function<bool(Reader&, const ojson& v, const std::string& path, S&)> read;
  std::function<ojson(const S&, Variants&)> write;
  // A section or a list of them: appends its description and those of the sections inside it.
  std::function<void(const std::string& path, std::vector<SectionInfo>&)> describe = nullptr;
  // A key that picks a variant: the selector it sets, and the struct's current choice for it.
  Selector selects = Selector::none;
  std::function<Variant(const S&)> current = nullptr;
  bool fixed_default = true;  // false when the parser computes the default (see computed_default)
};

enum KeyFlags : unsigned { kRequired = 1, kMayChangeOnResume = 2 };

// (A constructor rather than default member initializers: GCC 12 crashes on those here.)
template <class S>
struct Key {
  Key(const char* name, Value<S> value, std::vector<Only> only = {}, unsigned flags = 0,
      bool (*written)(const S&) = nullptr)
      : name(name), value(std::move(value)), only(std::move(only)), flags(flags), written(written) {}

  const char* name;
  Value<S> value;
  std::vector<Only> only;     // it applies only to these variants
  unsigned flags;             // KeyFlags
  bool (*written)(const S&);  // to_json writes it only when this holds (nullptr: whenever it applies)
};

template <class S>
struct Section {
  std::vector<Key<S>> keys;  // in the README's and to_json's order
  // Added to "expected an object, got ..." when the section is something else.
  std::string (*hint)(const std::string& path, const ojson& v) = nullptr;
  // Checks within the section once its keys are read.
  void (*finish)(Reader&, const ojson& v, const std::string& path, S&) = nullptr;
  bool may_change_on_resume = false;  // every key in it may
};

// --- in schema.cpp

const Section<Config>& root_section();
// The message for a key that the section at schema path `section` does not have.
std::string unknown_key(const std::string& section, const std::string& key);
// A JSON path with its indexes written "[]", as config_schema() names sections: model.layers[].
std::string schema_path(std::string_view path);
const SectionInfo* find_section(std::string_view schema_path);
bool has_key(const SectionInfo& section, std::string_view key);
// A run's name becomes a folder name (runs/NAME, runs/NAME-2, ...).
bool usable_name(const std::string& name);

// --- values, for the tables

template <class S, class M>
Value<S> integer(M S::*m, int64_t lo, int64_t hi = INT64_MAX, const char* text = "") {
  return {Type::integer,
          [=](Reader& r, const ojson& v, const std::string& path, S& s) {
            int64_t x = 0;
            if (!r.integer(v, path, lo, hi, x, text)) return false;
            s.*m = static_cast<M>(x);
            return true;
          },
          [=](const S& s, Variants&) { return ojson(s.*m); }};
}

template <class S>
Value<S> number(double S::*m, Range range) {
  return {Type::number,
          [=](Reader& r, const ojson& v, const std::string& path, S& s) { return r.number(v, path, range, s.*m); },
          [=](const S& s, Variants&) { return ojson(s.*m); }};
}

template <class S>
Value<S> boolean(bool S::*m) {
  return {Type::boolean,
          [=](Reader& r, const ojson& v, const std::string& path, S& s) { return r.boolean(v, path, s.*m); },
          [=](const S& s, Variants&) { return ojson(s.*m); }};
}

// A data file, relative to the config's folder.
template <class S>
Value<S> file_path(std::string S::*m) {
  return {Type::path,
          [=](Reader& r, const ojson& v, const std::string& path, S& s) { return r.file_path(v, path, s.*m); },
          [=](const S& s, Variants&) { return ojson(s.*m); }};
}

// One of a few strings (`names` must outlive the table).
template <class S>
Value<S> one_of(std::string S::*m, const std::vector<std::string>& names) {
  const auto* n = &names;
  return {Type::string,
          [=](Reader& r, const ojson& v, const std::string& path, S& s) { return r.one_of(v, path, *n, s.*m); },
          [=](const S& s, Variants&) { return ojson(s.*m); }};
}

// An enum, by its names.
template <class S, class E, size_t N>
Value<S> choice(E S::*m, const Name<E> (&table)[N]) {
  const auto* t = &table;
  return {Type::string,
          [=](Reader& r, const ojson& v, const std::string& path, S& s) { return r.choice(v, path, *t, s.*m); },
          [=](const S& s, Variants&) { return ojson(to_string(s.*m)); }};
}

// An enum that picks a variant; `label` names it in notes ("optimizer.type", "this layer's type").
template <class S, class E, size_t N>
Value<S> variant(E S::*m, const Name<E> (&table)[N], const char* label) {
  Value<S> v = choice(m, table);
  v.selects = selector_of<E>();
  v.current = [=](const S& s) {
    return Variant{1u << static_cast<unsigned>(s.*m), to_string(s.*m), label, true, false, ""};
  };
  return v;
}

// A value whose default the parser computes rather than takes from the struct (a layer's init
// follows its activation; the name is the config file's stem).
template <class S>
Value<S> computed_default(Value<S> v) {
  v.fixed_default = false;
  return v;
}

template <class S>
bool read_section(Reader& r, const Section<S>& s, const ojson& v, const std::string& path, S& out);
template <class S>
ojson write_section(const Section<S>& s, const S& in, Variants& variants);
template <class S>
void describe_section(const Section<S>& s, const std::string& path, std::vector<SectionInfo>& out);

// A section held in a member of the struct.
template <class S, class T>
Value<S> section(T S::*m, const Section<T>& of) {
  const auto* sub = &of;
  return {
      Type::object,
      [=](Reader& r, const ojson& v, const std::string& path, S& s) { return read_section(r, *sub, v, path, s.*m); },
      [=](const S& s, Variants& variants) { return write_section(*sub, s.*m, variants); },
      [=](const std::string& path, std::vector<SectionInfo>& out) { describe_section(*sub, path, out); }};
}

// A section whose keys fill the same struct (model.layers is Config::layers).
template <class S>
Value<S> nested(const Section<S>& of) {
  const auto* sub = &of;
  return {Type::object,
          [=](Reader& r, const ojson& v, const std::string& path, S& s) { return read_section(r, *sub, v, path, s); },
          [=](const S& s, Variants& variants) { return write_section(*sub, s, variants); },
          [=](const std::string& path, std::vector<SectionInfo>& out) { describe_section(*sub, path, out); }};
}

// --- the walks

template <class S>
const Key<S>* find_key(const Section<S>& s, std::string_view name) {
  for (const Key<S>& k : s.keys)
    if (name == k.name) return &k;
  return nullptr;
}

// Reads the object `v` at `path` into `out`: the keys that pick a variant first (the others depend
// on them), then every key in the file's order, then the required keys that are missing. A key of
// another variant is an error, unless that variant's own key was invalid. Says whether v was an object.
template <class S>
bool read_section(Reader& r, const Section<S>& s, const ojson& v, const std::string& path, S& out) {
  if (!r.object(v, path, s.hint ? s.hint(path, v) : "")) return false;
  for (const Key<S>& k : s.keys) {
    if (k.value.selects == Selector::none) continue;
    const bool given = v.contains(k.name);
    bool ok = true;
    if (given && may_apply(k.only, r.variants)) ok = k.value.read(r, v.at(k.name), child(path, k.name), out);
    Variant& now = chosen(r.variants, k.value.selects);
    now = k.value.current(out);
    now.ok = ok;
    now.given = given;
    now.at = given ? child(path, k.name) : "";
  }
  const std::string schema = schema_path(path);
  for (const auto& [name, x] : v.items()) {
    const std::string key_path = child(path, name);
    const Key<S>* k = find_key(s, name);
    if (!k)
      r.error(key_path, unknown_key(schema, name));
    else if (r.applies(k->only, key_path) && k->value.selects == Selector::none)
      k->value.read(r, x, key_path, out);
  }
  for (const Key<S>& k : s.keys)
    if ((k.flags & kRequired) && !v.contains(k.name) && surely_applies(k.only, r.variants))
      r.error(child(path, k.name), "missing required key");
  if (s.finish) s.finish(r, v, path, out);
  return true;
}

// The keys that apply to the struct's variants, in the table's order.
template <class S>
ojson write_section(const Section<S>& s, const S& in, Variants& variants) {
  for (const Key<S>& k : s.keys)
    if (k.value.selects != Selector::none) chosen(variants, k.value.selects) = k.value.current(in);
  ojson j = ojson::object();
  for (const Key<S>& k : s.keys)
    if (may_apply(k.only, variants) && (!k.written || k.written(in))) j[k.name] = k.value.write(in, variants);
  return j;
}

// Appends the section at `path`, then the sections inside it, in the table's order.
template <class S>
void describe_section(const Section<S>& s, const std::string& path, std::vector<SectionInfo>& out) {
  const S defaults{};
  Variants variants{};
  SectionInfo info{path, {}, s.may_change_on_resume};
  for (const Key<S>& k : s.keys) {
    const bool has_default =
        !k.value.describe && k.value.fixed_default && !(k.flags & kRequired) && (!k.written || k.written(defaults));
    info.keys.push_back({k.name, type_name(k.value.type), has_default ? k.value.write(defaults, variants).dump() : "",
                         (k.flags & kMayChangeOnResume) != 0});
  }
  out.push_back(std::move(info));
  for (const Key<S>& k : s.keys)
    if (k.value.describe) k.value.describe(child(path, k.name), out);
}

}  // namespace nabla::config
