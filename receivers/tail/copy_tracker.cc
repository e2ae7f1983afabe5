#include "receivers/tail/copy_tracker.h"

#include <algorithm>

#include "receivers/tail/file_identity.h"

namespace tributary::receivers::tail {

void CopyTracker::Truncated(Origin origin, SteadyTime now) {
  truncations_.push_back(Truncation{std::move(origin), now});
  if (truncations_.size() > 256) truncations_.pop_front();
}

void CopyTracker::Expire(SteadyTime now) {
  while (!truncations_.empty() && now - truncations_.front().at > kTruncationMemory) {
    truncations_.pop_front();
  }
}

std::optional<CopyTracker::Origin> CopyTracker::CopyOf(int fd, const std::string& path,
                                                       uint64_t size,
                                                       const std::vector<Origin>& known) const {
  auto copy_of = [&](const Origin& o) {
    return o.fingerprint_size >= kMinCopyFingerprint && o.fingerprint_size <= size &&
           CopyName(o.path, path) && Fingerprint(fd, o.fingerprint_size) == o.fingerprint;
  };
  for (const Origin& o : known) {
    if (copy_of(o)) return o;
  }
  for (const Truncation& t : truncations_) {
    if (copy_of(t.origin)) return t.origin;
  }
  return std::nullopt;
}

bool CopyTracker::InProgress(const std::string& path, uint64_t size,
                             const std::vector<Origin>& known, SteadyTime now) {
  // Shorter than either the original's fingerprint or the offset reading
  // would start at: still being written.
  auto short_copy = [&](const Origin& o) {
    return size < std::max<uint64_t>(o.fingerprint_size, o.offset) && CopyName(o.path, path);
  };
  bool maybe = std::any_of(known.begin(), known.end(), short_copy);
  for (const Truncation& t : truncations_) maybe |= short_copy(t.origin);
  if (!maybe) {
    deferred_.erase(path);
    return false;
  }
  auto [it, inserted] = deferred_.emplace(path, now);
  if (now - it->second > kCopyWait) {
    deferred_.erase(it);
    return false;
  }
  return true;
}

}  // namespace tributary::receivers::tail
