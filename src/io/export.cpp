#include "io/export.hpp"

#include "io/atomic_file.hpp"

namespace nabla::io {

void export_checkpoint(const Checkpoint& ck, ExportFormat format, const std::string& output) {
  write_atomically(output, format == ExportFormat::onnx ? onnx_model(ck) : npz_archive(ck));
}

}  // namespace nabla::io
