#pragma once
// SHA-256 of a file, by OpenSSL's libcrypto (Debian's libssl-dev): the run manifest's fingerprint of
// each data file, so that a later eval or resume can tell that a file changed under the same name.
#include <string>

namespace nabla::io {

// The 64 lowercase hex digits of the file's SHA-256. Throws nabla::Error naming a file it cannot read.
std::string sha256_of_file(const std::string& path);

}  // namespace nabla::io
