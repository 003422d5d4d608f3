// The CSV reader: the committed MNIST sample against the IDX data it was made from, the header,
// and the rejections (ragged rows, bad fields), each naming the line and column.
#include <numeric>

#include "data/csv.hpp"
#include "data/loader.hpp"
#include "helpers.hpp"

using namespace test;
using nabla::DataFormat;
using nabla::DataSource;
using nabla::data::BatchLoader;
using nabla::data::CsvReader;
using nabla::data::Dtype;
using nabla::data::inspect;
using nabla::data::LoaderOptions;

namespace {

DataSource csv_source(const std::string& path) {
  DataSource s;
  s.csv = path;
  return s;
}

// Rows of "label,f1,f2,..." as text.
std::string rows_text(const std::vector<std::vector<std::string>>& rows, const std::string& eol = "\n") {
  std::string s;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) s += (i ? "," : "") + r[i];
    s += eol;
  }
  return s;
}

// Every batch of one epoch in file order: x (rows x features) and labels.
void read_all(BatchLoader& loader, std::vector<float>& x, std::vector<int32_t>& y) {
  nabla::data::Batch b;
  loader.start_epoch(0);
  while (loader.next(b)) {
    x.insert(x.end(), b.x, b.x + b.rows * b.features);
    y.insert(y.end(), b.labels, b.labels + b.rows);
  }
}

}  // namespace

TEST_CASE("csv: the MNIST sample matches the IDX test digits it was made from") {
  // data/samples/mnist-test-100.csv: the first 100 digits of data/mnist/test-*, a header row.
  auto info = inspect(csv_source(sample(kMnistCsv)), DataFormat::csv, true);
  CHECK(info.count == 100);
  CHECK(info.features == 784);
  CHECK(info.rows == 1);
  CHECK(info.cols == 784);
  CHECK(info.classes == 10);  // python3: max(labels) + 1 over the 100 rows

  LoaderOptions o;
  o.shuffle = false;
  o.batch_size = 32;
  BatchLoader csv(csv_source(sample(kMnistCsv)), DataFormat::csv, true, o);
  CHECK_FALSE(csv.streaming());
  std::vector<float> x;
  std::vector<int32_t> y;
  read_all(csv, x, y);
  REQUIRE(y.size() == 100);
  REQUIRE(x.size() == 100u * 784u);

  // The IDX files, decompressed here with zlib, not through the code under test.
  Bytes images = gunzip(read_file(repo_file("data/mnist/test-images-idx3-ubyte.gz")));
  Bytes labels = gunzip(read_file(repo_file("data/mnist/test-labels-idx1-ubyte.gz")));
  int mismatches = 0;
  for (size_t i = 0; i < 100; ++i) {
    if (y[i] != labels[8 + i]) ++mismatches;
    for (size_t k = 0; k < 784; ++k)
      if (x[i * 784 + k] != float(images[16 + i * 784 + k] / 255.0)) ++mismatches;
  }
  CHECK(mismatches == 0);
  // python3: the first labels and the pixel sum of the first and the last row
  CHECK(std::vector<int32_t>(y.begin(), y.begin() + 10) == std::vector<int32_t>{9, 9, 6, 0, 1, 1, 3, 1, 6, 0});
  double first = std::accumulate(x.begin(), x.begin() + 784, 0.0) * 255.0;
  double last = std::accumulate(x.end() - 784, x.end(), 0.0) * 255.0;
  CHECK(first == doctest::Approx(20787).epsilon(1e-6));
  CHECK(last == doctest::Approx(24438).epsilon(1e-6));
  CHECK(y.back() == 2);
}

TEST_CASE("csv: the header row") {
  TempDir dir;
  std::string body = rows_text({{"3", "0", "255"}, {"1", "7", "8"}});
  auto with = dir.file("with.csv");
  write_text(with, "label,a,b\n" + body);
  auto without = dir.file("without.csv");
  write_text(without, body);

  CHECK(inspect(csv_source(with), DataFormat::csv, true).count == 2);
  CHECK(inspect(csv_source(without), DataFormat::csv, false).count == 2);
  CHECK(inspect(csv_source(without), DataFormat::csv, false).classes == 4);
  // A header read as data: the error says which line and suggests the setting.
  CHECK(error_of([&] { inspect(csv_source(with), DataFormat::csv, false); }) ==
        with +
            ": line 1, column 1: expected a non-negative integer label, found \"label\" (is line 1 a header? "
            "set data.csv_header to true, or pass --csv-header to nabla eval)");
  // csv_header on a file without one: the first row is the header, one sample fewer.
  CHECK(inspect(csv_source(without), DataFormat::csv, true).count == 1);
  // The header must have as many columns as the rows.
  auto wide = dir.file("wide.csv");
  write_text(wide, "label,a,b,c\n" + body);
  CHECK(error_of([&] { inspect(csv_source(wide), DataFormat::csv, true); }) ==
        wide + ": line 1: the header has 4 columns but the first row (line 2) has 3: they must agree");
  // Nothing after the header, or nothing at all.
  auto only = dir.file("only-header.csv");
  write_text(only, "label,a,b\n");
  CHECK(error_of([&] { inspect(csv_source(only), DataFormat::csv, true); }) ==
        only + ": expected at least one row of data after the header, found none");
  auto empty = dir.file("empty.csv");
  write_text(empty, "");
  CHECK(error_of([&] { inspect(csv_source(empty), DataFormat::csv, true); }) ==
        empty + ": line 1: expected a header row (data.csv_header is true), found the end of the file");
}

