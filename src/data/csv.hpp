#pragma once
// MNIST-style CSV: one sample a row, the label first (a non-negative integer), then the features
// (integers or decimal numbers), comma-separated; an optional header row; blank lines are skipped;
// "\n" or "\r\n" line ends; the file may be gzip (named .gz). Every row must have the same number of
// columns. Errors name the line (1-based, counting every line) and the column (1-based, the label is
// column 1).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/file.hpp"
#include "data/info.hpp"

namespace nabla::data {

class CsvReader {
 public:
  CsvReader(const std::string& path, bool header);

  // One pass over the whole file, checking every row. Leaves the reader at the end.
  Info scan();
  // Back to the first row of data.
  void rewind();
  // Skips n rows of data (without parsing them); false if the file ends first.
  bool skip_rows(int64_t n);
  // Parses the next row of data: `features` values of `dtype` into x, its label into `label`.
  // False at the end of the file.
  bool next_row(Dtype dtype, int64_t features, void* x, int32_t& label);

  const std::string& path() const { return file_.path(); }
  int64_t buffer_bytes() const { return int64_t(buf_.capacity()) + file_.buffer_bytes(); }

 private:
  int64_t restart();  // to the start of the data past the header; returns the header's column count
  bool next_line(std::string_view& line);       // the next line, without its "\r\n"
  bool next_data_line(std::string_view& line);  // the next non-blank line
  [[noreturn]] void fail(int64_t column, const std::string& what) const;
  std::string header_hint() const;  // " (is line 1 a header? ...)" where that may be so, else ""

  InputFile file_;
  bool header_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  int64_t line_ = 0;  // the number of the line last returned
};

}  // namespace nabla::data
