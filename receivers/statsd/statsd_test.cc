#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <map>

#include "gtest/gtest.h"
#include "receivers/statsd/statsd_parser.h"
#include "receivers/statsd/statsd_receiver.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::receivers::statsd {
namespace {

namespace pm = opentelemetry::proto::metrics::v1;

TEST(StatsdParser, ParsesEveryType) {
  Line l;
  std::string err;
  ASSERT_TRUE(ParseLine("page.views:3|c|@0.5|#env:prod,region:eu,canary", &l, &err)) << err;
  EXPECT_EQ(l.name, "page.views");
  EXPECT_EQ(l.number, 3);
  EXPECT_EQ(l.type, MetricType::kCounter);
  EXPECT_EQ(l.sample_rate, 0.5);
  ASSERT_EQ(l.tags.size(), 3u);
  EXPECT_EQ(l.tags[0].first, "env");
  EXPECT_EQ(l.tags[0].second, "prod");
  EXPECT_EQ(l.tags[2].first, "canary");
  EXPECT_EQ(l.tags[2].second, "");
  ASSERT_TRUE(ParseLine("queue:-4|g", &l, &err));
  EXPECT_TRUE(l.delta);
  EXPECT_EQ(l.number, -4);
  ASSERT_TRUE(ParseLine("queue:+4|g", &l, &err));
  EXPECT_TRUE(l.delta);
  ASSERT_TRUE(ParseLine("queue:4|g", &l, &err));
  EXPECT_FALSE(l.delta);
  ASSERT_TRUE(ParseLine("latency:12.5|ms|c:abc123|T1700000000", &l, &err));
  EXPECT_EQ(l.type, MetricType::kTimer);
  ASSERT_TRUE(ParseLine("users:alice|s", &l, &err));
  EXPECT_EQ(l.value, "alice");
  ASSERT_TRUE(ParseLine("size:1e3|d", &l, &err));
  EXPECT_EQ(l.number, 1000);
}

TEST(StatsdParser, RejectsMalformedLines) {
  Line l;
  std::string err;
  for (const char* bad : {"novalue", "x:|c", ":1|c", "x:1|q", "x:abc|c", "x:1|c|@0", "x:1|c|@2",
                          "x:1|c|@x", "x:1|c||", "x:1|c|#:v", "x:nan|g", "x:1"}) {
    EXPECT_FALSE(ParseLine(bad, &l, &err)) << bad;
  }
}

// Sends datagrams to the receiver and collects what it hands on.
class StatsdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.endpoint = "127.0.0.1:0";
    config_.flush_interval = std::chrono::hours(1);
    config_.timer_buckets = {10, 100, 1000};
    config_.histogram_buckets = {1, 5};
    config_.resource_attributes = {{"service.name", "statsd-test"}};
  }
  void StartReceiver() {
    receiver_ = std::make_unique<StatsdReceiver>("statsd/test", config_, &sink_);
    ASSERT_TRUE(receiver_->Start().ok());
  }
  void Send(const std::string& datagram) {
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(receiver_->port()));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&addr),
           sizeof addr);
    close(fd);
  }
  // Flushes and returns the metrics by name; waits for the datagrams sent.
  std::map<std::string, pm::Metric> Flush(size_t expected_lines) {
    for (int i = 0; i < 200; ++i) {
      if (core::testing::MetricValue("tributary_statsd_lines_total",
                                     {{"receiver", "statsd/test"}}) -
              lines_seen_ >=
          static_cast<double>(expected_lines)) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    lines_seen_ =
        core::testing::MetricValue("tributary_statsd_lines_total", {{"receiver", "statsd/test"}});
    const size_t before = sink_.batches().size();
    receiver_->FlushNow();
    for (int i = 0; i < 200 && sink_.batches().size() == before; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::map<std::string, pm::Metric> out;
    const auto batches = sink_.batches();
    if (batches.size() == before) return out;
    const auto& rm = batches.back().metrics().resource_metrics(0);
    EXPECT_EQ(rm.resource().attributes(0).value().string_value(), "statsd-test");
    for (const auto& m : rm.scope_metrics(0).metrics()) out[m.name()] = m;
    return out;
  }

  StatsdConfig config_;
  core::testing::RecordingConsumer sink_;
  std::unique_ptr<StatsdReceiver> receiver_;
  double lines_seen_ = 0;
};

TEST_F(StatsdTest, AggregatesAKnownMixExactly) {
  StartReceiver();
  lines_seen_ =
      core::testing::MetricValue("tributary_statsd_lines_total", {{"receiver", "statsd/test"}});
  const double malformed_before = core::testing::MetricValue(
      "tributary_statsd_malformed_lines_total", {{"receiver", "statsd/test"}});
  // Counters with sample rates and tags, gauges with deltas, timers,
  // histograms, distributions and sets; malformed lines among them.
  Send("hits:1|c\nhits:2|c|@0.5\nhits:1|c|#route:/a\nbroken line\nhits:x|c\n");
  Send("temp:20|g\ntemp:+5|g\ntemp:-3|g\nqueue:7|g|#q:jobs");
  Send("lat:5|ms\nlat:50|ms\nlat:500|ms|@0.25\nlat:5000|ms\nlat:|ms");
  Send("size:0.5|h\nsize:3|h\nsize:3|d\nsize:9|d|#shard:1");
  Send("users:alice|s\nusers:bob|s\nusers:alice|s\nwhat:1|zz");
  const auto m = Flush(21);
  EXPECT_EQ(core::testing::MetricValue("tributary_statsd_malformed_lines_total",
                                       {{"receiver", "statsd/test"}}) -
                malformed_before,
            4);
  // hits: 1 + 2/0.5 = 5 without tags, 1 with route=/a.
  ASSERT_TRUE(m.count("hits"));
  const auto& hits = m.at("hits").sum();
  EXPECT_TRUE(hits.is_monotonic());
  EXPECT_EQ(hits.aggregation_temporality(), pm::AGGREGATION_TEMPORALITY_DELTA);
  ASSERT_EQ(hits.data_points_size(), 2);
  std::map<std::string, double> by_route;
  for (const auto& p : hits.data_points()) {
    by_route[p.attributes_size() ? p.attributes(0).value().string_value() : ""] = p.as_double();
  }
  EXPECT_EQ(by_route[""], 5);
  EXPECT_EQ(by_route["/a"], 1);
  // temp: 20 + 5 - 3.
  EXPECT_EQ(m.at("temp").gauge().data_points(0).as_double(), 22);
  EXPECT_EQ(m.at("queue").gauge().data_points(0).as_double(), 7);
  // lat: bounds 10, 100, 1000 ms; 500 at rate 0.25 counts 4 times.
  const auto& lat = m.at("lat").histogram().data_points(0);
  EXPECT_EQ(m.at("lat").unit(), "ms");
  EXPECT_EQ(lat.count(), 7u);
  EXPECT_EQ(std::vector<uint64_t>(lat.bucket_counts().begin(), lat.bucket_counts().end()),
            (std::vector<uint64_t>{1, 1, 4, 1}));
  EXPECT_EQ(lat.sum(), 5 + 50 + 500 * 4 + 5000);
  EXPECT_EQ(lat.min(), 5);
  EXPECT_EQ(lat.max(), 5000);
  // size: histogram (|h) and distribution (|d) are separate metrics of one name.
  std::vector<std::vector<uint64_t>> size_buckets;
  const std::vector<core::Batch> batches = sink_.batches();
  for (const auto& metric :
       batches.back().metrics().resource_metrics(0).scope_metrics(0).metrics()) {
    if (metric.name() != "size") continue;
    for (const auto& p : metric.histogram().data_points()) {
      size_buckets.emplace_back(p.bucket_counts().begin(), p.bucket_counts().end());
    }
  }
  // |h: 0.5 and 3; |d: 3, and 9 with shard:1 (bounds 1, 5).
  EXPECT_EQ(size_buckets, (std::vector<std::vector<uint64_t>>{{0, 1, 0}, {0, 0, 1}, {1, 1, 0}}));
  EXPECT_EQ(m.at("users").gauge().data_points(0).as_int(), 2);

  // The next interval: counters and histograms start again; gauges go on
  // from their last value.
  Send("hits:3|c\ntemp:-2|g");
  const auto next = Flush(2);
  EXPECT_EQ(next.at("hits").sum().data_points(0).as_double(), 3);
  EXPECT_EQ(next.at("temp").gauge().data_points(0).as_double(), 20);
  EXPECT_EQ(next.count("lat"), 0u);
  receiver_->Shutdown(core::Clock::now());
}

TEST_F(StatsdTest, UnixDatagramSocketAndSeriesLimit) {
  core::testing::TempDir dir;
  config_.unix_socket = dir.path() + "/statsd.sock";
  config_.max_series = 2;
  StartReceiver();
  const int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, config_.unix_socket.c_str());
  const std::string datagram = "a:1|c\nb:1|c\nc:1|c\na:1|c";
  ASSERT_EQ(sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&addr),
                   sizeof addr),
            static_cast<ssize_t>(datagram.size()));
  close(fd);
  const auto m = Flush(4);
  EXPECT_EQ(m.at("a").sum().data_points(0).as_double(), 2);
  EXPECT_EQ(m.count("c"), 0u);
  EXPECT_EQ(core::testing::MetricValue("tributary_statsd_series_limited_lines_total",
                                       {{"receiver", "statsd/test"}}),
            1);
  receiver_->Shutdown(core::Clock::now());
}

