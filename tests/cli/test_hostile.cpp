// Hostile inputs, given to the nabla binary as a user gives files: one table, a row per input. Each
// row writes its file(s) byte by byte (IDX, gzip, safetensors and PNG built here, from the formats'
// descriptions, not by nabla's writers), runs one command, and asks for what the issue promises:
// exit code 2, exactly one line, naming the file and the place in it (a byte offset, a field, a JSON
// path, a line), and no sanitizer report, uncaught exception or internal error. Together the rows
// show that every length, count and offset nabla reads from a file is checked before it is used:
// a header that claims more than the file holds, a gzip stream that goes on past its header's size,
// a cut at every field of a header, offsets that overlap or point outside the data, shapes whose
// byte count overflows, non-finite numbers, a network and data that disagree, and files that are not
// regular files. Forgeries that must get past a checkpoint's CRC-32s recompute them, as a writer
// that meant the change would.
//
// Every command runs under `timeout`, so that a hang fails its row instead of blocking the suite,
// and, where no sanitizer reserves the address space, under a 4 GB address-space limit, so that an
// allocation sized by an unchecked header fails its row with "out of memory" rather than taking the
// machine's memory.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/helpers.hpp"

namespace fs = std::filesystem;
using cli_test::Run;

namespace {

using ojson = nlohmann::ordered_json;

// One hostile input: the files it writes, the command given them, and what the message must hold.
struct Row {
  std::string name;
  std::function<void()> write;      // writes the hostile file(s) into the test's folder
  std::string args;                 // nabla's command line
  std::vector<std::string> expect;  // substrings of the message: the file, and the place in it
  // Today it allocates by a size it has not checked: run only under the address-space limit.
  bool needs_limit = false;
};

// --- bytes

void put(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  REQUIRE(f.good());
}

std::string contents(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// A file of `size` bytes that are zero but for `head` at its start: sparse, so that a file of
// gigabytes takes no disk.
void write_sparse(const fs::path& p, const std::string& head, int64_t size) {
  put(p, head);
  fs::resize_file(p, uintmax_t(size));
}

std::string be32(uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }
std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char(v >> (8 * i));
  return s;
}

// An IDX file: the magic 00 00 TYPE NDIMS, the dimensions big-endian, then `body` as given.
std::string idx(uint8_t type, const std::vector<uint32_t>& dims, const std::string& body) {
  std::string s = {'\0', '\0', char(type), char(dims.size())};
  for (uint32_t d : dims) s += be32(d);
  return s + body;
}
constexpr uint8_t kU8 = 0x08, kF32 = 0x0D;

// n bytes of a pattern (pixels), and n labels cycling through 0..classes-1.
std::string pixels(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char((i * 37) % 251);
  return s;
}
std::string labels(size_t n, int classes) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char(int(i) % classes);
  return s;
}

// float32 values big-endian, as IDX holds them.
std::string be_floats(const std::vector<float>& v) {
  std::string s;
  for (float x : v) {
    uint32_t b;
    std::memcpy(&b, &x, 4);
    s += be32(b);
  }
  return s;
}

// One gzip member of `raw` (zlib's deflate with the gzip wrapper).
std::string gzip(const std::string& raw, int level = 6) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, uLong(raw.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = uInt(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

uint32_t crc_of(const std::string& s) {
  return uint32_t(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(s.data()), uInt(s.size())));
}
std::string hex8(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "%08x", unsigned(v));
  return b;
}

// A PNG whose IHDR says width x height, with one small IDAT that holds nothing like that many pixels.
std::string png_claiming(uint32_t width, uint32_t height) {
  auto chunk = [](const std::string& type, const std::string& data) {
    return be32(uint32_t(data.size())) + type + data + be32(crc_of(type + data));
  };
  uLongf size = 64;
  std::string z(size, '\0');
  const std::string row(2, '\0');  // filter byte 0 and one grey pixel
  REQUIRE(compress(reinterpret_cast<Bytef*>(z.data()), &size, reinterpret_cast<const Bytef*>(row.data()),
                   uLong(row.size())) == Z_OK);
  z.resize(size);
  const std::string ihdr = be32(width) + be32(height) + std::string{8, 0, 0, 0, 0};  // 8-bit grey
  return "\x89PNG\r\n\x1a\n" + chunk("IHDR", ihdr) + chunk("IDAT", z) + chunk("IEND", "");
}

// --- checkpoints: a real one, taken apart and put together again

struct Tensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

struct Checkpoint {
  std::map<std::string, std::string> metadata;
  std::vector<Tensor> tensors;  // in data order
};

// The 8-byte length, the JSON header (in its order) and the tensor bytes of a safetensors file.
struct Parts {
  ojson header;
  std::string data;
};

Parts split(const std::string& file) {
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  return {ojson::parse(file.substr(8, n)), file.substr(8 + n)};
}

std::string join(const std::string& header_text, const std::string& data) {
  return le64(header_text.size()) + header_text + data;
}
// As nabla writes it: the header padded with spaces to a multiple of 8 bytes.
std::string join(const ojson& header, const std::string& data) {
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return join(text, data);
}

Checkpoint parse(const std::string& file) {
  const Parts p = split(file);
  Checkpoint c;
  for (const auto& [key, value] : p.header.items()) {
    if (key == "__metadata__") {
      for (const auto& [k, v] : value.items()) c.metadata[k] = v.get<std::string>();
      continue;
    }
    const uint64_t begin = value["data_offsets"][0].get<uint64_t>(), end = value["data_offsets"][1].get<uint64_t>();
    c.tensors.push_back({key, value["dtype"].get<std::string>(), value["shape"].get<std::vector<int64_t>>(),
                         p.data.substr(size_t(begin), size_t(end - begin))});
  }
  return c;  // in the header's order, which nabla writes in data order
}

