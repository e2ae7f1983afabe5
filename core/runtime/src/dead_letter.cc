#include "tributary/core/runtime/dead_letter.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tributary/core/otlp_codec.h"

namespace tributary::core::runtime {

DeadLetterFile::~DeadLetterFile() {
  if (file_ != nullptr) fclose(file_);
}

absl::Status DeadLetterFile::OpenLocked() {
  file_ = fopen(config_.path.c_str(), "ae");
  if (file_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot open dead-letter file ", config_.path, ": ", strerror(errno)));
  }
  struct stat st;
  size_ = fstat(fileno(file_), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return absl::OkStatus();
}

absl::Status DeadLetterFile::Write(const std::string& exporter, const Batch& batch,
                                   const absl::Status& error) noexcept {
  // A batch in wire form is parsed here; one that does not parse cannot be
  // written as JSON and is counted by the caller as not dead-lettered.
  if (absl::Status parsed = batch.Parse(); !parsed.ok()) return parsed;
  std::string line = "{\"time\":";
  AppendJsonString(absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone()), &line);
  line.append(",\"exporter\":");
  AppendJsonString(exporter, &line);
  line.append(",\"signal\":");
  AppendJsonString(SignalName(batch.signal()), &line);
  absl::StrAppend(&line, ",\"records\":", batch.record_count(), ",\"error\":");
  AppendJsonString(error.ToString(), &line);
  absl::StrAppend(&line, ",\"data\":", EncodeOtlpJson(batch), "}\n");
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ != nullptr && config_.max_size.bytes > 0 &&
      size_ + line.size() > config_.max_size.bytes && size_ > 0) {
    fclose(file_);
    file_ = nullptr;
    rename(config_.path.c_str(), (config_.path + ".1").c_str());
  }
  if (file_ == nullptr) {
    if (absl::Status s = OpenLocked(); !s.ok()) return s;
  }
  if (fwrite(line.data(), 1, line.size(), file_) != line.size() || fflush(file_) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot write dead-letter file ", config_.path, ": ", strerror(errno)));
  }
  size_ += line.size();
  return absl::OkStatus();
}

}  // namespace tributary::core::runtime