// After a burst of gauge names fills max_series, the next interval takes
// new series of every type again: the limit is per interval.
TEST_F(StatsdTest, AGaugeBurstDoesNotLockOutLaterIntervals) {
  config_.max_series = 100;
  StartReceiver();
  lines_seen_ =
      core::testing::MetricValue("tributary_statsd_lines_total", {{"receiver", "statsd/test"}});
  const double limited_before = core::testing::MetricValue(
      "tributary_statsd_series_limited_lines_total", {{"receiver", "statsd/test"}});
  for (int d = 0; d < 10; ++d) {
    std::string datagram;
    for (int i = 0; i < 50; ++i) datagram += "burst." + std::to_string(d * 50 + i) + ":1|g\n";
    Send(datagram);
  }
  const auto burst = Flush(500);
  size_t gauges = 0;
  for (const auto& [name, metric] : burst) gauges += name.rfind("burst.", 0) == 0;
  EXPECT_EQ(gauges, 100u);
  EXPECT_EQ(core::testing::MetricValue("tributary_statsd_series_limited_lines_total",
                                       {{"receiver", "statsd/test"}}) -
                limited_before,
            400);
  Send("orders:1|c\norders:2|c\nload:0.5|g\nlatency:12|ms\nvisitors:ann|s");
  const auto normal = Flush(5);
  ASSERT_TRUE(normal.count("orders"));
  EXPECT_EQ(normal.at("orders").sum().data_points(0).as_double(), 3);
  ASSERT_TRUE(normal.count("load"));
  EXPECT_EQ(normal.at("load").gauge().data_points(0).as_double(), 0.5);
  ASSERT_TRUE(normal.count("latency"));
  EXPECT_EQ(normal.at("latency").histogram().data_points(0).count(), 1u);
  ASSERT_TRUE(normal.count("visitors"));
  EXPECT_EQ(core::testing::MetricValue("tributary_statsd_series_limited_lines_total",
                                       {{"receiver", "statsd/test"}}) -
                limited_before,
            400);
  receiver_->Shutdown(core::Clock::now());
}