// The file again, offsets laid end to end; with `seal`, the CRC-32s recomputed: crc32 of the tensor
// bytes, and crc32_metadata of every other key and value in key order, each followed by a NUL.
std::string build(Checkpoint c, bool seal = true) {
  std::string data;
  ojson header = ojson::object();
  header["__metadata__"] = ojson::object();
  for (const Tensor& t : c.tensors) {
    header[t.name] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  if (seal) {
    c.metadata["crc32"] = hex8(crc_of(data));
    std::string all;
    for (const auto& [key, value] : c.metadata)
      if (key != "crc32_metadata") all += key + '\0' + value + '\0';
    c.metadata["crc32_metadata"] = hex8(crc_of(all));
  }
  for (const auto& [key, value] : c.metadata) header["__metadata__"][key] = value;
  return join(header, data);
}

Tensor& tensor(Checkpoint& c, const std::string& name) {
  const auto t = std::find_if(c.tensors.begin(), c.tensors.end(), [&](const Tensor& t) { return t.name == name; });
  REQUIRE(t != c.tensors.end());
  return *t;
}

void set_float(Tensor& t, size_t i, float v) { std::memcpy(t.bytes.data() + 4 * i, &v, 4); }

// The metadata's config, edited, as JSON text.
std::string edited_config(const Checkpoint& c, const std::function<void(ojson&)>& edit) {
  ojson j = ojson::parse(c.metadata.at("config"));
  edit(j);
  return j.dump();
}

std::string nested(const std::string& open, const std::string& inner, const std::string& close, int levels) {
  std::string s;
  s.reserve((open.size() + close.size()) * size_t(levels) + inner.size());
  for (int i = 0; i < levels; ++i) s += open;
  s += inner;
  for (int i = 0; i < levels; ++i) s += close;
  return s;
}

// What a message must not hold: a sanitizer's report, an uncaught exception, an internal error.
const char* const kForbidden[] = {"AddressSanitizer", "runtime error:",   "ThreadSanitizer",
                                  "LeakSanitizer",    "terminate called", "internal error"};

}  // namespace

