// nabla predict and nabla inspect, run as a user runs them.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/helpers.hpp"
#include "data/idx.hpp"
#include "io/checkpoint.hpp"

namespace fs = std::filesystem;
using namespace cli_test;

namespace {

const std::string kSamples = std::string(NABLA_SOURCE_DIR) + "/data/samples/";
const std::string kImages = kSamples + "fashion-test-500-images-idx3-ubyte.gz";
const std::string kLabels = kSamples + "fashion-test-500-labels-idx1-ubyte.gz";

// A checkpoint of configs/gradcheck.json (every activation, a dropout, 784 inputs, 10 classes) after an epoch.
std::string trained(const fs::path& dir) {
  const Run r = run_nabla("train configs/gradcheck.json --quiet --epochs 1 --out " + (dir / "run").string());
  REQUIRE(r.code == 0);
  return (dir / "run/checkpoints/last.safetensors").string();
}

void write(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

std::vector<nlohmann::json> json_lines(const fs::path& p) {
  std::vector<nlohmann::json> rows;
  std::istringstream in(bytes_of(p));
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

// predict --json of `inputs` into a file; its rows.
std::vector<nlohmann::json> predicted(const std::string& ckpt, const std::string& inputs, const fs::path& out) {
  const Run r = run_nabla("predict " + ckpt + " " + inputs + " --json --output " + out.string());
  CAPTURE(r.output);
  REQUIRE(r.code == 0);
  return json_lines(out);
}

std::string big_endian(uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }

// A PNG file made byte by byte from the format's specification (zlib for the compression and the
// CRCs), not by libpng, which nabla reads it with. `rows` holds `height` rows of samples as the
// colour type and bit depth lay them out; each is written with filter type 0.
// `srgb` adds an sRGB chunk (without one, libpng takes 16-bit samples for linear light).
std::string png(uint32_t width, uint32_t height, int color_type, int bit_depth, const std::string& rows,
                bool srgb = false) {
  auto chunk = [](const std::string& type, const std::string& data) {
    const std::string body = type + data;
    return big_endian(uint32_t(data.size())) + body +
           big_endian(uint32_t(crc32(0, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()))));
  };
  const size_t stride = rows.size() / height;
  std::string raw;
  for (uint32_t y = 0; y < height; ++y) raw += '\0' + rows.substr(y * stride, stride);
  uLongf size = compressBound(uLong(raw.size()));
  std::string z(size, '\0');
  REQUIRE(compress(reinterpret_cast<Bytef*>(z.data()), &size, reinterpret_cast<const Bytef*>(raw.data()),
                   uLong(raw.size())) == Z_OK);
  z.resize(size);
  const std::string header =
      big_endian(width) + big_endian(height) + char(bit_depth) + char(color_type) + '\0' + '\0' + '\0';
  return "\x89PNG\r\n\x1a\n" + chunk("IHDR", header) + (srgb ? chunk("sRGB", std::string(1, '\0')) : "") +
         chunk("IDAT", z) + chunk("IEND", "");
}

}  // namespace

TEST_CASE("predict gives every sample the class eval counted: the same confusion matrix, sample by sample") {
  const fs::path dir = fresh_dir("predict-eval");
  fs::create_directories(dir);
  const std::string ckpt = trained(dir);
  const Run e = run_nabla("eval " + ckpt + " --images " + kImages + " --labels " + kLabels + " --json");
  REQUIRE(e.code == 0);
  const nlohmann::json eval = nlohmann::json::parse(e.output);
  const std::vector<nlohmann::json> rows = predicted(ckpt, kImages, dir / "p.jsonl");
  const nabla::data::IdxArray labels = nabla::data::read_idx(kLabels, nabla::data::IdxKind::labels);
  REQUIRE(rows.size() == 500);
  std::vector<std::vector<int64_t>> confusion(10, std::vector<int64_t>(10, 0));
  for (size_t i = 0; i < rows.size(); ++i) {
    const nlohmann::json& row = rows[i];
    CHECK(row["index"] == i);
    CHECK(row["input"] == kImages);
    // The predicted class is the most probable, its probability that class's, the probabilities a distribution.
    const std::vector<double> p = row["probabilities"];
    REQUIRE(p.size() == 10);
    double sum = 0;
    for (double q : p) sum += q;
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
    const int64_t c = row["class"];
    CHECK(p[size_t(c)] == *std::max_element(p.begin(), p.end()));
    CHECK(row["probability"] == p[size_t(c)]);
    CHECK(row["name"] == std::vector<std::string>{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                                  "Shirt", "Sneaker", "Bag", "Ankle boot"}[size_t(c)]);
    ++confusion[labels.bytes[i]][size_t(c)];
  }
  CHECK(nlohmann::json(confusion) == eval["confusion"]);
  fs::remove_all(dir);
}

TEST_CASE("predict reads a sample from PGM (P5 and P2) and CSV (with and without a label) as from IDX") {
  const fs::path dir = fresh_dir("predict-formats");
  fs::create_directories(dir);
  const std::string ckpt = trained(dir);
  const std::vector<nlohmann::json> idx = predicted(ckpt, kImages, dir / "idx.jsonl");
  const nabla::data::IdxArray images = nabla::data::read_idx(kImages, nabla::data::IdxKind::images);
  const nabla::data::IdxArray labels = nabla::data::read_idx(kLabels, nabla::data::IdxKind::labels);
  const size_t k = 7;  // a sample
  const uint8_t* pixels = images.bytes.data() + k * 784;
  write(dir / "s.pgm", "P5\n# sample 7 of the test set\n28 28\n255\n" + std::string(pixels, pixels + 784));
  std::string p2 = "P2\n28 28\n255\n", with_label = "label,", without;
  for (int i = 0; i < 784; ++i) {  // a header row (appended piece by piece: GCC 12 warns falsely on "p" + ...)
    with_label += 'p';
    with_label += std::to_string(i);
    with_label += i < 783 ? ',' : '\n';
  }
  for (size_t s = 0; s < 3; ++s) {
    with_label += std::to_string(labels.bytes[s]);
    for (int i = 0; i < 784; ++i) {
      const std::string v = std::to_string(images.bytes[s * 784 + size_t(i)]);
      with_label += "," + v;
      without += v + (i < 783 ? "," : "\r\n");
    }
    with_label += "\n";
  }
  for (int i = 0; i < 784; ++i) p2 += std::to_string(pixels[i]) + (i % 28 == 27 ? "\n" : " ");
  write(dir / "s2.pgm", p2);
  write(dir / "with.csv", with_label);
  write(dir / "without.csv", without);
  auto same = [&](const nlohmann::json& row, size_t sample) {
    CHECK(row["class"] == idx[sample]["class"]);
    const std::vector<double> p = row["probabilities"], q = idx[sample]["probabilities"];
    for (size_t c = 0; c < p.size(); ++c) CHECK(p[c] == doctest::Approx(q[c]).epsilon(1e-6));
  };
  for (const char* pgm : {"s.pgm", "s2.pgm"}) {
    CAPTURE(pgm);
    const auto rows = predicted(ckpt, (dir / pgm).string(), dir / "pgm.jsonl");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0]["index"] == 0);
    same(rows[0], k);
  }
  // The same pixels as PNG: 8-bit grey, grey with an opaque alpha, 16-bit sRGB grey, and RGB with R = G = B.
  const std::string grey(pixels, pixels + 784);
  std::string alpha, deep, rgb;
  for (char p : grey) {
    alpha += {p, '\xff'};
    deep += {p, p};  // v * 257: the same intensity in 16 bits
    rgb += {p, p, p};
  }
  write(dir / "s.png", png(28, 28, 0, 8, grey));
  write(dir / "alpha.png", png(28, 28, 4, 8, alpha));
  write(dir / "deep.png", png(28, 28, 0, 16, deep, /*srgb=*/true));
  write(dir / "rgb.png", png(28, 28, 2, 8, rgb));
  for (const std::string image : {"s.png", "alpha.png", "deep.png", "rgb.png"}) {
    CAPTURE(image);
    const auto rows = predicted(ckpt, (dir / image).string(), dir / "png.jsonl");
    REQUIRE(rows.size() == 1);
    same(rows[0], k);
  }
  for (const char* csv : {"with.csv", "without.csv"}) {
    CAPTURE(csv);
    const auto rows = predicted(ckpt, (dir / csv).string(), dir / "csv.jsonl");
    REQUIRE(rows.size() == 3);
    for (size_t s = 0; s < 3; ++s) same(rows[s], s);
  }
  // A header of numbers is a sample, unless --csv-header says it is a header.
  std::string numbered;
  for (int i = 0; i < 784; ++i) numbered += std::to_string(i) + (i < 783 ? "," : "\n");
  write(dir / "numbered.csv", numbered + without);
  CHECK(predicted(ckpt, (dir / "numbered.csv").string(), dir / "n.jsonl").size() == 4);
  const auto headed = predicted(ckpt, (dir / "numbered.csv").string() + " --csv-header", dir / "n.jsonl");
  REQUIRE(headed.size() == 3);
  for (size_t s = 0; s < 3; ++s) same(headed[s], s);

  // More inputs than the process may hold open at once: each is closed once checked.
  std::string many;
  fs::create_directories(dir / "one");
  for (int i = 0; i < 100; ++i) {
    const fs::path one = dir / "one" / (std::to_string(i) + ".idx");
    write(one, big_endian(0x803) + big_endian(1) + big_endian(28) + big_endian(28) + grey);
    many += ' ';
    many += one.string();
  }
  std::string command = "ulimit -n 64 && " NABLA_BINARY " predict ";  // (piece by piece: GCC 12 warns falsely)
  command += ckpt;
  command += many;
  const Run limited = run_shell(command);
  CHECK(limited.code == 0);
  CHECK(std::count(limited.output.begin(), limited.output.end(), '\n') == 101);  // the header and 100 rows

  // Several inputs in one call, in order; CSV by default, with --top.
  const Run r =
      run_nabla("predict " + ckpt + " " + (dir / "s.pgm").string() + " " + (dir / "without.csv").string() + " --top 2");
  CAPTURE(r.output);
  REQUIRE(r.code == 0);
  std::istringstream lines(r.output);
  std::string header, first;
  std::getline(lines, header);
  std::getline(lines, first);
  CHECK(header == "input,index,class,name,probability,class_2,name_2,probability_2");
  CHECK(first.find((dir / "s.pgm").string() + ",0," + std::to_string(int(idx[k]["class"])) + ",") == 0);
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 5);  // the header, 1 + 3 samples... and no more
  fs::remove_all(dir);
}

