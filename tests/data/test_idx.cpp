// The IDX reader on the committed real samples, and every way an IDX file can be rejected.
//
// Expected numbers were worked out independently with Python's gzip and struct modules on the
// committed files (see the comment by each), not with the code under test.
#include <sys/stat.h>

#include <cstring>
#include <limits>
#include <numeric>

#include "data/idx.hpp"
#include "data/loader.hpp"
#include "helpers.hpp"

using namespace test;
using nabla::DataFormat;
using nabla::DataSource;
using nabla::data::Dtype;
using nabla::data::IdxKind;
using nabla::data::inspect;
using nabla::data::read_idx;

namespace {

DataSource idx_source(const std::string& images, const std::string& labels) {
  DataSource s;
  s.images = images;
  s.labels = labels;
  return s;
}

int64_t pixel_sum(const test::Bytes& pixels, int64_t image) {
  return std::accumulate(pixels.begin() + image * 784, pixels.begin() + (image + 1) * 784, int64_t(0));
}

// A sample copied into `dir`, decompressed (name without .gz) or as is.
std::string raw_copy(const TempDir& dir, const std::string& name) {
  return dir.write(name.substr(0, name.size() - 3), sample_bytes(name));
}

}  // namespace

TEST_CASE("idx: the Fashion-MNIST training sample: counts, dims, labels, pixels") {
  auto images = read_idx(sample(kTrainImages), IdxKind::images);
  auto labels = read_idx(sample(kTrainLabels), IdxKind::labels);
  // python3: struct.unpack('>IIII', gzip.open(f).read()[:16]) == (0x803, 2000, 28, 28)
  CHECK(images.header.dtype == Dtype::u8);
  CHECK(images.header.dims == std::vector<int64_t>{2000, 28, 28});
  CHECK(images.header.header_bytes == 16);
  CHECK(images.bytes.size() == 2000u * 784u);
  CHECK(labels.header.dims == std::vector<int64_t>{2000});
  CHECK(labels.header.header_bytes == 8);
  // python3: list(gzip.open(labels).read()[8:18])
  CHECK(std::vector<uint8_t>(labels.bytes.begin(), labels.bytes.begin() + 10) ==
        std::vector<uint8_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5});
  // python3: [sum(img[i*784:(i+1)*784]) for i in range(5)], sum(img), sum of the last image
  CHECK(pixel_sum(images.bytes, 0) == 76247);
  CHECK(pixel_sum(images.bytes, 1) == 84598);
  CHECK(pixel_sum(images.bytes, 2) == 28662);
  CHECK(pixel_sum(images.bytes, 3) == 46649);
  CHECK(pixel_sum(images.bytes, 4) == 61187);
  CHECK(pixel_sum(images.bytes, 1999) == 49119);
  CHECK(std::accumulate(images.bytes.begin(), images.bytes.end(), int64_t(0)) == 113529887);
  CHECK(labels.bytes.back() == 8);
  // python3: [lab.count(c) for c in range(10)]
  std::vector<int> histogram(10);
  for (uint8_t l : labels.bytes) histogram[l]++;
  CHECK(histogram == std::vector<int>{194, 216, 202, 195, 186, 200, 194, 215, 198, 200});

  auto info = inspect(idx_source(sample(kTrainImages), sample(kTrainLabels)), DataFormat::idx, false);
  CHECK(info.count == 2000);
  CHECK(info.rows == 28);
  CHECK(info.cols == 28);
  CHECK(info.features == 784);
  CHECK(info.classes == 10);
  CHECK(info.labels_seen == 10);  // the histogram above: every class has samples

  // One label made 200 (the first, a 9, of which 199 remain): 201 classes, 11 of them with samples.
  TempDir dir;
  Bytes corrupt = sample_bytes(kTrainLabels);
  corrupt[8] = 200;
  const auto labels_file = dir.write("corrupt-labels", corrupt);
  const auto images_file = dir.write("images", sample_bytes(kTrainImages));
  const auto widened = inspect(idx_source(images_file, labels_file), DataFormat::idx, false);
  CHECK(widened.classes == 201);
  CHECK(widened.labels_seen == 11);
}