TEST_CASE("hostile inputs: each is one line naming the file and the place, exit code 2, no sanitizer report") {
  const fs::path dir = cli_test::fresh_dir("hostile");
  fs::create_directories(dir);
  auto at = [&](const std::string& name) { return (dir / name).string(); };
  const bool sanitized = std::string(NABLA_TEST_SANITIZE) != "";
  auto hostile = [&](const std::string& args) {
    return cli_test::run_shell("cd " NABLA_SOURCE_DIR " && " + std::string(sanitized ? "" : "ulimit -v 4194304 && ") +
                               "timeout -k 5 60 " NABLA_BINARY " " + args);
  };

  // The good inputs the rows spoil: 20 images of 2x2 and their labels (two classes), a config that
  // trains on them, and the checkpoint of one epoch of it (a 4-3-3-2 network, adam's moments).
  put(at("images"), idx(kU8, {20, 2, 2}, pixels(80)));
  put(at("labels"), idx(kU8, {20}, labels(20, 2)));
  // The config with its data section as given, and more keys before it.
  auto tiny_config = [&](const std::string& data, const std::string& more = "") {
    return R"({"name": "tiny", )" + more + R"("data": )" + data + R"(,
 "model": {"layers": [{"type": "dense", "units": 3, "activation": "tanh"},
                      {"type": "dense", "units": 3, "activation": "relu"},
                      {"type": "dense", "units": 2, "activation": "softmax"}]},
 "optimizer": {"type": "adam", "learning_rate": 0.01},
 "training": {"epochs": 1, "batch_size": 4, "seed": 1, "threads": 1}})";
  };
  const std::string tiny_data =
      R"({"train": {"images": ")" + at("images") + R"(", "labels": ")" + at("labels") + R"("}, "validation": 0})";
  put(at("tiny.json"), tiny_config(tiny_data));
  {
    const Run trained = hostile("train " + at("tiny.json") + " --quiet --out " + at("run"));
    CAPTURE(trained.output);
    REQUIRE(trained.code == 0);
  }
  const std::string good = contents(dir / "run/checkpoints/last.safetensors");
  const Checkpoint ck = parse(good);
  REQUIRE(build(ck) == good);  // taken apart and put together, the same bytes: the forgeries differ only where meant
  uint64_t header_length = 0;
  std::memcpy(&header_length, good.data(), 8);
  const uint64_t data_length = good.size() - 8 - header_length;

  // Commands. Data through configs/gradcheck.json (its other files good), checkpoints by the
  // commands that load them.
  const std::string gradcheck = "configs/gradcheck.json";
  const std::string dry = "train " + gradcheck + " --dry-run";
  auto dry_images = [&](const std::string& f, const std::string& l) {
    return dry + " --set data.train.images=" + f + " --set data.train.labels=" + l;
  };
  const std::string tiny = "train " + at("tiny.json");
  const std::string inspect = "inspect ";
  auto eval = [&](const std::string& ckpt, const std::string& images, const std::string& labels_file) {
    return "eval " + ckpt + " --images " + images + " --labels " + labels_file;
  };
  auto predict = [&](const std::string& ckpt, const std::string& input) {
    return "predict " + ckpt + " " + input + " --output " + at("predicted.csv");
  };
  const std::string ckpt = at("run/checkpoints/last.safetensors");

  std::vector<Row> rows;
  auto add = [&](std::string name, std::function<void()> w, std::string args, std::vector<std::string> expect) {
    rows.push_back({std::move(name), std::move(w), std::move(args), std::move(expect)});
  };
  auto file = [&](const std::string& name, std::string bytes) { return [&, name, bytes] { put(at(name), bytes); }; };

  // --- IDX: truncation at every field of the header (the magic, the count, rows, cols) and inside
  // and after the first record. The place is the byte offset where the data ends.
  const std::string three = idx(kU8, {3, 28, 28}, pixels(3 * 784));
  put(at("images3"), three);
  put(at("labels3"), idx(kU8, {3}, labels(3, 3)));
  for (size_t cut : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 16 + 392, 16 + 783, 16 + 784}) {
    const std::string name = "images-cut-" + std::to_string(cut);
    add("IDX images cut at byte " + std::to_string(cut), file(name, three.substr(0, cut)),
        dry_images(at(name), at("labels3")), {at(name) + ": byte offset " + std::to_string(cut) + ": "});
  }
  const std::string labels2000 = idx(kU8, {2000}, labels(2000, 10));
  for (size_t cut : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1000, 2007}) {
    const std::string name = "labels-cut-" + std::to_string(cut);
    add("IDX labels cut at byte " + std::to_string(cut), file(name, labels2000.substr(0, cut)),
        dry + " --set data.train.labels=" + at(name), {at(name) + ": byte offset " + std::to_string(cut) + ": "});
  }
  // The same images gzip-compressed, cut in the gzip header (magic, flags, mtime), in the deflate
  // data and in the trailer (CRC-32, length): the place is the compressed byte offset.
  const std::string three_gz = gzip(three);
  for (size_t cut : {size_t(0), size_t(1), size_t(2), size_t(4), size_t(10), three_gz.size() / 2, three_gz.size() - 8,
                     three_gz.size() - 4, three_gz.size() - 1}) {
    const std::string name = "images-gz-cut-" + std::to_string(cut) + ".gz";
    const std::string place = "byte offset " + std::to_string(cut < 2 ? 0 : cut) + ": ";
    add("gzip images cut at compressed byte " + std::to_string(cut), file(name, three_gz.substr(0, cut)),
        dry_images(at(name), at("labels3")),
        {at(name) + ": " + place, cut < 2 ? "not gzip data" : "the gzip data ends early"});
  }

  // --- IDX headers that claim more than the file holds: nothing may be sized by them unchecked.
  add("IDX header claiming 2^32 - 1 images (10 present)",
      file("count-2^32", idx(kU8, {0xFFFFFFFF, 28, 28}, pixels(7840))), dry_images(at("count-2^32"), at("labels3")),
      {at("count-2^32") + ": byte offset 7856: ", "4294967295 images of 28x28"});
  add("gzip IDX header claiming 2^32 - 1 images, streamed by predict",
      file("count-2^32.gz", gzip(idx(kU8, {0xFFFFFFFF, 2, 2}, pixels(40)))), predict(ckpt, at("count-2^32.gz")),
      {at("count-2^32.gz") + ": byte offset 56 of the decompressed data: ", "4294967295 images"});
  add("IDX labels header claiming 2^32 - 1 labels", file("labels-2^32", idx(kU8, {0xFFFFFFFF}, labels(2000, 10))),
      dry + " --set data.train.labels=" + at("labels-2^32"), {at("labels-2^32") + ": byte offset 2008: "});
  add("IDX float32 header of 2^32 - 1 images of 65535x65535 (over 2^52 bytes)",
      file("dims-2^52", idx(kF32, {0xFFFFFFFF, 65535, 65535}, "")), dry_images(at("dims-2^52"), at("labels3")),
      {at("dims-2^52") + ": byte offset 4: ", "2^52 bytes"});
  add("IDX images with 0 rows", file("rows-0", idx(kU8, {3, 0, 28}, "")), dry_images(at("rows-0"), at("labels3")),
      {at("rows-0") + ": byte offset 8: ", "found 0"});
  add("IDX images with a bad magic number", file("magic", "\x12\x34\x08\x03" + three.substr(4)),
      dry_images(at("magic"), at("labels3")), {at("magic") + ": byte offset 0: ", "0x12340803"});
  add("IDX images and labels with no samples",
      [&] {
        put(at("images-0"), idx(kU8, {0, 28, 28}, ""));
        put(at("labels-0"), idx(kU8, {0}, ""));
      },
      dry_images(at("images-0"), at("labels-0")), {gradcheck + ": data.train: ", at("labels-0"), "no samples"});
  add("IDX labels counting other than the images", file("labels-2000", labels2000),
      dry_images(at("images3"), at("labels-2000")), {at("labels-2000") + ": byte offset 4: ", "expected 3 labels"});
  add("an IDX labels file given as images", file("labels-as-images", labels2000),
      dry_images(at("labels-as-images"), at("labels-2000")),
      {at("labels-as-images") + ": byte offset 0: ", "a labels file"});

  // --- gzip: a decompression bomb (a valid header for 10 images, then 1 GiB of zeros in 64 further
  // members of 16 KiB each) is refused once 1 MiB of surplus is counted, never inflated to its end.
  std::string zeros_member;
  auto bomb = [&](const std::string& first) {
    if (zeros_member.empty()) zeros_member = gzip(std::string(size_t(16) << 20, '\0'), 9);
    std::string s = gzip(first);
    for (int i = 0; i < 64; ++i) s += zeros_member;
    return s;
  };
  put(at("labels10"), idx(kU8, {10}, labels(10, 10)));
  add("gzip bomb: images of a 10-image header, then 1 GiB of zeros",
      [&] {
        put(at("bomb-images.gz"), bomb(idx(kU8, {10, 28, 28}, pixels(7840))));
      },
      dry_images(at("bomb-images.gz"), at("labels10")),
      {at("bomb-images.gz") + ": byte offset 7856 of the decompressed data: ", "more than 1048576 more bytes"});
  add("gzip bomb: labels of a 10-label header, then 1 GiB of zeros",
      [&] {
        put(at("ten.gz"), gzip(idx(kU8, {10, 28, 28}, pixels(7840))));
        put(at("bomb-labels.gz"), bomb(idx(kU8, {10}, labels(10, 10))));
      },
      dry_images(at("ten.gz"), at("bomb-labels.gz")),
      {at("bomb-labels.gz") + ": byte offset 18 of the decompressed data: ", "more than 1048576 more bytes"});
  add("gzip bomb given to eval",
      [&] {
        put(at("bomb-2x2.gz"), bomb(idx(kU8, {20, 2, 2}, pixels(80))));
      },
      eval(ckpt, at("bomb-2x2.gz"), at("labels")),
      {at("bomb-2x2.gz") + ": byte offset 96 of the decompressed data: ", "more than 1048576 more bytes"});
  add("gzip with garbage after the stream", file("trailing.gz", three_gz + "garbage"),
      dry_images(at("trailing.gz"), at("labels3")),
      {at("trailing.gz") + ": byte offset " + std::to_string(three_gz.size()) + ": ", "7 more bytes"});
  add("gzip whose CRC-32 is wrong",
      [&] {
        std::string b = three_gz;
        b[b.size() - 6] ^= 0x01;
        put(at("crc.gz"), b);
      },
      dry_images(at("crc.gz"), at("labels3")), {at("crc.gz") + ": byte offset ", "incorrect data check"});
  add("gzip data in a file not named .gz", file("gzip-unnamed", three_gz),
      dry_images(at("gzip-unnamed"), at("labels3")),
      {at("gzip-unnamed") + ": byte offset 0: ", "looks like gzip data"});
  add("gzip whose header's extra field claims 65535 bytes",
      file("extra.gz", std::string{'\x1f', '\x8b', 8, 4, 0, 0, 0, 0, 0, 3, '\xff', '\xff'} + "abcde"),
      dry_images(at("extra.gz"), at("labels3")), {at("extra.gz") + ": byte offset 17: ", "ends early"});
  add("gzip whose trailer's length is wrong",
      [&] {
        std::string b = three_gz;
        b[b.size() - 1] ^= 0x01;
        put(at("isize.gz"), b);
      },
      dry_images(at("isize.gz"), at("labels3")), {at("isize.gz") + ": byte offset ", "incorrect length check"});

  // --- NaN and infinity in pixels, found where they stand when the data is read.
  std::vector<float> finite(80, 0.5f);
  auto with = [&](size_t i, float v) {
    std::vector<float> x = finite;
    x[i] = v;
    return idx(kF32, {20, 4}, be_floats(x));
  };
  add("NaN in a float32 IDX pixel (train)", file("nan-images", with(13, NAN)),
      tiny + " --epochs 1 --quiet --out " + at("out-nan") + " --set data.train.images=" + at("nan-images"),
      {at("nan-images") + ": byte offset 64: ", "found NaN"});
  add("infinity in a float32 IDX pixel (eval)", file("inf-images", with(79, INFINITY)),
      eval(ckpt, at("inf-images"), at("labels")), {at("inf-images") + ": byte offset 328: ", "found infinity"});
  add("-infinity in a float32 IDX pixel (predict)", file("neginf-images", with(0, -INFINITY)),
      predict(ckpt, at("neginf-images")), {at("neginf-images") + ": byte offset 12: ", "found infinity"});
  add("NaN in a CSV feature (train)", file("nan.csv", "label,a,b\n1,2,3\n0,nan,3\n"),
      "train configs/csv.json --dry-run --set data.train.csv=" + at("nan.csv"),
      {at("nan.csv") + ": line 3, column 2: ", "\"nan\""});
  add("a CSV feature beyond float32 (train)", file("big.csv", "label,a,b\n1,2,3\n0,2,1e39\n"),
      "train configs/csv.json --dry-run --set data.train.csv=" + at("big.csv"),
      {at("big.csv") + ": line 3, column 3: ", "\"1e39\""});
  add("infinity in a CSV row (predict)", file("inf.csv", "1,2,inf,4\n"), predict(ckpt, at("inf.csv")),
      {at("inf.csv") + ": line 1, column 3: ", "\"inf\""});

  // --- labels out of range, images and a model of different sizes.
  std::string label7 = labels(20, 2);
  label7[5] = 7;
  add("a label beyond the checkpoint's classes (eval)", file("labels-7", idx(kU8, {20}, label7)),
      eval(ckpt, at("images"), at("labels-7")), {at("labels-7") + ": ", "label 7", "2 classes"});
  std::string label200 = labels(2000, 10);
  label200[0] = char(200);
  add("a label beyond data.classes (train)", file("labels-200", idx(kU8, {2000}, label200)),
      dry + " --set data.classes=10 --set data.train.labels=" + at("labels-200"),
      {gradcheck + ": data.classes: ", at("labels-200"), "label 200"});
  add("labels beyond the output layer's units (train)", file("labels-6", idx(kU8, {20}, labels(20, 6))),
      tiny + " --dry-run --set data.train.labels=" + at("labels-6"),
      {at("tiny.json") + ": model.layers[2].units: ", at("labels-6"), "6 classes"});
  add("a test label beyond the training classes", file("labels-test-5", idx(kU8, {20}, labels(20, 6))),
      tiny + " --dry-run --set data.test.images=" + at("images") + " --set data.test.labels=" + at("labels-test-5"),
      {at("tiny.json") + ": data.test: ", at("labels-test-5"), "label 5"});
  add("a negative CSV label", file("neg.csv", "label,a,b\n1,2,3\n-1,2,3\n"),
      "train configs/csv.json --dry-run --set data.train.csv=" + at("neg.csv"),
      {at("neg.csv") + ": line 3, column 1: ", "\"-1\""});
  add("a CSV label beyond 64 bits", file("huge-label.csv", "label,a,b\n1,2,3\n99999999999999999999,2,3\n"),
      "train configs/csv.json --dry-run --set data.train.csv=" + at("huge-label.csv"),
      {at("huge-label.csv") + ": line 3, column 1: "});
  add("images of 3x3 for a network of 4 inputs (eval)", file("images-3x3", idx(kU8, {20, 3, 3}, pixels(180))),
      eval(ckpt, at("images-3x3"), at("labels")), {at("images-3x3") + ": ", "9 features", "takes 4"});
  add("images of 3x3 for a network of 4 inputs (predict)", file("images-3x3", idx(kU8, {20, 3, 3}, pixels(180))),
      predict(ckpt, at("images-3x3")), {at("images-3x3") + ": ", "3x3 = 9 features", "takes 4 features"});
  add("test images of another size than the training images", file("images-3x3", idx(kU8, {20, 3, 3}, pixels(180))),
      tiny + " --dry-run --set data.test.images=" + at("images-3x3") + " --set data.test.labels=" + at("labels"),
      {at("tiny.json") + ": data.test: ", at("images-3x3"), "9 features"});
  add("a PNG whose header says 100000x100000", file("huge.png", png_claiming(100000, 100000)),
      predict(ckpt, at("huge.png")), {at("huge.png") + ": ", "100000x100000"});
  add("a PGM whose header says 65536x65536", file("huge.pgm", "P5 65536 65536 255\n"), predict(ckpt, at("huge.pgm")),
      {at("huge.pgm") + ": ", "65536x65536"});
  add("a PGM with fewer pixels than its header says", file("short.pgm", "P5 2 2 255\n\x01\x02"),
      predict(ckpt, at("short.pgm")), {at("short.pgm") + ": byte offset 11: ", "found 2 bytes"});
  add("a PGM of 16-bit samples", file("deep.pgm", "P5 2 2 65535\n" + std::string(8, '\x01')),
      predict(ckpt, at("deep.pgm")), {at("deep.pgm") + ": maxval 65535"});
  add("a PGM cut inside its header", file("cut.pgm", "P5 2"), predict(ckpt, at("cut.pgm")),
      {at("cut.pgm") + ": byte offset 4: ", "height"});
  add("a PNG cut inside its IHDR", file("cut.png", png_claiming(2, 2).substr(0, 20)), predict(ckpt, at("cut.png")),
      {at("cut.png") + ": ", "ends early"});
  add("a CSV row with fewer columns than the first", file("ragged.csv", "label,a,b\n1,2,3\n0,2\n"),
      "train configs/csv.json --dry-run --set data.train.csv=" + at("ragged.csv"), {at("ragged.csv") + ": line 3: "});

  // --- dimensions that do not fit an int, the type of every GEMM's sizes: 2^31 and 2^32 features a
  // sample (sparse files of 4 and 8 GB, the size their headers say), and checkpoints whose config
  // asks for batches of 2^31 (or 10^9) rows, or a hidden layer of 2^31 - 1 units.
  put(at("labels-2"), idx(kU8, {2}, std::string("\x00\x01", 2)));
  add("2^31 features a sample (train)",
      [&] {
        write_sparse(at("features-2^31"), idx(kU8, {2, 0x80000000u}, ""), 12 + (int64_t(2) << 31));
      },
      tiny + " --dry-run --set data.train.images=" + at("features-2^31") + " --set data.train.labels=" + at("labels-2"),
      {at("tiny.json") + ": model.layers: "});
  add("65536x65536 = 2^32 features a sample (train)",
      [&] {
        write_sparse(at("features-2^32"), idx(kU8, {2, 65536, 65536}, ""), 16 + (int64_t(2) << 32));
      },
      tiny + " --dry-run --set data.train.images=" + at("features-2^32") + " --set data.train.labels=" + at("labels-2"),
      {at("tiny.json") + ": model.layers: "});
  add("65536x65536 = 2^32 features a sample (eval)",
      [&] {
        write_sparse(at("features-2^32"), idx(kU8, {2, 65536, 65536}, ""), 16 + (int64_t(2) << 32));
      },
      eval(ckpt, at("features-2^32"), at("labels-2")), {at("features-2^32") + ": ", "4294967296 features"});
  add("65536x65536 = 2^32 features a sample (predict)",
      [&] {
        write_sparse(at("features-2^32"), idx(kU8, {2, 65536, 65536}, ""), 16 + (int64_t(2) << 32));
      },
      predict(ckpt, at("features-2^32")), {at("features-2^32") + ": ", "4294967296 features"});
  {
    Checkpoint c = ck;
    c.metadata["config"] = edited_config(c, [](ojson& j) { j["training"]["batch_size"] = int64_t(1) << 31; });
    add("a checkpoint whose config asks for batches of 2^31 rows (predict)", file("batch-2^31.st", build(c)),
        predict(at("batch-2^31.st"), at("images")), {at("batch-2^31.st") + ": ", "batch_size"});
    c.metadata["config"] = edited_config(c, [](ojson& j) { j["training"]["batch_size"] = 1000000000; });
    add("a checkpoint whose config asks for batches of 10^9 rows (predict)", file("batch-10^9.st", build(c)),
        predict(at("batch-10^9.st"), at("images")), {at("batch-10^9.st") + ": ", "batch_size"});
    rows.back().needs_limit = true;
  }
  {
    Checkpoint c = ck;  // the hidden layer, which neither the first nor the last tensor's shape says
    c.metadata["config"] = edited_config(c, [](ojson& j) { j["model"]["layers"][1]["units"] = 2147483647; });
    add("a checkpoint whose config says 2^31 - 1 units for a hidden layer", file("units-2^31.st", build(c)),
        inspect + at("units-2^31.st"), {at("units-2^31.st") + ": ", "layers.1"});
    rows.back().needs_limit = true;
  }

  // --- checkpoints: truncation at 0..8 bytes of the header length, inside the JSON header, inside
  // the tensor data.
  for (uint64_t cut :
       {uint64_t(0), uint64_t(1), uint64_t(2), uint64_t(3), uint64_t(4), uint64_t(5), uint64_t(6), uint64_t(7),
        uint64_t(8), uint64_t(9), 8 + header_length / 2, 8 + header_length - 1, 8 + header_length,
        8 + header_length + 1, 8 + header_length + data_length / 2, good.size() - 1}) {
    const std::string name = "ckpt-cut-" + std::to_string(cut) + ".safetensors";
    std::string place;
    if (cut < 8)
      place = "the file has " + std::to_string(cut) + " bytes, expected at least the 8-byte header length";
    else if (cut < 8 + header_length)
      place = "header length " + std::to_string(header_length) + " runs past the end of the file: only " +
              std::to_string(cut - 8) + " bytes follow the length";
    else
      place = "(" + std::to_string(cut - 8 - header_length) + " bytes after the header";
    add("checkpoint cut at byte " + std::to_string(cut), file(name, good.substr(0, size_t(cut))), inspect + at(name),
        {at(name) + ": ", place});
  }
  {  // and at the end of every tensor but the last
    uint64_t end = 0;
    for (const Tensor& t : ck.tensors) {
      end += t.bytes.size();
      if (end == data_length) break;
      const std::string name = "ckpt-cut-after-" + t.name + ".safetensors";
      add("checkpoint cut after tensor " + t.name, file(name, good.substr(0, size_t(8 + header_length + end))),
          inspect + at(name), {at(name) + ": tensor ", "(" + std::to_string(end) + " bytes after the header"});
    }
  }
  add("a cut checkpoint given to --resume", file("resume-cut.safetensors", good.substr(0, good.size() - 5)),
      "train --epochs 2 --resume " + at("resume-cut.safetensors") + " --out " + at("out-resume"),
      {at("resume-cut.safetensors") + ": ", "data_offsets end"});

  // --- checkpoints: the header length and the header.
  const Parts parts = split(good);
  auto edited = [&](const std::function<void(ojson&)>& edit) {
    ojson h = parts.header;
    edit(h);
    return join(h, parts.data);
  };
  add("header length 2^64 - 1", file("hlen-max.st", le64(UINT64_MAX) + good.substr(8)), inspect + at("hlen-max.st"),
      {at("hlen-max.st") + ": ", "header length 18446744073709551615 is over the cap"});
  add("header length of 100 MB (over the cap) in a small file",
      file("hlen-100MB.st", le64(100'000'001) + good.substr(8)), inspect + at("hlen-100MB.st"),
      {at("hlen-100MB.st") + ": ", "header length 100000001 is over the cap"});
  add("header length one past the end of the file", file("hlen-past.st", le64(good.size() - 8 + 1) + good.substr(8)),
      inspect + at("hlen-past.st"), {at("hlen-past.st") + ": ", "runs past the end of the file"});
  add("a 100 MB JSON header (within the cap) holding a 100 MB string",
      [&] {
        const std::string inner = parts.header.dump();
        std::string text = inner.substr(0, inner.size() - 1) + ",\"pad\":\"";
        text.append(99'999'990 - text.size(), 'x');
        text += "\"}";
        put(at("header-100MB.st"), join(text, parts.data));
      },
      inspect + at("header-100MB.st"), {at("header-100MB.st") + ": ", "tensor pad: "});
  add("a non-UTF-8 byte in the JSON header",
      [&] {
        std::string text = parts.header.dump();
        const size_t k = text.find("layers.0.bias") + 8;
        text[k] = '\xff';
        put(at("non-utf8.st"), join(text, parts.data));
      },
      inspect + at("non-utf8.st"), {at("non-utf8.st") + ": header is not JSON: at header byte "});
  add("a JSON header that is an array", file("header-array.st", join(std::string("[1, 2, 3]"), parts.data)),
      inspect + at("header-array.st"), {at("header-array.st") + ": header: ", "array"});
  add("a tensor entry nested 100,000 levels deep, the others after it",
      [&] {
        const std::string inner = parts.header.dump();
        put(at("deep-entry.st"), join("{\"deep\":" + nested("[", "", "]", 100000) + "," + inner.substr(1), parts.data));
      },
      inspect + at("deep-entry.st"),
      {at("deep-entry.st") + ": header: JSON nested more than 64 levels deep at header byte "});
  add("a tensor named twice in the header",
      [&] {
        const std::string inner = parts.header.dump();
        put(at("twice.st"),
            join(inner.substr(0, inner.size() - 1) + ",\"layers.0.bias\":" + parts.header["layers.0.bias"].dump() + "}",
                 parts.data));
      },
      inspect + at("twice.st"), {at("twice.st") + ": header: ", "layers.0.bias"});
  add("header length 0", file("hlen-0.st", le64(0) + good.substr(8)), inspect + at("hlen-0.st"),
      {at("hlen-0.st") + ": header is not JSON: at header byte "});
  add("plain safetensors, without nabla's metadata",
      file("no-meta.st", edited([](ojson& h) { h.erase("__metadata__"); })), inspect + at("no-meta.st"),
      {at("no-meta.st") + ": __metadata__: missing"});
  add("a tensor entry without its dtype",
      file("no-dtype.st", edited([](ojson& h) { h["layers.1.weight"].erase("dtype"); })), inspect + at("no-dtype.st"),
      {at("no-dtype.st") + ": tensor layers.1.weight: dtype: missing"});

  // --- checkpoints: offsets and shapes, checked before any byte is used.
  auto offsets = [&](const std::string& name, ojson value) {
    return edited([=](ojson& h) { h[name]["data_offsets"] = value; });
  };
  const uint64_t w0_end = parts.header["layers.0.weight"]["data_offsets"][1];
  const uint64_t b0_size = uint64_t(parts.header["layers.0.bias"]["data_offsets"][1]) - w0_end;
  add("overlapping tensor offsets", file("overlap.st", offsets("layers.0.bias", {w0_end - 4, w0_end - 4 + b0_size})),
      inspect + at("overlap.st"), {at("overlap.st") + ": tensor layers.0.bias: data_offsets begin at ", "overlaps"});
  add("a gap between tensors", file("gap.st", offsets("layers.0.bias", {w0_end + 4, w0_end + 4 + b0_size})),
      inspect + at("gap.st"), {at("gap.st") + ": tensor layers.0.bias: data_offsets begin at ", "a gap"});
  add("offsets past the end of the data", file("past.st", offsets("layers.0.bias", {w0_end, 1000000000000})),
      inspect + at("past.st"), {at("past.st") + ": tensor layers.0.bias: data_offsets end 1000000000000 is past"});
  add("offsets of 2^64 - 1", file("offset-max.st", offsets("layers.0.bias", {UINT64_MAX, UINT64_MAX})),
      inspect + at("offset-max.st"),
      {at("offset-max.st") + ": tensor layers.0.bias: data_offsets end 18446744073709551615"});
  add("an offset beyond 2^64",
      [&] {
        ojson h = parts.header;
        h["layers.0.bias"]["data_offsets"] = {w0_end, 1};
        std::string text = h.dump();
        // (appended piece by piece: GCC 12 warns falsely, -Wrestrict, on "[" + std::to_string(...))
        std::string from = "[", to = "[";
        from += std::to_string(w0_end) + ",1]";
        to += std::to_string(w0_end) + ",18446744073709551616]";
        const size_t k = text.find(from);
        REQUIRE(k != std::string::npos);
        text.replace(k, from.size(), to);
        put(at("offset-2^64.st"), join(text, parts.data));
      },
      inspect + at("offset-2^64.st"), {at("offset-2^64.st") + ": tensor layers.0.bias: data_offsets: "});
  add("reversed offsets", file("reversed.st", offsets("layers.0.bias", {w0_end + b0_size, w0_end})),
      inspect + at("reversed.st"), {at("reversed.st") + ": tensor layers.0.bias: data_offsets [", "reversed"});
  add("a negative offset", file("negative.st", offsets("layers.0.bias", {-8, w0_end + b0_size})),
      inspect + at("negative.st"), {at("negative.st") + ": tensor layers.0.bias: data_offsets: ", "-8"});
  add("bytes after the last tensor", file("surplus.st", good + std::string(12, '\0')), inspect + at("surplus.st"),
      {at("surplus.st") + ": the header's tensors end at data byte ", "belong to no tensor"});
  auto shape = [&](const std::string& name, ojson value) {
    return edited([=](ojson& h) { h[name]["shape"] = value; });
  };
  add("a shape whose byte count overflows 64 bits",
      file("shape-2^80.st", shape("layers.0.weight", {uint64_t(1) << 40, uint64_t(1) << 40})),
      inspect + at("shape-2^80.st"), {at("shape-2^80.st") + ": tensor layers.0.weight: shape [", "overflows"});
  add("a shape whose byte count overflows 64 bits only with the element size",
      file("shape-2^64.st", shape("layers.0.weight", {uint64_t(1) << 62, 4})), inspect + at("shape-2^64.st"),
      {at("shape-2^64.st") + ": tensor layers.0.weight: shape [", "overflows"});
  add("a shape with a size over 2^63 - 1", file("shape-u64.st", shape("layers.0.weight", {UINT64_MAX})),
      inspect + at("shape-u64.st"), {at("shape-u64.st") + ": tensor layers.0.weight: shape: ", "2^63 - 1"});
  add("a negative shape", file("shape-neg.st", shape("layers.0.weight", {-3, 4})), inspect + at("shape-neg.st"),
      {at("shape-neg.st") + ": tensor layers.0.weight: shape: ", "-3"});
  add("a shape that needs more bytes than its offsets hold", file("shape-big.st", shape("layers.0.weight", {3, 5})),
      inspect + at("shape-big.st"),
      {at("shape-big.st") + ": tensor layers.0.weight: shape [3, 5] of F32 needs 60 bytes"});
  add("a dtype nabla does not read", file("bf16.st", edited([](ojson& h) { h["layers.0.weight"]["dtype"] = "BF16"; })),
      inspect + at("bf16.st"), {at("bf16.st") + ": tensor layers.0.weight: dtype: ", "BF16"});

  // --- checkpoints: what lies behind the CRC-32s (recomputed for each forgery).
  {
    Checkpoint c = ck;
    set_float(tensor(c, "layers.0.weight"), 1, NAN);
    add("NaN in a weight (inspect)", file("nan-weight.st", build(c)), inspect + at("nan-weight.st"),
        {at("nan-weight.st") + ": tensor layers.0.weight[0,1] is NaN"});
  }
  {
    Checkpoint c = ck;
    set_float(tensor(c, "layers.2.bias"), 1, INFINITY);
    add("infinity in a bias (eval)", file("inf-bias.st", build(c)), eval(at("inf-bias.st"), at("images"), at("labels")),
        {at("inf-bias.st") + ": tensor layers.2.bias[1] is infinite"});
  }
  {
    Checkpoint c = ck;
    set_float(tensor(c, "optimizer.state"), 7, -INFINITY);
    add("-infinity in adam's moments (resume)", file("inf-moment.st", build(c)),
        "train --epochs 2 --resume " + at("inf-moment.st") + " --out " + at("out-moment"),
        {at("inf-moment.st") + ": tensor optimizer.state[0,7] is infinite"});
  }
  {
    Checkpoint c = ck;  // the bytes of layers.1.bias dropped with it, the offsets laid out again
    c.tensors.erase(
        std::find_if(c.tensors.begin(), c.tensors.end(), [](const Tensor& t) { return t.name == "layers.1.bias"; }));
    add("a tensor missing", file("missing.st", build(c)), inspect + at("missing.st"),
        {at("missing.st") + ": missing tensor layers.1.bias"});
  }
  {
    Checkpoint c = ck;
    c.tensors.push_back({"layers.9.weight", "F32", {1}, std::string(4, '\0')});
    add("a tensor the network has not", file("extra.st", build(c)), inspect + at("extra.st"),
        {at("extra.st") + ": unexpected tensor layers.9.weight"});
  }
  {
    Checkpoint c = ck;
    tensor(c, "layers.0.weight").shape = {4, 3};
    add("the first weights transposed", file("transposed.st", build(c)), inspect + at("transposed.st"),
        {at("transposed.st") + ": tensor layers.0.weight: expected shape [3, inputs], found [4, 3]"});
  }
  {
    Checkpoint c = ck;  // the same values as float64: valid safetensors, not what nabla writes
    Tensor& w = tensor(c, "layers.1.weight");
    std::string wide;
    for (size_t i = 0; i < w.bytes.size() / 4; ++i) {
      float f;
      std::memcpy(&f, w.bytes.data() + 4 * i, 4);
      const double d = f;
      wide.append(reinterpret_cast<const char*>(&d), 8);
    }
    w.dtype = "F64";
    w.bytes = wide;
    add("float64 weights", file("f64.st", build(c)), inspect + at("f64.st"),
        {at("f64.st") + ": tensor layers.1.weight: expected dtype F32, found F64"});
  }
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{{"epoch", "-1"},
                                                                                   {"step", "99999999999999999999"},
                                                                                   {"rng_dropout", "hello"},
                                                                                   {"best_metric", "nan"},
                                                                                   {"lr", "inf"}}) {
    Checkpoint c = ck;
    c.metadata[key] = value;
    const std::string name = "meta-" + key + ".st";
    add("__metadata__." + key + " of \"" + value + "\"", file(name, build(c)), inspect + at(name),
        {at(name) + ": __metadata__." + key + ": ", "\"" + value + "\""});
  }
  {
    Checkpoint c = ck;
    c.metadata["config"] = nested("[", "", "]", 100000);
    add("a config nested 100,000 levels deep in the metadata", file("meta-deep.st", build(c)),
        inspect + at("meta-deep.st"),
        {at("meta-deep.st") + ": __metadata__.config: JSON nested more than 64 levels deep at byte 64 of its value"});
  }
  {
    Checkpoint c = ck;  // a key nested 100,000 levels deep, and the real config's keys after it
    c.metadata["config"] = "{\"deep\": " + nested("[", "", "]", 100000) + ", " + c.metadata["config"].substr(1);
    add("a config in the metadata with a key nested 100,000 levels deep", file("meta-deep-key.st", build(c)),
        inspect + at("meta-deep-key.st"),
        {at("meta-deep-key.st") + ": __metadata__.config: JSON nested more than 64 levels deep at byte "});
  }
  {
    Checkpoint c = ck;
    c.metadata["config"] = "{\"name\": \"tiny\", \"data\": ";
    add("a config in the metadata that is not JSON", file("meta-cut.st", build(c)), inspect + at("meta-cut.st"),
        {at("meta-cut.st") + ": __metadata__.config: not JSON"});
  }
  {
    Checkpoint c = ck;
    c.metadata["epoch"] = "5";  // the CRC-32s left as they were
    add("metadata changed without its CRC-32", file("meta-crc.st", build(c, false)), inspect + at("meta-crc.st"),
        {at("meta-crc.st") + ": CRC-32 of the metadata"});
  }
  {
    std::string b = good;
    b[b.size() - 1] ^= 0x40;
    add("a tensor byte changed without its CRC-32", file("tensor-crc.st", b), inspect + at("tensor-crc.st"),
        {at("tensor-crc.st") + ": CRC-32 of the tensor bytes"});
  }
  add("metadata that is not an object of strings",
      file("meta-number.st", edited([](ojson& h) { h["__metadata__"]["epoch"] = 1; })), inspect + at("meta-number.st"),
      {at("meta-number.st") + ": __metadata__.epoch: ", "number"});

  // --- files that are not regular files, and empty ones.
  auto loop = [&](const std::string& name) {
    return [&, name] {
      fs::remove(at(name));
      fs::remove(at(name + "-2"));
      fs::create_symlink(at(name + "-2"), at(name));
      fs::create_symlink(at(name), at(name + "-2"));
    };
  };
  auto folder = [&](const std::string& name) { return [&, name] { fs::create_directories(at(name)); }; };
  auto fifo = [&](const std::string& name) {
    return [&, name] {
      fs::remove(at(name));
      REQUIRE(::mkfifo(at(name).c_str(), 0600) == 0);
    };
  };
  const std::string loop_text = "Too many levels of symbolic links";
  add("a symlink loop as the images", loop("loop-images"), dry_images(at("loop-images"), at("labels3")),
      {at("loop-images") + ": ", loop_text});
  add("a symlink loop as the checkpoint", loop("loop.st"), inspect + at("loop.st"), {at("loop.st") + ": ", loop_text});
  add("a symlink loop as the config", loop("loop.json"), "train " + at("loop.json") + " --dry-run",
      {at("loop.json") + ": ", loop_text});
  add("a symlink loop as predict's input", loop("loop.pgm"), predict(ckpt, at("loop.pgm")),
      {at("loop.pgm") + ": ", loop_text});
  add("a directory as the images", folder("dir-images"), dry_images(at("dir-images"), at("labels3")),
      {at("dir-images") + ": ", "directory"});
  add("a directory as eval's labels", folder("dir-labels"), eval(ckpt, at("images"), at("dir-labels")),
      {at("dir-labels") + ": ", "directory"});
  add("a directory as the checkpoint", folder("dir.st"), inspect + at("dir.st"), {at("dir.st") + ": ", "directory"});
  add("a directory as the config", folder("dir.json"), "train " + at("dir.json") + " --dry-run",
      {at("dir.json") + ": ", "directory"});
  add("a FIFO as the images", fifo("fifo-images"), dry_images(at("fifo-images"), at("labels3")),
      {at("fifo-images") + ": ", "not a regular file"});
  add("a FIFO as the CSV data", fifo("fifo.csv"),
      "train configs/csv.json --dry-run --set data.train.csv=" + at("fifo.csv"),
      {at("fifo.csv") + ": ", "not a regular file"});
  add("a FIFO as eval's labels", fifo("fifo-labels"), eval(ckpt, at("images"), at("fifo-labels")),
      {at("fifo-labels") + ": ", "not a regular file"});
  add("a FIFO as the checkpoint", fifo("fifo.st"), inspect + at("fifo.st"),
      {at("fifo.st") + ": ", "not a regular file"});
  add("a FIFO as the config", fifo("fifo.json"), "train " + at("fifo.json") + " --dry-run",
      {at("fifo.json") + ": ", "not a regular file"});
  add("a FIFO as predict's input", fifo("fifo.pgm"), predict(ckpt, at("fifo.pgm")),
      {at("fifo.pgm") + ": ", "not a regular file"});
  add("an empty config", file("empty.json", ""), "train " + at("empty.json") + " --dry-run",
      {at("empty.json") + ": ", "empty"});
  add("an empty CSV", file("empty.csv", ""), "train configs/csv.json --dry-run --set data.train.csv=" + at("empty.csv"),
      {at("empty.csv") + ": line 1: "});
  add("an empty file named .gz", file("empty.gz", ""), dry_images(at("empty.gz"), at("labels3")),
      {at("empty.gz") + ": byte offset 0: ", "empty file"});
  add("an empty input to predict", file("empty-input", ""), predict(ckpt, at("empty-input")),
      {at("empty-input") + ": ", "no samples"});

  // --- configs: not UTF-8, too large, nested 100,000 levels deep (in the file and in --set).
  add("a config that is not UTF-8", file("latin1.json", "{\"name\": \"caf\xe9\"}"),
      "train " + at("latin1.json") + " --dry-run", {at("latin1.json") + ":1:", "UTF-8"});
  add("a config of 17 MB", file("huge.json", "{\"name\": \"" + std::string(17 << 20, 'x') + "\"}"),
      "train " + at("huge.json") + " --dry-run", {at("huge.json") + ": ", "16 MB"});
  add("a config of objects nested 100,000 levels deep",
      file("deep-objects.json", tiny_config(tiny_data, "\"deep\": " + nested("{\"a\":", "1", "}", 100000) + ", ")),
      "train " + at("deep-objects.json") + " --dry-run",
      {at("deep-objects.json") + ":", ": JSON nested more than 64 levels deep (a config nests five)"});
  add("a config of arrays nested 100,000 levels deep", file("deep-arrays.json", nested("[", "", "]", 100000)),
      "train " + at("deep-arrays.json") + " --dry-run",
      {at("deep-arrays.json") + ":1:65: JSON nested more than 64 levels deep"});
  add("a config's data nested 100,000 levels deep", file("deep-data.json", tiny_config(nested("[", "", "]", 100000))),
      "train " + at("deep-data.json") + " --dry-run",
      {at("deep-data.json") + ":", ": JSON nested more than 64 levels deep"});
  add("a config cut after 100,000 levels", file("deep-cut.json", std::string(100000, '[')),
      "train " + at("deep-cut.json") + " --dry-run",
      {at("deep-cut.json") + ":1:65: JSON nested more than 64 levels deep"});
  add("a --set value nested 50,000 levels deep (an argument holds at most 128 KiB)", [] {},
      dry + " --set 'model=" + nested("[", "", "]", 50000) + "'",
      {"--set model=[[[[[[[[[[", "[[[...:1:65: JSON nested more than 64 levels deep"});  // named, cut to 60 characters

  // --- every row, and then their count.
  size_t skipped = 0;
  for (const Row& row : rows) {
    CAPTURE(row.name);
    if (row.needs_limit && sanitized) {
      ++skipped;
      continue;
    }
    row.write();
    const Run r = hostile(row.args);
    const std::string args = row.args.size() > 300 ? row.args.substr(0, 300) + "..." : row.args;
    CAPTURE(args);
    CAPTURE(r.code);
    CAPTURE(r.output);
    CHECK(r.code == 2);
    CHECK((!r.output.empty() && r.output.back() == '\n' && std::count(r.output.begin(), r.output.end(), '\n') == 1));
    for (const std::string& e : row.expect) {
      CAPTURE(e);
      CHECK(r.output.find(e) != std::string::npos);
    }
    for (const std::string bad : kForbidden) {
      CAPTURE(bad);
      CHECK(r.output.find(bad) == std::string::npos);
    }
  }
  MESSAGE("hostile inputs: " << rows.size() << " rows"
                             << (skipped ? ", of which " + std::to_string(skipped) +
                                               " need an address-space limit, which a sanitizer leaves no room for"
                                         : std::string()));
  fs::remove_all(dir);
}