TEST_CASE("predict refuses an input of the wrong size, naming the file, the sample and both sizes") {
  const fs::path dir = fresh_dir("predict-sizes");
  fs::create_directories(dir);
  const std::string ckpt = trained(dir);
  // IDX images of 20x20, a 20x20 PGM, a CSV row of 5 values on line 2, a CSV value that is not a number.
  write(dir / "small.idx",
        big_endian(0x803) + big_endian(1) + big_endian(20) + big_endian(20) + std::string(400, '\1'));
  write(dir / "small.pgm", "P5 20 20 255\n" + std::string(400, '\1'));
  std::string row;
  for (int i = 0; i < 784; ++i) row += (i ? ",1" : "1");
  write(dir / "short.csv", row + "\n1,2,3,4,5\n");
  write(dir / "word.csv", row + "\n" + row.substr(0, row.size() - 1) + "x\n");
  write(dir / "labels.gz", bytes_of(kLabels));
  write(dir / "crlf.pgm", "P5\r\n28 28\r\n255\r\n" + std::string(784, '\1'));  // CR LF: the LF would be a pixel
  write(dir / "huge.pgm", "P5 4294967296 4294967296 255\n");
  write(dir / "empty.csv", "");
  write(dir / "header.csv", "label,pixels\n");
  write(dir / "far.csv", row.substr(0, row.size() - 1) + "1e300\n");
  write(dir / "long.csv", row + "\n" + row.substr(0, row.size() - 1) + std::string(100, 'z') + "\n");
  const std::string good = png(28, 28, 0, 8, std::string(784, '\1'));
  write(dir / "small.png", png(20, 20, 0, 8, std::string(400, '\1')));
  write(dir / "cut.png", good.substr(0, good.size() - 30));  // the end of IDAT and IEND missing
  std::string bad_crc = good;
  bad_crc[29] ^= 1;  // in IHDR's CRC
  write(dir / "crc.png", bad_crc);
  const struct {
    const char* file;
    std::string message;
  } cases[] = {
      {"small.idx", (dir / "small.idx").string() + ": holds samples of 20x20 = 400 features, the checkpoint's network "
                                                   "takes 784 features"},
      {"small.pgm", (dir / "small.pgm").string() + ": is a 20x20 image = 400 features, the checkpoint's network takes "
                                                   "784 features"},
      {"short.csv", (dir / "short.csv").string() + ": line 2: 5 columns: the checkpoint's network takes 784 features"},
      {"word.csv", (dir / "word.csv").string() + ": line 2, column 784: expected a number, found \"x\""},
      {"labels.gz",
       (dir / "labels.gz").string() + ": byte offset 0 of the decompressed data: expected an IDX images magic number"},
      {"absent.idx", (dir / "absent.idx").string() + ": cannot open"},
      {"crlf.pgm",
       (dir / "crlf.pgm").string() + ": byte offset 15: expected 784 pixels to the end of the file, found 785 bytes"},
      {"huge.pgm", (dir / "huge.pgm").string() + ": is a 4294967296x4294967296 image, the checkpoint's network takes "
                                                 "784 features"},
      {"small.png", (dir / "small.png").string() + ": is a 20x20 image = 400 features, the checkpoint's network takes "
                                                   "784 features"},
      {"cut.png", (dir / "cut.png").string() + ": not a PNG image libpng can read: "},
      {"crc.png", (dir / "crc.png").string() + ": not a PNG image libpng can read: IHDR: CRC error"},
      {"empty.csv", (dir / "empty.csv").string() + ": holds no samples"},
      {"header.csv", (dir / "header.csv").string() + ": holds no samples"},
      {"far.csv", (dir / "far.csv").string() + ": line 1, column 784: expected a number, found \"1e300\""},
      {"long.csv", (dir / "long.csv").string() + ": line 2, column 784: expected a number, found \"zzzzzzzzzzzzzzzzzzzz"
                                                 "zzzzzzzzzzzzzzzzzzzz...\""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.file);
    const Run r = run_nabla("predict " + ckpt + " " + (dir / c.file).string() + " --output " + (dir / "out").string());
    CAPTURE(r.output);
    CHECK(r.code == 2);
    CHECK(r.output.find(c.message) == 0);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    CHECK(!fs::exists(dir / "out"));  // nothing half written
  }
  fs::remove_all(dir);
}

