#pragma once
// What every fuzz target shares: the input written to a file of its own (nabla's readers take
// paths, as the CLI gives them), and the one outcome allowed besides success: nabla::Error, the
// clean message. Anything else (another exception, a sanitizer report, a hang, memory beyond
// libFuzzer's -rss_limit_mb) is a finding.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "data/source.hpp"

namespace fuzz {

// `bytes` as the file NAME in a folder of this process's own (made on the first call, under $TMPDIR);
// NAME.gz when they begin as gzip does, since nabla requires a gzip file's name to say so.
inline std::string write_file(const std::string& name, const uint8_t* bytes, size_t size) {
  static const std::string dir = [] {
    const char* tmp = getenv("TMPDIR");
    std::string t = std::string(tmp && *tmp ? tmp : "/tmp") + "/nabla-fuzz-XXXXXX";
    if (!mkdtemp(t.data())) abort();
    return t;
  }();
  const bool gzip = size >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
  const std::string path = dir + "/" + name + (gzip ? ".gz" : "");
  FILE* f = fopen(path.c_str(), "wb");
  if (!f || (size && fwrite(bytes, 1, size, f) != size) || fclose(f) != 0) abort();
  return path;
}

inline std::string write_file(const std::string& name, const std::string& bytes) {
  return write_file(name, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// Every sample of an opened source, in order, in batches as the loader reads them, then the check
// that nothing follows the last (after check_all, whose full read makes the count real).
inline void read_all(nabla::data::Source& source) {
  int64_t seen = 0;
  source.check_all(seen);
  source.seek(0);
  const nabla::data::Info& info = source.layout();
  const int64_t batch = 16;
  std::vector<char> x(size_t(batch * info.sample_bytes()));
  std::vector<int32_t> y(static_cast<size_t>(batch));
  for (int64_t done = 0; done < info.count; done += batch)
    source.read(std::min(batch, info.count - done), x.data(), y.data());
  source.finish();
}

}  // namespace fuzz