TEST_CASE("idx: the Fashion-MNIST test sample and the MNIST digits") {
  auto images = read_idx(sample(kTestImages), IdxKind::images);
  auto labels = read_idx(sample(kTestLabels), IdxKind::labels);
  CHECK(images.header.dims == std::vector<int64_t>{500, 28, 28});
  // python3, as above
  CHECK(std::vector<uint8_t>(labels.bytes.begin(), labels.bytes.begin() + 10) ==
        std::vector<uint8_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7});
  CHECK(pixel_sum(images.bytes, 0) == 33456);
  CHECK(pixel_sum(images.bytes, 1) == 100994);
  CHECK(pixel_sum(images.bytes, 2) == 51520);
  CHECK(std::accumulate(images.bytes.begin(), images.bytes.end(), int64_t(0)) == 29494551);

  // data/mnist (scripts/make-mnist.sh): 8495 training and 1505 test digits.
  auto train = inspect(idx_source(repo_file("data/mnist/train-images-idx3-ubyte.gz"),
                                  repo_file("data/mnist/train-labels-idx1-ubyte.gz")),
                       DataFormat::idx, false);
  CHECK(train.count == 8495);
  CHECK(train.features == 784);
  CHECK(train.classes == 10);
  auto test_labels = read_idx(repo_file("data/mnist/test-labels-idx1-ubyte.gz"), IdxKind::labels);
  auto test_images = read_idx(repo_file("data/mnist/test-images-idx3-ubyte.gz"), IdxKind::images);
  CHECK(test_labels.header.count() == 1505);
  CHECK(std::vector<uint8_t>(test_labels.bytes.begin(), test_labels.bytes.begin() + 10) ==
        std::vector<uint8_t>{9, 9, 6, 0, 1, 1, 3, 1, 6, 0});
  CHECK(pixel_sum(test_images.bytes, 0) == 20787);
  CHECK(std::accumulate(test_images.bytes.begin(), test_images.bytes.end(), int64_t(0)) == 39449175);
}

TEST_CASE("idx: raw and gzip copies read the same") {
  TempDir dir;
  auto raw = read_idx(raw_copy(dir, kTestImages), IdxKind::images);
  auto gz = read_idx(sample(kTestImages), IdxKind::images);
  CHECK(raw.header.dims == gz.header.dims);
  CHECK(raw.bytes == gz.bytes);

  // Two gzip members one after the other (`cat a.gz b.gz`) are one valid gzip file.
  Bytes whole = sample_bytes(kTestLabels);
  Bytes first(whole.begin(), whole.begin() + 100), second(whole.begin() + 100, whole.end());
  Bytes two = gzip(first);
  Bytes g2 = gzip(second);
  two.insert(two.end(), g2.begin(), g2.end());
  auto labels = read_idx(dir.write("two-members.gz", two), IdxKind::labels);
  CHECK(labels.bytes == Bytes(whole.begin() + 8, whole.end()));
}

namespace {

// An IDX file of `count` float32 images of 1 x 2, big-endian: 0x00000D03, count, 1, 2, the values.
Bytes float32_images(uint8_t count, const std::vector<float>& values) {
  Bytes b = {0, 0, 0x0D, 3, 0, 0, 0, count, 0, 0, 0, 1, 0, 0, 0, 2};
  for (float v : values) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(uint8_t(u >> shift));
  }
  return b;
}

}  // namespace

TEST_CASE("idx: a NaN or an infinity in float32 images is refused where it stands") {
  // 2 images of 1x2 float32: 1, 2, then NaN (at data byte 16 + 2 * 4 = 24), 4.
  for (const bool nan : {true, false}) {
    const float bad = nan ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
    TempDir dir;
    auto images = dir.write("f32-bad-images", float32_images(2, {1.0f, 2.0f, bad, 4.0f}));
    try {
      read_idx(images, IdxKind::images);
      FAIL("a non-finite value was accepted");
    } catch (const nabla::Error& e) {
      CHECK(std::string(e.what()) == images + ": byte offset 24: expected a finite float32 value, found " +
                                         (nan ? "NaN" : "infinity"));
    }
  }
}

TEST_CASE("idx: float32 images") {
  // 3 images of 1x2 float32, big-endian: 0x00000D03, 3, 1, 2, then 0.5 -1 255 2.25 1e-3 7.
  const std::vector<float> values = {0.5f, -1.0f, 255.0f, 2.25f, 1e-3f, 7.0f};
  TempDir dir;
  auto images = dir.write("f32-images", float32_images(3, values));
  auto labels = dir.write("f32-labels", Bytes{0, 0, 8, 1, 0, 0, 0, 3, 4, 0, 2});
  auto a = read_idx(images, IdxKind::images);
  CHECK(a.header.dtype == Dtype::f32);
  REQUIRE(a.bytes.size() == 24);
  float back[6];
  std::memcpy(back, a.bytes.data(), 24);
  for (int i = 0; i < 6; ++i) CHECK(back[i] == values[i]);
  auto info = inspect(idx_source(images, labels), DataFormat::idx, false);
  CHECK(info.count == 3);
  CHECK(info.rows == 1);
  CHECK(info.cols == 2);
  CHECK(info.classes == 5);  // labels 4 0 2
}

