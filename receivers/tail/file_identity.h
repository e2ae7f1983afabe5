#ifndef TRIBUTARY_RECEIVERS_TAIL_FILE_IDENTITY_H_
#define TRIBUTARY_RECEIVERS_TAIL_FILE_IDENTITY_H_

#include <cstdint>
#include <optional>
#include <string_view>

// How a log file is told apart from another that took its name or inode:
// device and inode, checked against a fingerprint of its first bytes; and
// how the copy that copytruncate rotation makes is recognised by its name.
namespace tributary::receivers::tail {

// Bytes a fingerprint covers at most.
inline constexpr uint32_t kFingerprintSize = 1024;
// A file is taken for the copy of a rotating one only on this much evidence.
inline constexpr uint32_t kMinCopyFingerprint = 64;

// CRC32C of the first `size` bytes of fd (at most kFingerprintSize), or
// nullopt if it has fewer.
std::optional<uint32_t> Fingerprint(int fd, uint32_t size);

// The directory part of `path` ("." for a bare name, "/" for the root).
std::string_view DirName(std::string_view path);
std::string_view BaseName(std::string_view path);

// Named like a rotated copy of `original`: in the same directory, with a
// name that extends the original's ("app.log" -> "app.log.1").
bool CopyName(std::string_view original, std::string_view path);

}  // namespace tributary::receivers::tail

#endif  // TRIBUTARY_RECEIVERS_TAIL_FILE_IDENTITY_H_