TEST_CASE("inspect verifies a checkpoint and shows its position, architecture, tensors and config") {
  const fs::path dir = fresh_dir("inspect");
  fs::create_directories(dir);
  const std::string ckpt = trained(dir);
  const Run r = run_nabla("inspect " + ckpt);
  CAPTURE(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("nabla checkpoint format 2, verified") != std::string::npos);
  CHECK(r.output.find("position: epoch 1, step 57") != std::string::npos);  // 1,800 samples in batches of 32
  CHECK(r.output.find("metrics of epoch 1 (metrics.jsonl): {\"epoch\":1") != std::string::npos);
  CHECK(r.output.find("layers.0 dense (sigmoid)") != std::string::npos);
  CHECK(r.output.find("layers.0.weight    F32   [16, 784]         50176") != std::string::npos);
  CHECK(r.output.find("\"class_names\"") != std::string::npos);

  const Run j = run_nabla("inspect " + ckpt + " --json");
  REQUIRE(j.code == 0);
  const nlohmann::json info = nlohmann::json::parse(j.output);
  CHECK(info["format_version"] == "2");
  CHECK(info["inputs"] == 784);
  CHECK(info["outputs"] == 10);
  REQUIRE(info["tensors"].size() == 13);  // six dense layers' weights and biases, and adam's moments
  CHECK(info["tensors"][0]["name"] == "layers.0.weight");
  CHECK(info["tensors"][0]["bytes"] == 16 * 784 * 4);
  CHECK(info["tensors"][0]["non_finite"] == 0);
  // Glorot-uniform's bound for 784 -> 16 is sqrt(6 / 800) = 0.0866; after one epoch the weights are near it.
  CHECK(double(info["tensors"][0]["max"]) < 0.2);
  CHECK(double(info["tensors"][0]["min"]) > -0.2);

  // One flipped bit in a tensor: the diagnosis, exit 2.
  std::string bytes = bytes_of(ckpt);
  bytes[bytes.size() - 3] ^= 0x01;
  write(dir / "bad.safetensors", bytes);
  const Run bad = run_nabla("inspect " + (dir / "bad.safetensors").string());
  CHECK(bad.code == 2);
  CHECK(bad.output.find((dir / "bad.safetensors").string() + ": CRC-32 of the tensor bytes: expected ") == 0);
  const Run bad_predict = run_nabla("predict " + (dir / "bad.safetensors").string() + " " + kImages);
  CHECK(bad_predict.code == 2);
  CHECK(bad_predict.output.find("CRC-32 of the tensor bytes") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("--version says the version, the commit it was built from, the build and the engines") {
  const Run r = run_nabla("--version");
  CAPTURE(r.output);
  CHECK(r.code == 0);
  CHECK(r.output.find("nabla 0.1.0 (commit ") == 0);
  // The commit of this checkout, as git names it (the build runs git describe at every build).
  FILE* git = popen("git -C " NABLA_SOURCE_DIR " rev-parse --short=12 HEAD 2>/dev/null", "r");
  char head[64] = {};
  const bool have_git = git && fgets(head, sizeof head, git) != nullptr;
  if (git) pclose(git);
  if (have_git) CHECK(r.output.find("(commit " + std::string(head, 12)) != std::string::npos);
  CHECK(r.output.find("\nbuild: " NABLA_TEST_BUILD_TYPE ", " NABLA_TEST_COMPILER " ") != std::string::npos);
  CHECK(r.output.find("-ffp-contract=off") != std::string::npos);
  CHECK(r.output.find("\nBLAS: OpenBLAS ") != std::string::npos);
  CHECK(r.output.find("\nbf16: ") != std::string::npos);
}

TEST_CASE("every run folder has run.json: the build, the machine, the command and each data file's SHA-256") {
  const fs::path dir = fresh_dir("manifest");
  fs::create_directories(dir);
  // The test split in files of the test's own, so that one can change under its name.
  fs::copy_file(kImages, dir / "test-images.gz");
  fs::copy_file(kLabels, dir / "test-labels.gz");
  const std::string test = " --set data.test.images=" + (dir / "test-images.gz").string() +
                           " --set data.test.labels=" + (dir / "test-labels.gz").string();
  const std::string out = (dir / "run").string();
  REQUIRE(run_nabla("train configs/gradcheck.json --quiet --epochs 1 --out " + out + test).code == 0);
  std::ifstream in(dir / "run/run.json");
  const nlohmann::json m = nlohmann::json::parse(in);
  REQUIRE(m["runs"].size() == 1);
  const nlohmann::json& r = m["runs"][0];
  CHECK(r["nabla"]["version"] == "0.1.0");
  CHECK(r["nabla"]["build_type"] == NABLA_TEST_BUILD_TYPE);
  CHECK(r["seed"] == 7);
  CHECK(r["command"][1] == "train");
  CHECK(r["command"].back() == "data.test.labels=" + (dir / "test-labels.gz").string());
  CHECK(r["finished"].is_string());
  CHECK(r["cpu"]["cores"].get<int>() >= 1);
  // Each file's SHA-256 as coreutils' sha256sum computes it.
  for (const char* key : {"data.train.images", "data.train.labels", "data.test.images", "data.test.labels"}) {
    CAPTURE(key);
    const std::string path = r["data"][key]["path"];
    FILE* p = popen(("sha256sum " + path).c_str(), "r");
    REQUIRE(p != nullptr);
    char sum[65] = {};
    REQUIRE(fread(sum, 1, 64, p) == 64);
    pclose(p);
    CHECK(r["data"][key]["sha256"] == std::string(sum));
  }
  // A resume in place adds its entry; eval says nothing while the data is as recorded.
  REQUIRE(run_nabla("train configs/gradcheck.json --quiet --epochs 2 --resume " + out +
                    "/checkpoints/last.safetensors" + test)
              .code == 0);
  std::ifstream again(dir / "run/run.json");
  CHECK(nlohmann::json::parse(again)["runs"].size() == 2);
  const std::string ckpt = out + "/checkpoints/last.safetensors";
  const Run quiet = run_nabla("eval " + ckpt + " --json");
  CHECK(quiet.code == 0);
  CHECK(quiet.output.find("warning") == std::string::npos);
  // The test images replaced by others of the same shape: eval still runs, and warns once, on one line.
  fs::copy_file(kSamples + "fashion-train-2000-images-idx3-ubyte.gz", dir / "test-images.gz",
                fs::copy_options::overwrite_existing);
  fs::copy_file(kSamples + "fashion-train-2000-labels-idx1-ubyte.gz", dir / "test-labels.gz",
                fs::copy_options::overwrite_existing);
  const Run warned = run_nabla("eval " + ckpt);
  CAPTURE(warned.output);
  CHECK(warned.code == 0);
  CHECK(warned.output.find("warning: " + (dir / "test-images.gz").string() +
                           " (data.test.images) has changed since "
                           "the run recorded it in " +
                           out + "/run.json") == 0);
  CHECK(warned.output.find("(data.test.labels) has changed") != std::string::npos);
  // A resume says so too, before it trains (the files hashed once, for the warning and its entry).
  const Run resumed = run_nabla("train configs/gradcheck.json --epochs 3 --resume " + ckpt + test);
  CAPTURE(resumed.output);
  CHECK(resumed.code == 0);
  CHECK(resumed.output.find("warning: " + (dir / "test-images.gz").string() + " (data.test.images) has changed") <
        resumed.output.find("epoch 3/3"));
  std::ifstream third(dir / "run/run.json");
  const nlohmann::json m3 = nlohmann::json::parse(third);
  CHECK(m3["runs"].size() == 3);
  CHECK(m3["runs"][2]["data"]["data.test.images"]["sha256"] != m["runs"][0]["data"]["data.test.images"]["sha256"]);

  // A run.json damaged by hand is set aside, not lost, and a new one begun, with a warning.
  write(dir / "run/run.json", "{\"runs\": [");
  const Run damaged = run_nabla("train configs/gradcheck.json --quiet --epochs 4 --resume " + ckpt + test);
  CAPTURE(damaged.output);
  CHECK(damaged.code == 0);
  CHECK(damaged.output.find("warning: " + out +
                            "/run.json could not be read as a run manifest (the runs before this "
                            "one are not in it): set aside as " +
                            out + "/run.json.unreadable, and a new one begun\n") != std::string::npos);
  CHECK(bytes_of(dir / "run/run.json.unreadable") == "{\"runs\": [");
  std::ifstream fourth(dir / "run/run.json");
  CHECK(nlohmann::json::parse(fourth)["runs"].size() == 1);
  fs::remove_all(dir);
}

TEST_CASE("an --output that is not a regular file (a pipe, a link) is refused and left as it was") {
  const fs::path dir = fresh_dir("predict-output");
  fs::create_directories(dir);
  const std::string ckpt = trained(dir);
  REQUIRE(::mkfifo((dir / "pipe").c_str(), 0644) == 0);
  fs::create_symlink(dir / "elsewhere.csv", dir / "link.csv");
  for (const char* name : {"pipe", "link.csv"}) {
    CAPTURE(name);
    const Run r = run_nabla("predict " + ckpt + " " + kImages + " --output " + (dir / name).string());
    CHECK(r.code == 2);
    CHECK(r.output == (dir / name).string() +
                          ": is not a regular file (a device, a pipe, a folder or a link): it is "
                          "not replaced\n");
  }
  CHECK(fs::is_fifo(fs::symlink_status(dir / "pipe")));
  CHECK(fs::is_symlink(fs::symlink_status(dir / "link.csv")));
  CHECK(!fs::exists(dir / "elsewhere.csv"));
  fs::remove_all(dir);
}

TEST_CASE("the command line forgives as argparse does: near misses named, a repeated flag's last value, nabla help") {
  const Run typo = run_nabla("trian configs/gradcheck.json");
  CHECK(typo.code == 2);
  CHECK(typo.output ==
        "nabla: unknown command 'trian': expected train, eval, predict, inspect, export, plot or lr-find (did you mean "
        "train?) (see "
        "--help)\n");
  const Run flag = run_nabla("train configs/gradcheck.json --epoch 3");
  CHECK(flag.code == 2);
  CHECK(flag.output.find("(did you mean --epochs?)") != std::string::npos);
  CHECK(std::count(flag.output.begin(), flag.output.end(), '\n') == 1);
  // --epochs 3 --epochs 5: 5, as the resolved config shows.
  const Run twice = run_nabla("train configs/gradcheck.json --dry-run --epochs 3 --epochs 5");
  CHECK(twice.code == 0);
  CHECK(twice.output.find("\"epochs\": 5,") != std::string::npos);
  const Run help = run_nabla("help predict");
  CHECK(help.code == 0);
  CHECK(help.output.find("Usage: predict [OPTIONS] checkpoint inputs...") != std::string::npos);
  CHECK(help.output.find("--top INT=1") != std::string::npos);
  const Run top = run_nabla("--help");
  CHECK(top.output.find("Exit codes: 0 done; 1 --gradcheck found a wrong gradient; 2 bad input") != std::string::npos);
  const Run wrong = run_nabla("help frobnicate");
  CHECK(wrong.code == 2);
}

TEST_CASE("eval's precision, recall, F1 and top-k accuracy, computed again here from its confusion and predict") {
  const fs::path dir = fresh_dir("eval-scores");
  fs::create_directories(dir);
  const std::string ckpt = trained(dir);
  const Run e = run_nabla("eval " + ckpt + " --images " + kImages + " --labels " + kLabels + " --json --top 3");
  REQUIRE(e.code == 0);
  const nlohmann::json j = nlohmann::json::parse(e.output);
  const std::vector<std::vector<int64_t>> m = j["confusion"];
  for (size_t c = 0; c < 10; ++c) {
    CAPTURE(c);
    int64_t row = 0, column = 0;
    for (size_t k = 0; k < 10; ++k) row += m[c][k], column += m[k][c];
    const double recall = double(m[c][c]) / double(row);
    CHECK(j["per_class_recall"][c].get<double>() == doctest::Approx(recall));
    if (column == 0) {
      CHECK(j["per_class_precision"][c].is_null());
      continue;
    }
    const double precision = double(m[c][c]) / double(column);
    CHECK(j["per_class_precision"][c].get<double>() == doctest::Approx(precision));
    if (precision + recall > 0)
      CHECK(j["per_class_f1"][c].get<double>() == doctest::Approx(2 * precision * recall / (precision + recall)));
  }
  // Top-3: the label among the three most probable classes, from predict's probabilities.
  const std::vector<nlohmann::json> rows = predicted(ckpt, kImages, dir / "p.jsonl");
  const nabla::data::IdxArray labels = nabla::data::read_idx(kLabels, nabla::data::IdxKind::labels);
  int64_t in_top3 = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::vector<double> p = rows[i]["probabilities"];
    const double mine = p[labels.bytes[i]];
    int64_t above = 0;
    for (size_t c = 0; c < p.size(); ++c) above += p[c] > mine || (p[c] == mine && c < labels.bytes[i]);
    in_top3 += above < 3;
  }
  CHECK(j["top_k"] == 3);
  CHECK(j["top_k_accuracy"].get<double>() == doctest::Approx(double(in_top3) / 500.0));
  CHECK(j["top_k_accuracy"].get<double>() >= j["accuracy"].get<double>());
  CHECK(j["class_names"][9] == "Ankle boot");
  const Run text = run_nabla("eval " + ckpt + " --images " + kImages + " --labels " + kLabels);
  CHECK(text.output.find("  9 Ankle boot ") != std::string::npos);
  CHECK(text.output.find("top-5 accuracy ") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("--resume without a config continues with the checkpoint's own, and says what changes before training") {
  const fs::path dir = fresh_dir("resume-alone");
  fs::create_directories(dir);
  REQUIRE(run_nabla("train configs/gradcheck.json --quiet --epochs 1 --out " + (dir / "a").string()).code == 0);
  fs::copy(dir / "a", dir / "b", fs::copy_options::recursive);
  fs::remove(dir / "b/.lock");
  const Run with = run_nabla("train configs/gradcheck.json --epochs 3 --resume " + (dir / "a").string() +
                             "/checkpoints/last.safetensors");
  const Run alone = run_nabla("train --epochs 3 --resume " + (dir / "b").string() + "/checkpoints/last.safetensors");
  CAPTURE(alone.output);
  REQUIRE(with.code == 0);
  REQUIRE(alone.code == 0);
  // The note comes before the first epoch's line.
  const size_t note = alone.output.find("changed on resume: training.epochs: 1 -> 3");
  REQUIRE(note != std::string::npos);
  CHECK(note < alone.output.find("epoch 2/3"));
  // The same run either way, bit for bit.
  const auto a = nabla::io::load_checkpoint((dir / "a/checkpoints/last.safetensors").string());
  const auto b = nabla::io::load_checkpoint((dir / "b/checkpoints/last.safetensors").string());
  CHECK(a.state.step == b.state.step);
  CHECK(a.params == b.params);
  CHECK(a.optimizer_state == b.optimizer_state);
  // What it may not change is refused as a config file's change is, naming where the config came from.
  const Run refused = run_nabla("train --epochs 5 --set model.layers[0].units=3 --resume " + (dir / "b").string() +
                                "/checkpoints/last.safetensors");
  CHECK(refused.code == 2);
  CHECK(refused.output.find("last.safetensors (its config): cannot resume ") != std::string::npos);
  const Run neither = run_nabla("train");
  CHECK(neither.code == 2);
  CHECK(neither.output == "nabla train: expected a config file, or --resume CHECKPOINT (whose config it holds)\n");
  fs::remove_all(dir);
}

TEST_CASE("--dry-run's summary names each layer both ways, and says what it checked of the data") {
  const Run r = run_nabla("train configs/gradcheck.json --dry-run");
  REQUIRE(r.code == 0);
  // The tensors count dense layers (layers.2), the config every layer (model.layers[3], after a dropout).
  CHECK(
      r.output.find("layers.2 dense (relu)        (12)                      180              360  model.layers[3]\n") !=
      std::string::npos);
  CHECK(
      r.output.find("dropout (rate 0.1)           (14)                        0                0  model.layers[2]\n") !=
      std::string::npos);
  CHECK(r.output.find("\nchecked of the data: each file's header") != std::string::npos);
}

TEST_CASE("eval of a checkpoint whose test files are gone names the config key and the flags that override it") {
  const fs::path dir = fresh_dir("eval-moved");
  fs::create_directories(dir);
  fs::copy_file(kImages, dir / "test-images.gz");
  fs::copy_file(kLabels, dir / "test-labels.gz");
  const std::string out = (dir / "run").string();
  REQUIRE(run_nabla("train configs/gradcheck.json --quiet --epochs 1 --out " + out + " --set data.test.images=" +
                    (dir / "test-images.gz").string() + " --set data.test.labels=" + (dir / "test-labels.gz").string())
              .code == 0);
  fs::remove(dir / "test-images.gz");  // as on another machine
  const std::string ckpt = out + "/checkpoints/best.safetensors";
  const Run r = run_nabla("eval " + ckpt);
  CHECK(r.code == 2);
  CHECK(r.output == ckpt + ": data.test.images of its config, " + (dir / "test-images.gz").string() +
                        ", does not exist (was the checkpoint moved from another machine or folder?): give --images "
                        "and --labels to evaluate on files that do\n");
  // Which they do.
  CHECK(run_nabla("eval " + ckpt + " --images " + kImages + " --labels " + kLabels).code == 0);
  fs::remove_all(dir);
}

TEST_CASE("a run folder moved with its data finds the data again relative to the checkpoint") {
  const fs::path dir = fresh_dir("project-moved");
  fs::create_directories(dir / "a/data");
  fs::copy_file(kImages, dir / "a/data/test-images.gz");
  fs::copy_file(kLabels, dir / "a/data/test-labels.gz");
  REQUIRE(run_nabla("train configs/gradcheck.json --quiet --epochs 1 --out " + (dir / "a/runs/r").string() +
                    " --set data.test.images=" + (dir / "a/data/test-images.gz").string() +
                    " --set data.test.labels=" + (dir / "a/data/test-labels.gz").string())
              .code == 0);
  const Run before = run_nabla("eval " + (dir / "a/runs/r/checkpoints/best.safetensors").string());
  REQUIRE(before.code == 0);
  CHECK(before.output.find("warning") == std::string::npos);

  fs::rename(dir / "a", dir / "b");  // the whole project, as copied to another machine
  const std::string ckpt = (dir / "b/runs/r/checkpoints/best.safetensors").string();
  const Run after = run_nabla("eval " + ckpt);
  REQUIRE(after.code == 0);
  const std::string note = "warning: data.test.images: " + (dir / "a/data/test-images.gz").string() +
                           " does not exist; using " + (dir / "b/data/test-images.gz").string() +
                           ", at the same place relative to the checkpoint\n";
  CHECK(after.output.rfind(note, 0) == 0);
  CHECK(after.output.find("warning: data.test.labels: ") != std::string::npos);
  CHECK(after.output.find("has changed since") == std::string::npos);  // the same bytes, by SHA-256
  // The same figures as before the move.
  auto figures = [](const std::string& out) {
    const size_t at = out.find("\nloss ");
    return at == std::string::npos ? std::string("(none)") : out.substr(at, out.find('\n', at + 1) - at);
  };
  CHECK(figures(after.output) == figures(before.output));
  CHECK(figures(after.output) != "(none)");

  // A resume without a config takes the config's data from the checkpoint, found the same way.
  const Run resumed =
      run_nabla("train --epochs 2 --resume " + (dir / "b/runs/r/checkpoints/last.safetensors").string());
  CHECK(resumed.code == 0);
  CHECK(resumed.output.find(note) != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("eval and predict give the same bits on any --threads, and --batch changes only a float's last bits") {
  const fs::path dir = fresh_dir("eval-threads");
  fs::create_directories(dir);
  const std::string ckpt = trained(dir);
  const std::string data = " --images " + kImages + " --labels " + kLabels + " --json";
  auto eval = [&](const std::string& flags) {
    const Run r = run_nabla("eval " + ckpt + data + flags);
    CAPTURE(r.output);
    REQUIRE(r.code == 0);
    return nlohmann::json::parse(r.output);
  };
  const nlohmann::json one = eval(" --threads 1"), two = eval(" --threads 2"), three = eval(" --threads 3");
  for (const nlohmann::json* e : {&two, &three}) {
    CHECK((*e)["loss"].get<double>() == one["loss"].get<double>());  // exactly: the rows' blocks are the batch's
    CHECK((*e)["confusion"] == one["confusion"]);
  }
  CHECK(one["samples"] == 500);
  CHECK(one["seconds"].get<double>() > 0);
  CHECK(one["samples_per_second"].get<double>() == doctest::Approx(500 / one["seconds"].get<double>()));
  // In one batch of all 500 (--batch 1024 is more than there are): every sample, the same figures
  // but for the GEMMs' shapes.
  const nlohmann::json big = eval(" --batch 1024 --threads 2");
  CHECK(big["samples"] == 500);
  CHECK(big["loss"].get<double>() == doctest::Approx(one["loss"].get<double>()).epsilon(1e-5));
  // predict: byte-identical files on 1 and 2 threads.
  for (const char* t : {"1", "2"}) {
    const Run r = run_nabla("predict " + ckpt + " " + kImages + " --threads " + t + " --output " +
                            (dir / (std::string("p") + t + ".csv")).string());
    REQUIRE(r.code == 0);
  }
  CHECK(bytes_of(dir / "p1.csv") == bytes_of(dir / "p2.csv"));
  CHECK(bytes_of(dir / "p1.csv").size() > 500 * 4);
  const Run bad = run_nabla("eval " + ckpt + " --threads 0");
  CHECK(bad.code != 0);
  CHECK(bad.output.find("--threads") != std::string::npos);
  fs::remove_all(dir);
}
