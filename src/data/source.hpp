#pragma once
// One split on disk, IDX images + labels or one CSV file, read sample by sample: the layer between
// the file formats and the BatchLoader. Features come out as held in memory (Dtype: u8 as stored,
// or native float32), labels as int32.
#include <cstdint>
#include <memory>
#include <string>

#include "config/types.hpp"
#include "data/idx.hpp"

namespace nabla::data {

class Source {
 public:
  virtual ~Source() = default;
  // The source's samples and their shape (classes is CSV's from its scan, 0 for IDX until check_all).
  const Info& layout() const { return layout_; }
  const std::string& path() const { return path_; }  // the images or CSV file, for messages

  // True for raw IDX, which read_at() can read anywhere; gzip and CSV are read front to back.
  virtual bool random_access() const = 0;
  // Sequential reading continues at sample `first` (gzip and CSV: from the start of the file again).
  virtual void seek(int64_t first) = 0;
  // The next n samples: features into x (n x features of the Dtype), labels into y.
  virtual void read(int64_t n, void* x, int32_t* y) = 0;
  // random_access() only: the samples [first, first + n).
  virtual void read_at(int64_t first, int64_t n, void* x, int32_t* y) = 0;
  // After the last sample was read: checks that nothing follows it (gzip: and the CRCs).
  virtual void finish() = 0;
  // Checks every byte or row of the source; returns max label + 1, and in `seen` how many labels of
  // 0 .. max have a sample.
  virtual int64_t check_all(int64_t& seen) = 0;
  // The memory the reader holds (file buffers, zlib state), for the loader's budget.
  virtual int64_t buffer_bytes() const = 0;

 protected:
  Info layout_;
  std::string path_;
};

// Opens and checks the headers (IDX: magic, dimensions, raw file sizes, equal counts; CSV: a full scan).
std::unique_ptr<Source> open_source(const DataSource& source, DataFormat format, bool csv_header);

}  // namespace nabla::data