TEST_CASE("idx: rejects a bad magic number, naming file and offset") {
  TempDir dir;
  Bytes b = sample_bytes(kTestImages);
  b[2] = 0x09;  // 0x00000903: i8 elements, not supported
  auto bad = dir.write("bad-magic-images", b);
  CHECK(error_of([&] { read_idx(bad, IdxKind::images); }) ==
        bad + ": byte offset 0: expected an IDX images magic number 0x00000803 (u8, count x rows x cols), "
              "0x00000802 (u8, count x features) or 0x00000D03 / 0x00000D02 (float32), found 0x00000903");
  // Images and labels swapped: the hint says so.
  auto labels = raw_copy(dir, kTestLabels);
  auto images = raw_copy(dir, kTestImages);
  std::string e = error_of([&] { inspect(idx_source(labels, images), DataFormat::idx, false); });
  CHECK(contains(e, labels + ": byte offset 0: expected an IDX images magic number"));
  CHECK(contains(e, "found 0x00000801 (a labels file: are images and labels swapped?)"));
  // An empty file.
  auto empty = dir.write("empty-images", Bytes{});
  CHECK(contains(error_of([&] { read_idx(empty, IdxKind::images); }),
                 empty + ": byte offset 0: expected an IDX images magic number"));
  CHECK(contains(error_of([&] { read_idx(empty, IdxKind::images); }), "found the end of the file after 0 bytes"));
}

TEST_CASE("idx: rejects truncated files, raw and gzip, with the offset where the data ends") {
  TempDir dir;
  Bytes b = sample_bytes(kTestImages);  // 16 + 500 * 784 = 392016 bytes
  b.resize(b.size() - 100);
  auto raw = dir.write("short-images", b);
  CHECK(error_of([&] { read_idx(raw, IdxKind::images); }) ==
        raw + ": byte offset 391916: expected 392016 bytes (a 16-byte header and 500 images of 28x28 u8), "
              "found the end of the file (truncated?)");
  auto gz = dir.write("short-images.gz", gzip(b));
  CHECK(error_of([&] { read_idx(gz, IdxKind::images); }) ==
        gz + ": byte offset 391916 of the decompressed data: expected 392016 bytes (a 16-byte header and 500 "
             "images of 28x28 u8), found the end of the data after record 499 (truncated?)");
  // Through inspect(), which checks the whole gzip file.
  auto labels = dir.write("labels.gz", read_file(sample(kTestLabels)));
  CHECK(contains(error_of([&] { inspect(idx_source(gz, labels), DataFormat::idx, false); }),
                 gz + ": byte offset 391916 of the decompressed data: expected 392016 bytes"));
  // Shorter than its header.
  auto tiny = dir.write("tiny-images", Bytes{0, 0, 8, 3, 0, 0});
  CHECK(error_of([&] { read_idx(tiny, IdxKind::images); }) ==
        tiny + ": byte offset 6: expected 3 big-endian uint32 dimensions after the magic number, found the end "
               "of the file");
}

TEST_CASE("idx: rejects trailing bytes, raw and gzip") {
  TempDir dir;
  Bytes b = sample_bytes(kTestLabels);  // 8 + 500 bytes
  b.insert(b.end(), {1, 2, 3});
  auto raw = dir.write("long-labels", b);
  CHECK(error_of([&] { read_idx(raw, IdxKind::labels); }) ==
        raw + ": byte offset 508: expected the end of the file after the header and 500 u8 labels, found 3 more bytes");
  auto gz = dir.write("long-labels.gz", gzip(b));
  CHECK(error_of([&] { read_idx(gz, IdxKind::labels); }) ==
        gz + ": byte offset 508 of the decompressed data: expected the end of the data after the header and 500 u8 "
             "labels, found 3 more bytes");
  // Bytes after the gzip stream itself (not another gzip member).
  Bytes z = read_file(sample(kTestLabels));  // 276 bytes
  z.insert(z.end(), 5, 0);
  auto padded = dir.write("padded-labels.gz", z);
  CHECK(error_of([&] { read_idx(padded, IdxKind::labels); }) ==
        padded + ": byte offset 276: expected the end of the file after the gzip data, found 5 more bytes");
  // A decompression bomb: 64 MiB of zeros after the labels, in a file of 64 KB. Refused once 1 MiB of
  // surplus is counted, not inflated to its end.
  Bytes bomb = sample_bytes(kTestLabels);
  bomb.resize(bomb.size() + (size_t(64) << 20), 0);
  auto big = dir.write("bomb-labels.gz", gzip(bomb));
  CHECK(read_file(big).size() < (size_t(1) << 20));
  CHECK(error_of([&] { read_idx(big, IdxKind::labels); }) ==
        big + ": byte offset 508 of the decompressed data: expected the end of the data after the header and 500 u8 "
              "labels, found more than 1048576 more bytes");
}