TEST_CASE("csv: ragged rows and bad fields name the line and column") {
  TempDir dir;
  auto ragged = dir.file("ragged.csv");
  write_text(ragged, "label,a,b\n1,2,3\n4,5,6\n7,8\n");
  CHECK(error_of([&] { inspect(csv_source(ragged), DataFormat::csv, true); }) ==
        ragged + ": line 4: expected 3 columns (a label and 2 features, as on line 2), found 2");

  auto word = dir.file("word.csv");
  write_text(word, "1,2,3\n4,5,6\n7,8,abc\n");
  CHECK(error_of([&] { inspect(csv_source(word), DataFormat::csv, false); }) ==
        word + ": line 3, column 3: expected a number, found \"abc\"");

  auto hole = dir.file("hole.csv");
  write_text(hole, "1,2,3\n4,,6\n");
  CHECK(error_of([&] { inspect(csv_source(hole), DataFormat::csv, false); }) ==
        hole + ": line 2, column 2: expected a number, found an empty field");

  auto negative = dir.file("negative.csv");
  write_text(negative, "1,2,3\n-4,5,6\n");
  CHECK(error_of([&] { inspect(csv_source(negative), DataFormat::csv, false); }) ==
        negative + ": line 2, column 1: expected a non-negative integer label, found \"-4\"");

  auto fraction = dir.file("fraction.csv");
  write_text(fraction, "1.5,2,3\n");
  CHECK(error_of([&] { inspect(csv_source(fraction), DataFormat::csv, false); }) ==
        fraction + ": line 1, column 1: expected a non-negative integer label, found \"1.5\"");

  // A control byte in a field is written out, not printed: a NUL would end the message there.
  auto nul = dir.file("nul.csv");
  write_text(nul, std::string("1,2,3\n1,\0x,3\n", 14));
  CHECK(error_of([&] { inspect(csv_source(nul), DataFormat::csv, false); }) ==
        nul + ": line 2, column 2: expected a number, found \"\\x00x\"");

  auto infinite = dir.file("inf.csv");
  write_text(infinite, "1,2,inf\n");
  CHECK(error_of([&] { inspect(csv_source(infinite), DataFormat::csv, false); }) ==
        infinite +
            ": line 1, column 3: expected a finite number within float32's range (about ±3.4e38), found "
            "\"inf\"");
  auto beyond = dir.file("beyond.csv");  // a number, but not a float32 one
  write_text(beyond, "1,2,3\n0,-3.5e38,1\n");
  CHECK(error_of([&] { inspect(csv_source(beyond), DataFormat::csv, false); }) ==
        beyond +
            ": line 2, column 2: expected a finite number within float32's range (about ±3.4e38), found "
            "\"-3.5e38\"");

  auto label_only = dir.file("label-only.csv");
  write_text(label_only, "1\n2\n");
  CHECK(error_of([&] { inspect(csv_source(label_only), DataFormat::csv, false); }) ==
        label_only + ": line 1: expected a label and at least one feature, found 1 column");

  CHECK(error_of([&] { inspect(csv_source(dir.file("missing.csv")), DataFormat::csv, false); }) ==
        dir.file("missing.csv") + ": cannot open: No such file or directory");
  CHECK(error_of([&] { inspect(DataSource{}, DataFormat::csv, false); }) ==
        "data: the CSV format needs a csv file, found none");
}

TEST_CASE("csv: floats, CRLF, blank lines, spaces and gzip") {
  TempDir dir;
  // Floats make the features float32; "\r\n", blank lines and spaces around fields are accepted.
  auto path = dir.file("floats.csv");
  write_text(path, "label,x,y\r\n2, 0.5 ,-1.25\r\n\r\n0,3,1e-3\r\n  \r\n1,255,7\r\n");
  CsvReader reader(path, true);
  auto layout = reader.scan();
  CHECK(layout.count == 3);
  CHECK(layout.features == 2);
  CHECK(layout.dtype == Dtype::f32);
  CHECK(layout.classes == 3);

  LoaderOptions o;
  o.shuffle = false;
  o.scale = 2.0;
  BatchLoader loader(csv_source(path), DataFormat::csv, true, o);
  std::vector<float> x;
  std::vector<int32_t> y;
  read_all(loader, x, y);
  CHECK(y == std::vector<int32_t>{2, 0, 1});
  CHECK(x == std::vector<float>{0.25f, -0.625f, 1.5f, float(1e-3f / 2.0), 127.5f, 3.5f});

  // Integers 0..255 only: held as bytes. A gzip CSV reads the same.
  auto ints = dir.file("ints.csv");
  write_text(ints, "5,0,255\n6,1,2");  // no final newline
  CsvReader r2(ints, false);
  CHECK(r2.scan().dtype == Dtype::u8);
  auto gz = dir.write("ints.csv.gz", gzip(read_file(ints)));
  auto info = inspect(csv_source(gz), DataFormat::csv, false);
  CHECK(info.count == 2);
  CHECK(info.classes == 7);
  CHECK(info.labels_seen == 2);  // 5 and 6
}
