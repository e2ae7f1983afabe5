#include "processors/tail_sampling/tail_sampling_processor.h"

#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tributary/core/config.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::processors::tail_sampling {
namespace {

using core::testing::MetricValue;
using opentelemetry::proto::trace::v1::Span;
using ::testing::HasSubstr;

constexpr uint64_t kMs = 1000000;

std::string TraceId(int n) {
  std::string id(16, '\0');
  id[0] = static_cast<char>(n);
  id[1] = static_cast<char>(n >> 8);
  id[15] = 1;
  return id;
}

// Spans of the given traces: `spans` each, the first lasting `ms`, with
// status `code`.
struct SpanSpec {
  int trace;
  int spans = 2;
  uint64_t ms = 10;
  int code = 0;
  std::map<std::string, std::string> attributes = {};
};

core::TracesRequest Spans(const std::vector<SpanSpec>& specs) {
  core::TracesRequest r;
  auto* rs = r.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("shop");
  auto* ss = rs->add_scope_spans();
  for (const SpanSpec& spec : specs) {
    for (int i = 0; i < spec.spans; ++i) {
      Span* s = ss->add_spans();
      s->set_trace_id(TraceId(spec.trace));
      s->set_span_id(std::string(8, static_cast<char>(i + 1)));
      s->set_start_time_unix_nano(1000 * kMs);
      s->set_end_time_unix_nano(1000 * kMs + (i == 0 ? spec.ms : 1) * kMs);
      if (i == 0) {
        s->mutable_status()->set_code(
            static_cast<opentelemetry::proto::trace::v1::Status::StatusCode>(spec.code));
      }
      for (const auto& [k, v] : spec.attributes) {
        auto* a = s->add_attributes();
        a->set_key(k);
        a->mutable_value()->set_string_value(v);
      }
    }
  }
  return r;
}

std::vector<PolicyConfig> ErrorsSlowAndAPercent(double percent) {
  std::vector<PolicyConfig> p(3);
  p[0].name = "errors";
  p[0].type = "status_code";
  p[0].status_code = StatusCodeConfig{{"ERROR"}};
  p[1].name = "slow";
  p[1].type = "latency";
  p[1].latency = LatencyConfig{500, 0};
  p[2].name = "base";
  p[2].type = "probabilistic";
  p[2].probabilistic = ProbabilisticConfig{percent, ""};
  return p;
}

class TailSamplingTest : public ::testing::Test {
 protected:
  std::unique_ptr<TailSamplingProcessor> Make(TailSamplingConfig config) {
    EXPECT_TRUE(config.Validate().ok()) << config.Validate();
    std::vector<std::unique_ptr<Policy>> policies;
    for (size_t i = 0; i < config.policies.size(); ++i) {
      policies.push_back(std::move(*Policy::Make(config.policies[i], i)));
    }
    return std::make_unique<TailSamplingProcessor>("tail_sampling/test", std::move(config),
                                                   std::move(policies), &out_,
                                                   [this] { return now_; });
  }
  // Sends spans with an ack recorded in acks_[name].
  absl::Status Send(const std::string& name, TailSamplingProcessor& p,
                    const std::vector<SpanSpec>& specs) {
    auto ack =
        std::make_shared<core::Ack>([this, name](const absl::Status& s) { acks_[name] = s; });
    return p.Consume(core::Envelope{std::make_shared<const core::Batch>(Spans(specs)), {ack}});
  }
  // Trace number -> spans received downstream (in the batches from `first` on).
  std::map<int, int> Received(size_t first = 0) {
    std::map<int, int> out;
    std::vector<core::Batch> batches = out_.batches();
    for (size_t i = first; i < batches.size(); ++i) {
      const core::Batch& b = batches[i];
      for (const auto& rs : b.traces().resource_spans()) {
        for (const auto& ss : rs.scope_spans()) {
          for (const auto& s : ss.spans()) {
            out[static_cast<unsigned char>(s.trace_id()[0]) +
                256 * static_cast<unsigned char>(s.trace_id()[1])]++;
          }
        }
      }
    }
    return out;
  }

