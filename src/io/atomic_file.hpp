#pragma once
// Replacing a file so that a crash never leaves half of it under the good name: the bytes go to a
// temporary name in the same folder, are flushed and fsync'd, then renamed over the target, and the
// folder is fsync'd so the rename itself is durable. Until the rename the old file is untouched.
// The temporary name is new (O_EXCL, a random part) and never a link; a replaced file keeps its mode.
#include <string>
#include <string_view>

namespace nabla::io {

// Writes `bytes` to `path` atomically as above. Throws nabla::Error naming the path (and the
// temporary file, which is removed), with the system's reason: "No space left on device".
void write_atomically(const std::string& path, std::string_view bytes);

// Whether a file name is one of write_atomically's temporary names: .NAME.tmp-XXXXXXXX (8 hex digits).
bool is_temporary_name(const std::string& name);

// Removes the temporary files that writers killed before their rename left in `folder`. Only for a
// folder no other process writes to: the run folder, under its lock.
void remove_stale_temporaries(const std::string& folder);

}  // namespace nabla::io