Aggregator::Added AddText(Aggregator& aggregator, const std::string& text) {
  Line line;
  std::string error;
  EXPECT_TRUE(ParseLine(text, &line, &error)) << error;
  return aggregator.Add(line);
}

TEST(StatsdAggregator, GaugesAreForgottenAfterTheirExpiration) {
  Aggregator aggregator({10}, {1}, {.max_series = 10, .gauge_expiration_intervals = 2});
  EXPECT_EQ(AddText(aggregator, "temp:20|g"), Aggregator::Added::kOk);
  aggregator.Flush(0, 1, {});
  EXPECT_EQ(aggregator.series(), 1u);  // kept for signed updates
  aggregator.Flush(1, 2, {});
  EXPECT_EQ(aggregator.series(), 0u);  // two intervals without an update
  EXPECT_EQ(AddText(aggregator, "temp:+5|g"), Aggregator::Added::kOk);
  core::MetricsRequest r = aggregator.Flush(2, 3, {});
  EXPECT_EQ(r.resource_metrics(0).scope_metrics(0).metrics(0).gauge().data_points(0).as_double(),
            5);
}

TEST(StatsdAggregator, KeptGaugesDoNotCountTowardTheNextIntervalsLimit) {
  Aggregator aggregator({10}, {1}, {.max_series = 2, .gauge_expiration_intervals = 100});
  EXPECT_EQ(AddText(aggregator, "a:1|g"), Aggregator::Added::kOk);
  EXPECT_EQ(AddText(aggregator, "b:1|g"), Aggregator::Added::kOk);
  EXPECT_EQ(AddText(aggregator, "c:1|c"), Aggregator::Added::kSeriesLimited);
  aggregator.Flush(0, 1, {});
  EXPECT_EQ(AddText(aggregator, "c:1|c"), Aggregator::Added::kOk);
  EXPECT_EQ(AddText(aggregator, "a:+1|g"), Aggregator::Added::kOk);
  EXPECT_EQ(AddText(aggregator, "b:+1|g"), Aggregator::Added::kSeriesLimited);
  core::MetricsRequest r = aggregator.Flush(1, 2, {});
  std::map<std::string, double> values;
  for (const auto& m : r.resource_metrics(0).scope_metrics(0).metrics()) {
    values[m.name()] =
        m.has_gauge() ? m.gauge().data_points(0).as_double() : m.sum().data_points(0).as_double();
  }
  EXPECT_EQ(values, (std::map<std::string, double>{{"a", 2}, {"c", 1}}));
}