  core::testing::RecordingConsumer out_;
  std::map<std::string, absl::Status> acks_;
  uint64_t now_ = 1;
};

TEST_F(TailSamplingTest, KeepsErrorAndSlowTracesWholeAndHoldsAcknowledgementsUntilDecided) {
  TailSamplingConfig config;
  config.decision_wait = std::chrono::seconds(5);
  config.policies = ErrorsSlowAndAPercent(0);
  auto p = Make(config);
  const double sampled_out =
      MetricValue("tributary_dropped_records_total",
                  {{"component", "tail_sampling/test"}, {"reason", "sampled_out"}});
  ASSERT_TRUE(Send("first", *p, {{1}, {2, 2, 10, 2}, {3, 2, 600}}).ok());
  now_ += 1000 * kMs;
  // More spans of trace 2 and 4 arrive a second later.
  ASSERT_TRUE(Send("second", *p, {{2, 3}, {4, 1}}).ok());
  EXPECT_EQ(p->pending(), 4u);
  p->DecideDue();
  EXPECT_TRUE(out_.batches().empty());
  EXPECT_TRUE(acks_.empty());
  now_ += 4000 * kMs;  // the first three are due
  p->DecideDue();
  EXPECT_THAT(Received(), ::testing::UnorderedElementsAre(std::pair{2, 5}, std::pair{3, 2}));
  // Trace 4 (brought by the second request) is still undecided: the
  // second request's acknowledgement waits for it, the first's does not.
  EXPECT_TRUE(acks_.count("first"));
  EXPECT_FALSE(acks_.count("second"));
  EXPECT_EQ(p->pending(), 1u);
  now_ += 1000 * kMs;
  p->DecideDue();
  EXPECT_EQ(p->pending(), 0u);
  ASSERT_TRUE(acks_.count("first") && acks_.count("second"));
  EXPECT_TRUE(acks_["first"].ok());
  EXPECT_TRUE(acks_["second"].ok());
  EXPECT_EQ(MetricValue("tributary_dropped_records_total",
                        {{"component", "tail_sampling/test"}, {"reason", "sampled_out"}}),
            sampled_out + 3);  // trace 1's two spans and trace 4's one
  // A late span follows its trace's decision at once.
  ASSERT_TRUE(Send("late", *p, {{2, 1}, {1, 1}}).ok());
  EXPECT_EQ(Received()[2], 6);
  EXPECT_EQ(Received().count(1), 0u);
  EXPECT_TRUE(acks_["late"].ok());
}

TEST_F(TailSamplingTest, TheProbabilisticDecisionIsAFunctionOfTheTraceId) {
  TailSamplingConfig config;
  config.decision_wait = std::chrono::milliseconds(1);
  config.decision_cache.sampled_cache_size = 0;
  config.decision_cache.non_sampled_cache_size = 0;
  config.policies = ErrorsSlowAndAPercent(30);
  std::set<int> first, second;
  for (std::set<int>* kept : {&first, &second}) {
    const size_t from = out_.batches().size();
    auto p = Make(config);
    for (int t = 0; t < 1000; ++t) ASSERT_TRUE(Send("x", *p, {{t, 1}}).ok());
    now_ += 10 * kMs;
    p->DecideDue();
    for (const auto& [t, n] : Received(from)) kept->insert(t);
  }
  EXPECT_EQ(first, second);
  EXPECT_GT(first.size(), 250u);
  EXPECT_LT(first.size(), 350u);
  for (int t = 0; t < 1000; ++t) {
    const bool expected =
        TraceHash(TraceId(t), "") < static_cast<uint64_t>(0.3 * 18446744073709551615.0);
    EXPECT_EQ(first.count(t) == 1, expected) << t;
  }
}

TEST_F(TailSamplingTest, WhenFullNewTracesAreRefusedOrTheOldestDecidedEarly) {
  TailSamplingConfig config;
  config.num_traces = 3;
  config.policies = ErrorsSlowAndAPercent(100);
  auto refusing = Make(config);
  ASSERT_TRUE(Send("a", *refusing, {{1}, {2}}).ok());
  // Spans of known traces still fit; a request starting two more does not.
  EXPECT_TRUE(Send("b", *refusing, {{1}, {3}}).ok());
  EXPECT_EQ(Send("c", *refusing, {{4}, {5}}).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refusing->pending(), 3u);

  config.when_full = "decide_early";
  auto early = Make(config);
  ASSERT_TRUE(Send("a", *early, {{1}, {2}, {3}}).ok());
  const double before = MetricValue("tributary_tail_sampling_early_decisions_total",
                                    {{"processor", "tail_sampling/test"}});
  ASSERT_TRUE(Send("d", *early, {{4}, {5}}).ok());
  EXPECT_EQ(early->pending(), 3u);
  EXPECT_EQ(Received().size(), 2u);  // traces 1 and 2, sampled at 100%
  EXPECT_EQ(MetricValue("tributary_tail_sampling_early_decisions_total",
                        {{"processor", "tail_sampling/test"}}),
            before + 2);
}

TEST_F(TailSamplingTest, ADownstreamRefusalIsHandedBackRetryable) {
  TailSamplingConfig config;
  config.decision_wait = std::chrono::milliseconds(1);
  config.policies = ErrorsSlowAndAPercent(100);
  auto p = Make(config);
  ASSERT_TRUE(Send("a", *p, {{1}}).ok());
  out_.refuse_status = absl::ResourceExhaustedError("full");
  now_ += 10 * kMs;
  p->DecideDue();
  ASSERT_TRUE(acks_.count("a"));
  EXPECT_EQ(acks_["a"].code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(MetricValue("tributary_processor_returned_records_total",
                        {{"processor", "tail_sampling/test"}}),
            2);
  // Sent again, it goes on at once: the decision was kept.
  out_.refuse_status = absl::OkStatus();
  ASSERT_TRUE(Send("again", *p, {{1}}).ok());
  EXPECT_EQ(Received()[1], 2);
  EXPECT_TRUE(acks_["again"].ok());
}

TEST_F(TailSamplingTest, AttributePoliciesAndShutdownDecidingEverything) {
  TailSamplingConfig config;
  config.decision_wait = std::chrono::hours(1);
  config.policies.resize(2);
  config.policies[0].type = "string_attribute";
  config.policies[0].string_attribute =
      StringAttributeConfig{"tier", {"gold|platinum"}, true, false};
  config.policies[1].type = "numeric_attribute";
  config.policies[1].numeric_attribute = NumericAttributeConfig{"http.status", 500, 599, false};
  auto p = Make(config);
  ASSERT_TRUE(Send("a", *p,
                   {{1, 1, 1, 0, {{"tier", "gold"}}},
                    {2, 1, 1, 0, {{"tier", "silver"}}},
                    {3, 1, 1, 0, {{"tier", "goldish"}}}})
                  .ok());
  // An integer attribute in range.
  core::TracesRequest r = Spans({{4, 1}});
  auto* a = r.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->add_attributes();
  a->set_key("http.status");
  a->mutable_value()->set_int_value(503);
  ASSERT_TRUE(
      p->Consume(core::Envelope{std::make_shared<const core::Batch>(std::move(r)), {}}).ok());
  EXPECT_TRUE(out_.batches().empty());
  p->Shutdown(core::Clock::now());
  EXPECT_THAT(Received(), ::testing::UnorderedElementsAre(std::pair{1, 1}, std::pair{4, 1}));
  EXPECT_TRUE(acks_["a"].ok());
}

TEST_F(TailSamplingTest, InvertMatchSamplesTheTracesThatDoNotMatch) {
  TailSamplingConfig config;
  config.decision_wait = std::chrono::hours(1);
  config.policies.resize(2);
  config.policies[0].type = "string_attribute";
  config.policies[0].string_attribute = StringAttributeConfig{"tier", {"free"}, false, true};
  config.policies[1].type = "numeric_attribute";
  config.policies[1].numeric_attribute = NumericAttributeConfig{"http.status", 200, 299, true};
  auto p = Make(config);
  // Trace 1 is a free tier's successful call: neither inverted policy keeps
  // it. Trace 2 is gold: kept by the first. Trace 3 has no tier (does not
  // match "free") and no status: kept.
  core::TracesRequest r = Spans({{1, 1, 1, 0, {{"tier", "free"}}},
                                 {2, 1, 1, 0, {{"tier", "gold"}}},
                                 {3, 1, 1, 0, {}},
                                 {4, 1, 1, 0, {{"tier", "free"}}}});
  for (int i : {0, 1, 3}) {
    auto* a =
        r.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(i)->add_attributes();
    a->set_key("http.status");
    a->mutable_value()->set_int_value(i == 3 ? 503 : 200);
  }
  // Trace 4 is free but failed: kept by the second.
  ASSERT_TRUE(
      p->Consume(core::Envelope{std::make_shared<const core::Batch>(std::move(r)), {}}).ok());
  p->Shutdown(core::Clock::now());
  EXPECT_THAT(Received(),
              ::testing::UnorderedElementsAre(std::pair{2, 1}, std::pair{3, 1}, std::pair{4, 1}));
}

std::string ConfigErrors(const std::string& yaml) {
  core::ConfigErrors errors;
  TailSamplingConfig config;
  core::FieldReader::ReadStruct(YAML::Load(yaml), "c.yaml", "processors.tail_sampling", &errors,
                                config);
  return errors.ToString();
}

TEST(TailSamplingConfigTest, ReadsTheCollectorsKeysAndNamesBadOnes) {
  EXPECT_EQ(ConfigErrors(R"(
decision_wait: 10s
num_traces: 100000
decision_cache: {sampled_cache_size: 1000}
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: slow, type: latency, latency: {threshold_ms: 500}}
  - {name: base, type: probabilistic, probabilistic: {sampling_percentage: 5}}
  - {name: vip, type: string_attribute, string_attribute: {key: tier, values: [gold]}}
  - {name: all, type: always_sample}
)"),
            "");
  EXPECT_THAT(ConfigErrors("policies: []"), HasSubstr("policies must not be empty"));
  EXPECT_THAT(ConfigErrors("{}"), HasSubstr("processors.tail_sampling.policies: required key"));
  EXPECT_THAT(ConfigErrors("policies: [{type: sometimes}]"),
              HasSubstr("processors.tail_sampling.policies[0]: unknown policy type 'sometimes'"));
  EXPECT_THAT(
      ConfigErrors("policies: [{type: probabilistic, probabilistic: "
                   "{sampling_percentage: 101}}]"),
      HasSubstr("policies[0]: probabilistic.sampling_percentage must be between 0 and 100"));
  EXPECT_THAT(ConfigErrors("policies: [{type: latency}]"),
              HasSubstr("policies[0]: type latency needs its settings block `latency`"));
  EXPECT_THAT(ConfigErrors("policies: [{type: status_code, status_code: {status_codes: [FAIL]}}]"),
              HasSubstr("status_codes[0]: 'FAIL' is not ERROR, OK or UNSET"));
  EXPECT_THAT(ConfigErrors("when_full: wait\npolicies: [{type: always_sample}]"),
              HasSubstr("when_full must be refuse or decide_early"));
}

}  // namespace
}  // namespace tributary::processors::tail_sampling
