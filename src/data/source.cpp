#include "data/source.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include "data/csv.hpp"
#include "data/loader.hpp"
#include "util/error.hpp"

namespace nabla::data {
namespace {

class IdxSource final : public Source {
 public:
  IdxSource(const std::string& images, const std::string& labels)
      : images_(images),
        labels_(labels),
        hi_(read_idx_header(images_, IdxKind::images)),
        hl_(read_idx_header(labels_, IdxKind::labels)) {
    if (hl_.count() != hi_.count())
      throw Error(labels, labels_.where(4),
                  "expected " + std::to_string(hi_.count()) + " labels (as many as " + images + " has images), found " +
                      std::to_string(hl_.count()));
    path_ = images;
    layout_.count = hi_.count();
    layout_.rows = hi_.dims.size() == 3 ? hi_.dims[1] : 1;
    layout_.cols = hi_.dims.size() == 3 ? hi_.dims[2] : hi_.dims[1];
    layout_.features = hi_.record_elements();
    layout_.dtype = hi_.dtype;
  }

  bool random_access() const override { return !images_.gzip() && !labels_.gzip(); }

  void seek(int64_t first) override {
    images_.rewind();
    labels_.rewind();
    int64_t skip_i = hi_.header_bytes + first * hi_.record_bytes();
    int64_t skip_l = hl_.header_bytes + first;
    if (images_.skip(skip_i) != skip_i || labels_.skip(skip_l) != skip_l)
      throw Error(path_, "",
                  "the data ends before sample " + std::to_string(first) + " (did the file change while it was read?)");
    next_ = first;
    label_file_ = first;
    label_pos_ = label_end_ = 0;
  }

  void read(int64_t n, void* x, int32_t* y) override {
    read_idx_records(images_, hi_, next_, n, x);
    next_ += n;
    // Labels come through a small read-ahead buffer: one inflate call per label would be slow.
    while (n > 0) {
      if (label_pos_ == label_end_) {
        int64_t want = std::min<int64_t>(int64_t(label_buf_.size()), hl_.count() - label_file_);
        require(want > 0, "IdxSource::read: past the last label");
        read_idx_records(labels_, hl_, label_file_, want, label_buf_.data());
        label_file_ += want;
        label_pos_ = 0;
        label_end_ = want;
      }
      int64_t take = std::min(n, label_end_ - label_pos_);
      for (int64_t i = 0; i < take; ++i) y[i] = label_buf_[size_t(label_pos_ + i)];
      label_pos_ += take;
      y += take;
      n -= take;
    }
  }

  void read_at(int64_t first, int64_t n, void* x, int32_t* y) override {
    images_.pread_exact(x, n * hi_.record_bytes(), hi_.header_bytes + first * hi_.record_bytes());
    if (hi_.dtype == Dtype::f32) {
      float32_from_big_endian(x, n * hi_.record_elements());
      expect_finite_f32(images_, x, n * hi_.record_elements(), hi_.header_bytes + first * hi_.record_bytes());
    }
    for (int64_t done = 0; done < n;) {
      int64_t take = std::min<int64_t>(n - done, int64_t(label_buf_.size()));
      labels_.pread_exact(label_buf_.data(), take, hl_.header_bytes + first + done);
      for (int64_t i = 0; i < take; ++i) y[done + i] = label_buf_[size_t(i)];
      done += take;
    }
    label_pos_ = label_end_ = 0;  // the read-ahead buffer was used as scratch
  }

  void finish() override {
    expect_idx_end(images_, hi_);
    expect_idx_end(labels_, hl_);
  }

