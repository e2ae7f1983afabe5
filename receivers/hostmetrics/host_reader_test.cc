#include "receivers/hostmetrics/host_reader.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "gtest/gtest.h"
#include "re2/re2.h"
#include "receivers/hostmetrics/hostmetrics_receiver.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::receivers::hostmetrics {
namespace {

namespace pm = opentelemetry::proto::metrics::v1;

// name{label=value,...} -> value, for the points of one scope.
std::map<std::string, double> Points(const pm::ScopeMetrics& scope) {
  std::map<std::string, double> out;
  for (const auto& m : scope.metrics()) {
    const auto& points = m.has_sum() ? m.sum().data_points() : m.gauge().data_points();
    for (const auto& p : points) {
      std::string key = m.name() + "{";
      for (int i = 0; i < p.attributes_size(); ++i) {
        if (i > 0) key += ",";
        key += p.attributes(i).key() + "=" + p.attributes(i).value().string_value();
      }
      out[key + "}"] = p.as_double();
    }
  }
  return out;
}

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

TEST(HostReader, ReadsProcAsTheNodeExporterNamesIt) {
  core::testing::TempDir root;
  Write(root.path() + "/proc/stat",
        "cpu  100 0 50 1000 10 0 5 0 0 0\n"
        "cpu0 100 2 50 1000 10 1 5 3 7 0\n"
        "intr 12345 1 2\nctxt 987654\nbtime 1700000000\nprocesses 4242\n"
        "procs_running 3\nprocs_blocked 1\n");
  Write(root.path() + "/proc/meminfo",
        "MemTotal:       16000 kB\nMemAvailable:    8000 kB\nActive(anon):    1000 kB\n"
        "HugePages_Total:       0\n");
  Write(root.path() + "/proc/loadavg", "0.50 0.25 0.10 2/345 6789\n");
  Write(root.path() + "/proc/diskstats",
        "   8       0 sda 100 5 2000 300 50 6 800 400 1 500 700 0 0 0 0\n"
        "   8       1 sda1 90 5 1900 290 40 6 700 390 0 480 680 0 0 0 0\n"
        "   7       0 loop0 1 0 8 0 0 0 0 0 0 0 0 0 0 0 0\n");
  const std::string net_dev_head =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
      "drop fifo colls carrier compressed\n"
      "    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n";
  // The host's network namespace is pid 1's; proc/net/dev is the reader's
  // own (a pod's veth, in a container).
  Write(root.path() + "/proc/1/net/dev",
        net_dev_head + "  eth0: 5000 50 1 2 0 0 0 3 7000 70 4 5 0 0 0 0\n");
  Write(root.path() + "/proc/net/dev", net_dev_head + "  veth0: 9 9 9 9 0 0 0 9 9 9 9 9 0 0 0 0\n");
  Write(root.path() + "/proc/pressure/io",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=2500000\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=1000000\n");
  Write(root.path() + "/proc/1/mounts",
        "proc /proc proc rw 0 0\n/dev/root / ext4 ro,relatime 0 0\n"
        "tmpfs /run/credentials/x tmpfs rw 0 0\n");
  HostReader reader(HostReader::Options{root.path(),
                                        {},
                                        R"(^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$)",
                                        "^(proc|sysfs)$",
                                        "^/(dev|proc|run|sys)($|/)",
                                        "^lo$"});
  pm::ScopeMetrics scope;
  std::vector<std::string> errors;
  reader.Collect(1700000100000000000ull, &scope, &errors);
  EXPECT_TRUE(errors.empty());
  const auto p = Points(scope);
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  EXPECT_DOUBLE_EQ(p.at("node_cpu_seconds_total{cpu=0,mode=user}"), 100 / hz);
  EXPECT_DOUBLE_EQ(p.at("node_cpu_seconds_total{cpu=0,mode=steal}"), 3 / hz);
  EXPECT_EQ(p.count("node_cpu_seconds_total{cpu=,mode=user}"), 0u);  // the total line
  EXPECT_EQ(p.at("node_context_switches_total{}"), 987654);
  EXPECT_EQ(p.at("node_boot_time_seconds{}"), 1700000000);
  EXPECT_EQ(p.at("node_forks_total{}"), 4242);
  EXPECT_EQ(p.at("node_procs_running{}"), 3);
  EXPECT_EQ(p.at("node_memory_MemAvailable_bytes{}"), 8000 * 1024);
  EXPECT_EQ(p.at("node_memory_Active_anon_bytes{}"), 1000 * 1024);
  EXPECT_EQ(p.at("node_memory_HugePages_Total{}"), 0);
  EXPECT_EQ(p.at("node_load1{}"), 0.5);
  EXPECT_EQ(p.at("node_disk_read_bytes_total{device=sda}"), 2000 * 512);
  EXPECT_EQ(p.at("node_disk_io_time_seconds_total{device=sda}"), 0.5);
  EXPECT_EQ(p.count("node_disk_read_bytes_total{device=sda1}"), 0u);
  EXPECT_EQ(p.count("node_disk_read_bytes_total{device=loop0}"), 0u);
  EXPECT_EQ(p.at("node_network_receive_bytes_total{device=eth0}"), 5000);
  EXPECT_EQ(p.count("node_network_receive_bytes_total{device=lo}"), 0u);
  EXPECT_EQ(p.count("node_network_receive_bytes_total{device=veth0}"), 0u);
  EXPECT_EQ(p.at("node_network_receive_multicast_total{device=eth0}"), 3);
  EXPECT_EQ(p.at("node_network_transmit_drop_total{device=eth0}"), 5);
  EXPECT_EQ(p.at("node_pressure_io_waiting_seconds_total{}"), 2.5);
  EXPECT_EQ(p.at("node_pressure_io_stalled_seconds_total{}"), 1);
  EXPECT_EQ(p.at("node_filesystem_readonly{device=/dev/root,fstype=ext4,mountpoint=/}"), 1);
  EXPECT_GT(p.at("node_filesystem_size_bytes{device=/dev/root,fstype=ext4,mountpoint=/}"), 0);
  EXPECT_EQ(p.count("node_filesystem_size_bytes{device=proc,fstype=proc,mountpoint=/proc}"), 0u);
  // Counters are cumulative from boot.
  for (const auto& m : scope.metrics()) {
    if (m.has_sum()) {
      EXPECT_TRUE(m.sum().is_monotonic()) << m.name();
      EXPECT_EQ(m.sum().data_points(0).start_time_unix_nano(), 1700000000000000000ull) << m.name();
    }
  }
}

TEST(HostReader, NodeNameFromTheDownwardApiThenTheHostsHostname) {
  core::testing::TempDir root;
  Write(root.path() + "/etc/hostname", "node-7 \nignored\n");
  EXPECT_EQ(HostReader::NodeName(root.path(), "node-a"), "node-a");
  EXPECT_EQ(HostReader::NodeName(root.path(), ""), "node-7");
  EXPECT_EQ(HostReader::NodeName(root.path() + "/", nullptr), "node-7");
  char own[256] = {};
  ASSERT_EQ(gethostname(own, sizeof own - 1), 0);
  core::testing::TempDir empty;
  EXPECT_EQ(HostReader::NodeName(empty.path(), nullptr), own);
}

TEST(HostReader, MissingFilesAreReportedNotFatal) {
  core::testing::TempDir root;
  HostReader reader(HostReader::Options{root.path(), {"memory", "pressure"}, "", "^$", "^$", ""});
  pm::ScopeMetrics scope;
  std::vector<std::string> errors;
  reader.Collect(1, &scope, &errors);
  ASSERT_EQ(errors.size(), 1u);  // meminfo; no PSI is no error
  EXPECT_NE(errors[0].find("meminfo"), std::string::npos);
}

}  // namespace
}  // namespace tributary::receivers::hostmetrics

