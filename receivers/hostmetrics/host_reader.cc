#include "receivers/hostmetrics/host_reader.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "re2/re2.h"
#include "tributary/core/attributes.h"

namespace tributary::receivers::hostmetrics {

namespace {

namespace pm = opentelemetry::proto::metrics::v1;

// `rel` under the folder `root`.
std::string UnderRoot(const std::string& root, std::string_view rel) {
  std::string path = root;
  if (path.empty() || path.back() != '/') path.push_back('/');
  path.append(rel);
  return path;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

// Whitespace-separated fields.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find(sep, start);
    if (end == std::string_view::npos) {
      out.push_back(text.substr(start));
      break;
    }
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

double Number(std::string_view s) {
  double d = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  return ec == std::errc() ? d : 0;
}

// Octal escapes of /proc/mounts (`\040` for a space).
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const std::string_view oct = s.substr(i + 1, 3);
      if (oct.size() == 3 && oct.find_first_not_of("01234567") == std::string_view::npos) {
        out.push_back(static_cast<char>((oct[0] - '0') * 64 + (oct[1] - '0') * 8 + (oct[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

pm::NumberDataPoint* HostReader::Builder::Point(const std::string& name, const char* help,
                                                bool counter, const Labels& labels) {
  pm::Metric*& m = metrics_[name];
  if (m == nullptr) {
    m = scope_->add_metrics();
    m->set_name(name);
    m->set_description(help);
    if (counter) {
      m->mutable_sum()->set_is_monotonic(true);
      m->mutable_sum()->set_aggregation_temporality(pm::AGGREGATION_TEMPORALITY_CUMULATIVE);
    } else {
      m->mutable_gauge();
    }
  }
  pm::NumberDataPoint* p =
      counter ? m->mutable_sum()->add_data_points() : m->mutable_gauge()->add_data_points();
  p->set_time_unix_nano(now_ns_);
  if (counter) p->set_start_time_unix_nano(start_ns_);
  core::AddStringAttributes(p->mutable_attributes(), labels);
  return p;
}

void HostReader::Builder::Counter(const std::string& name, const char* help, double value,
                                  const Labels& labels) {
  Point(name, help, true, labels)->set_as_double(value);
}

void HostReader::Builder::Gauge(const std::string& name, const char* help, double value,
                                const Labels& labels) {
  Point(name, help, false, labels)->set_as_double(value);
}

HostReader::HostReader(Options options) : options_(std::move(options)) {
  disk_exclude_ = std::make_unique<re2::RE2>(options_.disk_device_exclude);
  fstype_exclude_ = std::make_unique<re2::RE2>(options_.filesystem_fstype_exclude);
  mount_exclude_ = std::make_unique<re2::RE2>(options_.filesystem_mount_exclude);
  net_exclude_ = std::make_unique<re2::RE2>(options_.network_device_exclude);
  clock_ticks_ = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::string stat;
  if (ReadFile(Path("proc/stat"), &stat)) {
    for (std::string_view line : Split(stat, '\n')) {
      const auto f = Fields(line);
      if (f.size() == 2 && f[0] == "btime")
        boot_ns_ = static_cast<uint64_t>(Number(f[1])) * 1000000000ull;
    }
  }
}

HostReader::~HostReader() = default;

std::string HostReader::Path(std::string_view rel) const { return UnderRoot(options_.root, rel); }

bool HostReader::Enabled(std::string_view collector) const {
  if (options_.collectors.empty()) return true;
  for (const std::string& c : options_.collectors) {
    if (c == collector) return true;
  }
  return false;
}

void HostReader::ParseStat(std::string_view text, double clock_ticks, Builder& b) {
  static const char* kModes[] = {"user",   "nice", "system",  "idle",
                                 "iowait", "irq",  "softirq", "steal"};
  for (std::string_view line : Split(text, '\n')) {
    const auto f = Fields(line);
    if (f.empty()) continue;
    if (f[0].size() > 3 && f[0].substr(0, 3) == "cpu") {
      const std::string cpu(f[0].substr(3));
      for (size_t i = 0; i < 8 && i + 1 < f.size(); ++i) {
        b.Counter("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.",
                  Number(f[i + 1]) / clock_ticks, {{"cpu", cpu}, {"mode", kModes[i]}});
      }
      if (f.size() > 10) {
        b.Counter("node_cpu_guest_seconds_total",
                  "Seconds the CPUs spent in guests (VMs) for each mode.",
                  Number(f[9]) / clock_ticks, {{"cpu", cpu}, {"mode", "user"}});
        b.Counter("node_cpu_guest_seconds_total",
                  "Seconds the CPUs spent in guests (VMs) for each mode.",
                  Number(f[10]) / clock_ticks, {{"cpu", cpu}, {"mode", "nice"}});
      }
    } else if (f[0] == "ctxt" && f.size() > 1) {
      b.Counter("node_context_switches_total", "Total number of context switches.", Number(f[1]));
    } else if (f[0] == "intr" && f.size() > 1) {
      b.Counter("node_intr_total", "Total number of interrupts serviced.", Number(f[1]));
    } else if (f[0] == "processes" && f.size() > 1) {
      b.Counter("node_forks_total", "Total number of forks.", Number(f[1]));
    } else if (f[0] == "btime" && f.size() > 1) {
      b.Gauge("node_boot_time_seconds", "Node boot time, in unixtime.", Number(f[1]));
    } else if (f[0] == "procs_running" && f.size() > 1) {
      b.Gauge("node_procs_running", "Number of processes in runnable state.", Number(f[1]));
    } else if (f[0] == "procs_blocked" && f.size() > 1) {
      b.Gauge("node_procs_blocked", "Number of processes blocked waiting for I/O to complete.",
              Number(f[1]));
    }
  }
}

void HostReader::ParseMeminfo(std::string_view text, Builder& b) {
  for (std::string_view line : Split(text, '\n')) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string field;
    for (char c : line.substr(0, colon)) {
      if (c == '(') {
        field.push_back('_');
      } else if (c != ')') {
        field.push_back(c);
      }
    }
    const auto f = Fields(line.substr(colon + 1));
    if (f.empty()) continue;
    double value = Number(f[0]);
    std::string name = "node_memory_" + field;
    if (f.size() > 1 && f[1] == "kB") {
      value *= 1024;
      name += "_bytes";
    }
    b.Gauge(name, "Memory information field, from /proc/meminfo.", value);
  }
}

void HostReader::ParseLoadavg(std::string_view text, Builder& b) {
  const auto f = Fields(text);
  if (f.size() < 3) return;
  b.Gauge("node_load1", "1m load average.", Number(f[0]));
  b.Gauge("node_load5", "5m load average.", Number(f[1]));
  b.Gauge("node_load15", "15m load average.", Number(f[2]));
}

void HostReader::ParseDiskstats(std::string_view text, Builder& b) const {
  for (std::string_view line : Split(text, '\n')) {
    const auto f = Fields(line);
    if (f.size() < 14) continue;
    const std::string device(f[2]);
    if (!options_.disk_device_exclude.empty() && re2::RE2::FullMatch(device, *disk_exclude_))
      continue;
    const Builder::Labels l = {{"device", device}};
    b.Counter("node_disk_reads_completed_total",
              "The total number of reads completed successfully.", Number(f[3]), l);
    b.Counter("node_disk_reads_merged_total", "The total number of reads merged.", Number(f[4]), l);
    b.Counter("node_disk_read_bytes_total", "The total number of bytes read successfully.",
              Number(f[5]) * 512, l);
    b.Counter("node_disk_read_time_seconds_total",
              "The total number of seconds spent by all reads.", Number(f[6]) / 1000, l);
    b.Counter("node_disk_writes_completed_total",
              "The total number of writes completed successfully.", Number(f[7]), l);
    b.Counter("node_disk_writes_merged_total", "The number of writes merged.", Number(f[8]), l);
    b.Counter("node_disk_written_bytes_total", "The total number of bytes written successfully.",
              Number(f[9]) * 512, l);
    b.Counter("node_disk_write_time_seconds_total",
              "This is the total number of seconds spent by all writes.", Number(f[10]) / 1000, l);
    b.Gauge("node_disk_io_now", "The number of I/Os currently in progress.", Number(f[11]), l);
    b.Counter("node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.",
              Number(f[12]) / 1000, l);
    b.Counter("node_disk_io_time_weighted_seconds_total",
              "The weighted # of seconds spent doing I/Os.", Number(f[13]) / 1000, l);
  }
}

void HostReader::ParseNetDev(std::string_view text, Builder& b) const {
  static const char* kReceive[] = {"bytes", "packets", "errs",       "drop",
                                   "fifo",  "frame",   "compressed", "multicast"};
  static const char* kTransmit[] = {"bytes", "packets", "errs",    "drop",
                                    "fifo",  "colls",   "carrier", "compressed"};
  for (std::string_view line : Split(text, '\n')) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const auto name = Fields(line.substr(0, colon));
    const auto f = Fields(line.substr(colon + 1));
    if (name.size() != 1 || f.size() < 16) continue;
    if (!options_.network_device_exclude.empty() &&
        re2::RE2::PartialMatch(std::string(name[0]), *net_exclude_)) {
      continue;
    }
    const Builder::Labels l = {{"device", std::string(name[0])}};
    for (int i = 0; i < 8; ++i) {
      b.Counter(absl::StrCat("node_network_receive_", kReceive[i], "_total"),
                "Network device statistic, from /proc/net/dev.", Number(f[i]), l);
      b.Counter(absl::StrCat("node_network_transmit_", kTransmit[i], "_total"),
                "Network device statistic, from /proc/net/dev.", Number(f[i + 8]), l);
    }
  }
}

void HostReader::ParsePressure(std::string_view resource, std::string_view text, Builder& b) {
  for (std::string_view line : Split(text, '\n')) {
    const auto f = Fields(line);
    if (f.empty()) continue;
    double total = -1;
    for (std::string_view kv : f) {
      if (kv.substr(0, 6) == "total=") total = Number(kv.substr(6)) / 1e6;
    }
    if (total < 0) continue;
    if (f[0] == "some") {
      b.Counter("node_pressure_" + std::string(resource) + "_waiting_seconds_total",
                "Total time in seconds that processes have waited for the resource.", total);
    } else if (f[0] == "full" && resource != "cpu") {
      b.Counter("node_pressure_" + std::string(resource) + "_stalled_seconds_total",
                "Total time in seconds no process could make progress for the resource.", total);
    }
  }
}

void HostReader::CollectFilesystems(Builder& b, std::vector<std::string>* errors) const {
  std::string mounts;
  if (!ReadFile(Path("proc/1/mounts"), &mounts) && !ReadFile(Path("proc/mounts"), &mounts)) {
    errors->push_back("filesystem: cannot read proc/1/mounts");
    return;
  }
  std::map<std::string, bool> seen;  // mount points, first entry wins
  for (std::string_view line : Split(mounts, '\n')) {
    const auto f = Fields(line);
    if (f.size() < 4) continue;
    const std::string device = Unescape(f[0]);
    const std::string mountpoint = Unescape(f[1]);
    const std::string fstype(f[2]);
    if (re2::RE2::PartialMatch(fstype, *fstype_exclude_) ||
        re2::RE2::PartialMatch(mountpoint, *mount_exclude_) || seen.count(mountpoint)) {
      continue;
    }
    seen[mountpoint] = true;
    struct statvfs st {};
    if (statvfs(Path(mountpoint.substr(mountpoint.front() == '/' ? 1 : 0)).c_str(), &st) != 0) {
      continue;
    }
    const Builder::Labels l = {{"device", device}, {"fstype", fstype}, {"mountpoint", mountpoint}};
    const double bsize = static_cast<double>(st.f_frsize);
    b.Gauge("node_filesystem_size_bytes", "Filesystem size in bytes.",
            static_cast<double>(st.f_blocks) * bsize, l);
    b.Gauge("node_filesystem_free_bytes", "Filesystem free space in bytes.",
            static_cast<double>(st.f_bfree) * bsize, l);
    b.Gauge("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.",
            static_cast<double>(st.f_bavail) * bsize, l);
    b.Gauge("node_filesystem_files", "Filesystem total file nodes.",
            static_cast<double>(st.f_files), l);
    b.Gauge("node_filesystem_files_free", "Filesystem total free file nodes.",
            static_cast<double>(st.f_ffree), l);
    bool ro = false;
    for (std::string_view o : Split(f[3], ',')) ro = ro || o == "ro";
    b.Gauge("node_filesystem_readonly", "Filesystem read-only status.", ro ? 1 : 0, l);
  }
}

std::string HostReader::NodeName(const std::string& root, const char* k8s_node_name) {
  if (k8s_node_name != nullptr && *k8s_node_name != '\0') return k8s_node_name;
  std::string text;
  if (ReadFile(UnderRoot(root, "etc/hostname"), &text)) {
    text.resize(std::min(text.size(), text.find('\n')));
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
      text.pop_back();
    }
    if (!text.empty()) return text;
  }
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0) return name;
  return "";
}

void HostReader::Collect(uint64_t now_ns, pm::ScopeMetrics* out, std::vector<std::string>* errors) {
  Builder b(out, now_ns, boot_ns_);
  std::string text;
  auto read = [&](const char* collector, const char* rel) {
    if (ReadFile(Path(rel), &text)) return true;
    errors->push_back(absl::StrCat(collector, ": cannot read ", Path(rel)));
    return false;
  };
  if ((Enabled("cpu") || Enabled("stat")) && read("cpu", "proc/stat"))
    ParseStat(text, clock_ticks_, b);
  if (Enabled("memory") && read("memory", "proc/meminfo")) ParseMeminfo(text, b);
  if (Enabled("load") && read("load", "proc/loadavg")) ParseLoadavg(text, b);
  if (Enabled("disk") && read("disk", "proc/diskstats")) ParseDiskstats(text, b);
  // proc/net/dev is the reader's network namespace (a pod's, in a container);
  // the host's is that of its pid 1.
  if (Enabled("network") &&
      (ReadFile(Path("proc/1/net/dev"), &text) || read("network", "proc/net/dev"))) {
    ParseNetDev(text, b);
  }
  if (Enabled("filesystem")) CollectFilesystems(b, errors);
  if (Enabled("pressure")) {
    for (const char* r : {"cpu", "io", "memory"}) {
      // Kernels without PSI have no such files: nothing to report, no error.
      if (ReadFile(Path(absl::StrCat("proc/pressure/", r)), &text)) ParsePressure(r, text, b);
    }
  }
}

}  // namespace tributary::receivers::hostmetrics