TEST(StatsdAggregator, SetsAreBoundedByMaxSetMembers) {
  Aggregator aggregator({10}, {1}, {.max_series = 10, .max_set_members = 3});
  for (const char* member : {"u1", "u2", "u3"}) {
    EXPECT_EQ(AddText(aggregator, std::string("users:") + member + "|s"), Aggregator::Added::kOk);
  }
  EXPECT_EQ(AddText(aggregator, "users:u4|s"), Aggregator::Added::kSetMemberLimited);
  EXPECT_EQ(AddText(aggregator, "users:u5|s"), Aggregator::Added::kSetMemberLimited);
  EXPECT_EQ(AddText(aggregator, "users:u2|s"), Aggregator::Added::kOk);  // already counted
  core::MetricsRequest r = aggregator.Flush(0, 1, {});
  EXPECT_EQ(r.resource_metrics(0).scope_metrics(0).metrics(0).gauge().data_points(0).as_int(), 3);
  // A new interval starts the set again.
  EXPECT_EQ(AddText(aggregator, "users:u4|s"), Aggregator::Added::kOk);
}

TEST(StatsdConfigTest, Validation) {
  StatsdConfig c;
  EXPECT_TRUE(c.Validate().ok());
  c.timer_buckets = {5, 1};
  EXPECT_FALSE(c.Validate().ok());
  c.timer_buckets = {1, 5};
  c.endpoint.clear();
  EXPECT_FALSE(c.Validate().ok());
}

}  // namespace
}  // namespace tributary::receivers::statsd