namespace tributary::receivers::hostmetrics {
namespace {

HostmetricsConfig ReadConfig(const std::string& yaml, std::string* errors) {
  HostmetricsConfig config;
  core::ConfigErrors e;
  core::FieldReader::ReadStruct(YAML::Load(yaml), "c.yaml", "receivers.hostmetrics", &e, config);
  *errors = e.ToString();
  return config;
}

// The Collector's `scrapers` map onto the collectors and their exclusions.
TEST(HostmetricsConfig, CollectorScrapersMapOntoCollectors) {
  std::string errors;
  HostmetricsConfig config = ReadConfig(
      "collection_interval: 30s\ninitial_delay: 1s\n"
      "scrapers:\n  cpu: {}\n  memory:\n  load: {cpu_average: false}\n  paging:\n"
      "  disk: {exclude: {devices: ['^loop[0-9]+$'], match_type: regexp}}\n"
      "  network: {exclude: {interfaces: [lo, docker0], match_type: strict}}\n"
      "  filesystem: {exclude_fs_types: {fs_types: [tmpfs], match_type: strict}}\n",
      &errors);
  EXPECT_EQ(errors, "");
  EXPECT_EQ(config.collectors, (std::vector<std::string>{"cpu", "memory", "load", "disk",
                                                         "filesystem", "network", "stat"}));
  EXPECT_EQ(config.initial_delay, std::chrono::seconds(1));
  re2::RE2 network(config.network_device_exclude);
  EXPECT_TRUE(re2::RE2::FullMatch("docker0", network));
  EXPECT_TRUE(re2::RE2::FullMatch("lo", network));
  EXPECT_FALSE(re2::RE2::FullMatch("eth0", network));
  EXPECT_FALSE(re2::RE2::FullMatch("lo0", network));
  EXPECT_TRUE(re2::RE2::PartialMatch("loop3", config.disk_device_exclude));
  EXPECT_FALSE(re2::RE2::PartialMatch("sda", config.disk_device_exclude));
  EXPECT_TRUE(re2::RE2::FullMatch("tmpfs", config.filesystem_fstype_exclude));

  ReadConfig("scrapers:\n  process: {}\n  cpu: {}\n", &errors);
  EXPECT_NE(errors.find("receivers.hostmetrics.scrapers.process: not supported"), std::string::npos)
      << errors;
  ReadConfig("scrapers:\n  cpu: {metrics: {system.cpu.time: {enabled: false}}}\n", &errors);
  EXPECT_NE(errors.find("scrapers.cpu.metrics: not supported"), std::string::npos) << errors;
  ReadConfig("scrapers:\n  load: {cpu_average: true}\n", &errors);
  EXPECT_NE(errors.find("scrapers.load.cpu_average: value 'true' not supported"), std::string::npos)
      << errors;
}

}  // namespace
}  // namespace tributary::receivers::hostmetrics
