#include "exporters/file/file_exporter.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/compress/zstd.h"
#include "tributary/core/byte_pool.h"
#include "tributary/core/otlp_codec.h"
#include "tributary/core/registry.h"
#include "tributary/core/wire.h"

namespace tributary::exporters::file {

FileExporter::FileExporter(FileExporterConfig config) : config_(std::move(config)) {}
FileExporter::~FileExporter() { Shutdown(core::Clock::now()); }

absl::Status FileExporter::Open(bool truncate) {
  fd_ = ::open(config_.path.c_str(),
               O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0644);
  if (fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", config_.path, ": ", strerror(errno)));
  }
  struct stat st;
  size_ = fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return absl::OkStatus();
}

absl::Status FileExporter::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (config_.create_directory) {
    const mode_t mode = static_cast<mode_t>(std::stoul(config_.directory_permissions, nullptr, 8));
    // Each missing directory on the way, as `mkdir -p`.
    for (size_t slash = config_.path.find('/', 1); slash != std::string::npos;
         slash = config_.path.find('/', slash + 1)) {
      const std::string dir = config_.path.substr(0, slash);
      if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
        return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", strerror(errno)));
      }
    }
  }
  return Open(/*truncate=*/!config_.append);
}

void FileExporter::Shutdown(core::Deadline) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

absl::Status FileExporter::Rotate() {
  ::close(fd_);
  fd_ = -1;
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  tm when;
  if (config_.rotation.localtime) {
    localtime_r(&now.tv_sec, &when);
  } else {
    gmtime_r(&now.tv_sec, &when);
  }
  char stamp[64];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H-%M-%S", &when);
  std::string rotated = absl::StrCat(config_.path, ".", stamp, ".", now.tv_nsec / 1000000);
  if (::rename(config_.path.c_str(), rotated.c_str()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot rotate ", config_.path, ": ", strerror(errno)));
  }
  if (config_.rotation.max_backups > 0 || config_.rotation.max_days > 0) {
    // Backups sort by their timestamp suffix; remove the oldest beyond the
    // limit, and those last written more than max_days ago.
    std::string dir = ".";
    std::string base = config_.path;
    if (size_t slash = config_.path.rfind('/'); slash != std::string::npos) {
      dir = config_.path.substr(0, slash);
      base = config_.path.substr(slash + 1);
    }
    std::vector<std::string> backups;
    if (DIR* d = opendir(dir.c_str())) {
      while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name.size() > base.size() + 1 && name.compare(0, base.size() + 1, base + ".") == 0) {
          backups.push_back(name);
        }
      }
      closedir(d);
    }
    std::sort(backups.begin(), backups.end());
    if (config_.rotation.max_days > 0) {
      const time_t oldest = now.tv_sec - config_.rotation.max_days * 86400;
      std::erase_if(backups, [&](const std::string& name) {
        struct stat st;
        const std::string full = dir + "/" + name;
        if (::stat(full.c_str(), &st) != 0 || st.st_mtime >= oldest) return false;
        ::unlink(full.c_str());
        return true;
      });
    }
    while (config_.rotation.max_backups > 0 &&
           backups.size() > static_cast<size_t>(config_.rotation.max_backups)) {
      ::unlink((dir + "/" + backups.front()).c_str());
      backups.erase(backups.begin());
    }
  }
  return Open();
}

absl::Status FileExporter::Export(const core::Batch& batch, core::ExportReport&) noexcept {
  // Written from the serialized request (for a batch read back from the
  // buffer, the bytes as they are, without parsing); OTLP/JSON is usually
  // two to three times the size of the protobuf form.
  std::string scratch;
  const std::string_view request = core::wire::SerializedRequest(batch, &scratch);
  const bool json = config_.format == "json";
  std::string line = core::byte_pool::TakeEmpty(json ? 2 * request.size() + 1 : 0);
  absl::Status status;
  if (json && !core::AppendOtlpJson(batch.signal(), request, &line)) {
    status = absl::DataLossError("the batch's serialized records do not parse");
  } else if (config_.compression.empty() && json) {
    line.push_back('\n');
    status = Write(line);
  } else {
    // A length-prefixed message: the request's bytes, or its JSON, or either
    // as a zstd frame.
    std::string_view payload = json ? std::string_view(line) : request;
    std::string packed;
    if (!config_.compression.empty()) {
      const int level = static_cast<int>(config_.compression_params.level);
      packed = common::compress::Zstd(payload, level > 0 ? level : common::compress::kZstdDefault);
      payload = packed;
    }
    std::string framed(4, '\0');
    const uint32_t size = static_cast<uint32_t>(payload.size());
    for (int i = 0; i < 4; ++i) framed[i] = static_cast<char>(size >> (24 - 8 * i));
    framed.append(payload);
    status = Write(framed);
  }
  core::byte_pool::Give(std::move(line));
  return status;
}

absl::Status FileExporter::Write(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ < 0) {
    if (absl::Status s = Open(); !s.ok()) return s;
  }
  const uint64_t limit = static_cast<uint64_t>(config_.rotation.max_megabytes) << 20;
  if (limit > 0 && size_ > 0 && size_ + line.size() > limit) {
    if (absl::Status s = Rotate(); !s.ok()) return s;
  }
  size_t written = 0;
  while (written < line.size()) {
    ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      // No half line stays behind for the retry to follow.
      if (written > 0 && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
        ::close(fd_);
        fd_ = -1;
      }
      return absl::UnavailableError(absl::StrCat("write to ", config_.path, ": ", strerror(error)));
    }
    written += static_cast<size_t>(n);
  }
  size_ += line.size();
  return absl::OkStatus();
}

}  // namespace tributary::exporters::file

namespace tributary {
void RegisterExporterFile(core::Registry& registry) {
  using exporters::file::FileExporterConfig;
  registry.Add(core::MakeFactory<core::Exporter, FileExporterConfig>(
      "file", {core::Signal::kTraces, core::Signal::kMetrics, core::Signal::kLogs},
      "Writes OTLP/JSON, one export request per line (or length-prefixed protobuf, zstd on "
      "request), with size-based rotation.",
      [](const core::CreateContext&,
         const FileExporterConfig& config) -> absl::StatusOr<std::unique_ptr<core::Exporter>> {
        return std::make_unique<exporters::file::FileExporter>(config);
      }));
}
}  // namespace tributary