  int64_t check_all(int64_t& seen) override {
    // Labels: all of them, for the class count. Images: raw sizes were checked when opened; gzip
    // data is inflated to the end, which checks its length and CRC.
    seek(0);
    int64_t max_label = -1;
    bool present[256] = {};  // u8 labels
    for (int64_t done = 0; done < hl_.count();) {
      int64_t take = std::min<int64_t>(hl_.count() - done, int64_t(label_buf_.size()));
      read_idx_records(labels_, hl_, done, take, label_buf_.data());
      for (int64_t i = 0; i < take; ++i) {
        max_label = std::max<int64_t>(max_label, label_buf_[size_t(i)]);
        present[label_buf_[size_t(i)]] = true;
      }
      done += take;
    }
    seen = std::count(std::begin(present), std::end(present), true);
    expect_idx_end(labels_, hl_);
    if (images_.gzip()) {
      int64_t want = hi_.count() * hi_.record_bytes();
      int64_t got = images_.skip(want);
      if (got < want)
        throw Error(images_.path(), images_.where(images_.offset()),
                    "expected " + std::to_string(hi_.total_bytes()) + " bytes (a " + std::to_string(hi_.header_bytes) +
                        "-byte header and " + std::to_string(hi_.count()) +
                        " images), found the end of the data "
                        "after image " +
                        std::to_string(got / hi_.record_bytes()) + " (truncated?)");
      expect_idx_end(images_, hi_);
    }
    seek(0);
    return max_label + 1;
  }

  int64_t buffer_bytes() const override {
    return images_.buffer_bytes() + labels_.buffer_bytes() + int64_t(label_buf_.size());
  }

 private:
  InputFile images_, labels_;
  IdxHeader hi_, hl_;
  int64_t next_ = 0;                       // the next sample read() returns
  std::array<uint8_t, 4096> label_buf_{};  // labels read ahead: [label_pos_, label_end_)
  int64_t label_file_ = 0;                 // labels read from the file so far
  int64_t label_pos_ = 0, label_end_ = 0;
};

class CsvSource final : public Source {
 public:
  CsvSource(const std::string& path, bool header) : reader_(path, header) {
    layout_ = reader_.scan();
    reader_.rewind();
    path_ = path;
    classes_ = layout_.classes;
  }

  bool random_access() const override { return false; }

  void seek(int64_t first) override {
    reader_.rewind();
    if (!reader_.skip_rows(first)) changed();
  }

  void read(int64_t n, void* x, int32_t* y) override {
    auto* p = static_cast<uint8_t*>(x);
    for (int64_t i = 0; i < n; ++i, p += layout_.sample_bytes())
      if (!reader_.next_row(layout_.dtype, layout_.features, p, y[i])) changed();
  }

  void read_at(int64_t, int64_t, void*, int32_t*) override {
    throw InternalError("CsvSource::read_at: random access to a CSV file");
  }

  void finish() override {
    if (reader_.skip_rows(1)) changed();
  }

  int64_t check_all(int64_t& seen) override {  // the constructor's scan read every row
    seen = layout_.labels_seen;
    return classes_;
  }

  int64_t buffer_bytes() const override { return reader_.buffer_bytes(); }

 private:
  [[noreturn]] void changed() const {
    throw Error(path_, "",
                "expected " + std::to_string(layout_.count) +
                    " rows of data as when the file was opened, found a different number "
                    "(did the file change while it was read?)");
  }
  CsvReader reader_;
  int64_t classes_ = 0;
};

}  // namespace

std::unique_ptr<Source> open_source(const DataSource& source, DataFormat format, bool csv_header) {
  if (format == DataFormat::idx) {
    if (source.images.empty() || source.labels.empty())
      throw Error("data: the IDX format needs an images and a labels file, found " +
                  std::string(source.images.empty() ? "no images file" : "no labels file"));
    return std::make_unique<IdxSource>(source.images, source.labels);
  }
  if (source.csv.empty()) throw Error("data: the CSV format needs a csv file, found none");
  return std::make_unique<CsvSource>(source.csv, csv_header);
}

Info inspect(const DataSource& source, DataFormat format, bool csv_header) {
  std::unique_ptr<Source> s = open_source(source, format, csv_header);
  int64_t seen = 0;
  const int64_t classes = s->check_all(seen);
  Info info = s->layout();
  info.classes = classes;
  info.labels_seen = seen;
  return info;
}

}  // namespace nabla::data