TEST_CASE("idx: rejects images and labels that disagree in count") {
  TempDir dir;
  Bytes l = sample_bytes(kTestLabels);
  l.pop_back();
  l[7] = 499 - 256;  // count 499 = 0x000001F3
  auto labels = dir.write("labels-499", l);
  auto images = raw_copy(dir, kTestImages);
  CHECK(error_of([&] { inspect(idx_source(images, labels), DataFormat::idx, false); }) ==
        labels + ": byte offset 4: expected 500 labels (as many as " + images + " has images), found 499");
  nabla::data::LoaderOptions o;
  CHECK(contains(error_of([&] { nabla::data::BatchLoader(idx_source(images, labels), DataFormat::idx, false, o); }),
                 "expected 500 labels"));
}

TEST_CASE("idx: rejects corrupt gzip: a flipped byte, a bad CRC, a cut stream") {
  TempDir dir;
  const Bytes good = read_file(sample(kTestImages));  // 221100 bytes of gzip
  Bytes flipped = good;
  flipped[good.size() / 2] ^= 0x55;
  auto f = dir.write("flipped-images.gz", flipped);
  std::string e = error_of([&] { read_idx(f, IdxKind::images); });
  // Depending on where the flip lands, zlib reports an invalid code, a distance too far back or
  // the CRC; always an error about the gzip data, naming the file and an offset.
  CHECK(contains(e, f + ": byte offset "));
  CHECK((contains(e, "corrupt gzip data (zlib: ") || contains(e, "expected")));

  Bytes bad_crc = good;
  bad_crc[good.size() - 8] ^= 0x01;  // the trailer: CRC-32 then length, 4 bytes each
  auto c = dir.write("bad-crc-images.gz", bad_crc);
  CHECK(error_of([&] { read_idx(c, IdxKind::images); }) ==
        c + ": byte offset 221096: corrupt gzip data (zlib: incorrect data check)");

  Bytes cut(good.begin(), good.begin() + 100000);
  auto t = dir.write("cut-images.gz", cut);
  CHECK(error_of([&] { read_idx(t, IdxKind::images); }) ==
        t + ": byte offset 100000: the gzip data ends early: expected more compressed data, found the end of the "
            "file (truncated?)");
}

TEST_CASE("idx: gzip named raw and raw named gzip get a hint") {
  TempDir dir;
  auto gz_as_raw = dir.write("train-images-idx3-ubyte", read_file(sample(kTestImages)));
  CHECK(error_of([&] { read_idx(gz_as_raw, IdxKind::images); }) ==
        gz_as_raw + ": byte offset 0: looks like gzip data (it starts with 1f 8b): name the file .gz, or "
                    "decompress it");
  auto raw_as_gz = dir.write("train-images-idx3-ubyte.gz", sample_bytes(kTestImages));
  CHECK(error_of([&] { read_idx(raw_as_gz, IdxKind::images); }) ==
        raw_as_gz + ": byte offset 0: not gzip data: expected the gzip magic 1f 8b, found 00 00; if this is a "
                    "raw IDX or CSV file, drop the .gz from its name");
}

TEST_CASE("idx: a missing file, a directory, no file") {
  TempDir dir;
  auto missing = dir.file("no-such-images.gz");
  CHECK(error_of([&] { read_idx(missing, IdxKind::images); }) ==
        missing + ": cannot open: No such file or directory");
  CHECK(error_of([&] { read_idx(dir.path.string(), IdxKind::images); }) ==
        dir.path.string() + ": is a directory, expected a data file");
  // A FIFO: opening one waits for a writer, so it used to hang here forever.
  auto fifo = dir.file("images.fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  CHECK(error_of([&] { read_idx(fifo, IdxKind::images); }) ==
        fifo + ": is not a regular file (a pipe or a device?), expected a data file");
  CHECK(error_of([&] { inspect(idx_source("", sample(kTestLabels)), DataFormat::idx, false); }) ==
        "data: the IDX format needs an images and a labels file, found no images file");
}
