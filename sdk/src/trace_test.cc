#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "test_support.h"

namespace tributary::sdk {
namespace {

using detail::Access;
using detail::SdkState;
using detail::SpanRecord;
namespace otlp = testing::otlp;

otlp::collector::trace::v1::ExportTraceServiceRequest DrainSpans(SdkState& sdk) {
  std::vector<SpanRecord*> batch;
  sdk.spans.Drain(batch, 100000);
  std::string body;
  detail::EncodeSpans(batch, sdk.resource, body);
  for (SpanRecord* r : batch) sdk.spans.Recycle(r);
  otlp::collector::trace::v1::ExportTraceServiceRequest req;
  EXPECT_TRUE(req.ParseFromString(body));
  return req;
}

std::vector<otlp::trace::v1::Span> AllSpans(
    const otlp::collector::trace::v1::ExportTraceServiceRequest& req) {
  std::vector<otlp::trace::v1::Span> out;
  for (const auto& rs : req.resource_spans())
    for (const auto& ss : rs.scope_spans())
      for (const auto& s : ss.spans()) out.push_back(s);
  return out;
}

std::string Bytes(const auto& a) {
  return std::string(reinterpret_cast<const char*>(a.data()), a.size());
}

TEST(Trace, EverySpanFieldIsEncoded) {
  SdkState sdk(testing::QuietOptions());
  Tracer tracer = Access::Make<Tracer>(sdk.Tracer("checkout", "2.1"));
  SpanContext link_target;
  link_target.trace_id.fill(7);
  link_target.span_id.fill(9);
  link_target.trace_flags = 1;
  link_target.remote = true;
  SpanContext parent_ctx;
  {
    Span parent = tracer.StartSpan(
        "parent", {{"http.method", "GET"}, {"retries", 3}, {"ratio", 0.5}, {"ok", true}},
        SpanKind::kServer);
    parent_ctx = parent.context();
    ASSERT_TRUE(parent.IsRecording());
    auto scope = parent.Activate();
    Span child = tracer.StartSpan("child", {}, SpanKind::kClient);
    child.SetAttribute("peer", "db");
    child.SetAttribute("peer", "db2");  // replaces
    child.AddEvent("retry", {{"attempt", 2}});
    child.AddLink(link_target, {{"why", "batch"}});
    child.SetStatus(StatusCode::kError, "timeout");
    EXPECT_EQ(child.context().trace_id, parent.context().trace_id);
  }
  auto req = DrainSpans(sdk);
  ASSERT_EQ(req.resource_spans_size(), 1);
  EXPECT_EQ(req.resource_spans(0).scope_spans(0).scope().name(), "checkout");
  EXPECT_EQ(req.resource_spans(0).scope_spans(0).scope().version(), "2.1");
  auto spans = AllSpans(req);
  ASSERT_EQ(spans.size(), 2u);
  const auto& child = spans[0];  // ends first
  const auto& parent = spans[1];
  EXPECT_EQ(parent.name(), "parent");
  EXPECT_EQ(parent.kind(), otlp::trace::v1::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(parent.trace_id(), Bytes(parent_ctx.trace_id));
  EXPECT_EQ(parent.span_id(), Bytes(parent_ctx.span_id));
  EXPECT_TRUE(parent.parent_span_id().empty());
  EXPECT_EQ(testing::AttrString(parent), "http.method=GET,ok=true,ratio=0.500000,retries=3");
  EXPECT_EQ(parent.flags(), 0x101u);
  EXPECT_GT(parent.end_time_unix_nano(), parent.start_time_unix_nano());
  EXPECT_EQ(child.name(), "child");
  EXPECT_EQ(child.kind(), otlp::trace::v1::Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(child.parent_span_id(), Bytes(parent_ctx.span_id));
  EXPECT_EQ(child.trace_id(), Bytes(parent_ctx.trace_id));
  EXPECT_EQ(testing::AttrString(child), "peer=db2");
  ASSERT_EQ(child.events_size(), 1);
  EXPECT_EQ(child.events(0).name(), "retry");
  EXPECT_EQ(testing::AttrString(child.events(0)), "attempt=2");
  ASSERT_EQ(child.links_size(), 1);
  EXPECT_EQ(child.links(0).trace_id(), Bytes(link_target.trace_id));
  EXPECT_EQ(child.links(0).span_id(), Bytes(link_target.span_id));
  EXPECT_EQ(child.links(0).flags(), 0x301u);
  EXPECT_EQ(child.status().code(), otlp::trace::v1::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(child.status().message(), "timeout");
  // The resource carries the service name and the SDK.
  std::map<std::string, std::string> resource;
  for (const auto& kv : req.resource_spans(0).resource().attributes())
    resource[kv.key()] = kv.value().string_value();
  EXPECT_EQ(resource["service.name"], "test-service");
  EXPECT_EQ(resource["telemetry.sdk.language"], "cpp");
}

TEST(Trace, ExplicitParentRootAndRemoteParent) {
  SdkState sdk(testing::QuietOptions());
  Tracer tracer = Access::Make<Tracer>(sdk.Tracer("t", ""));
  SpanContext remote;
  ASSERT_TRUE(ParseTraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", remote));
  remote.trace_state = "congo=t61rcWkgMzE";
  {
    Span active = tracer.StartSpan("active");
    auto scope = active.Activate();
    Span from_remote = tracer.StartSpan("server", {}, {SpanKind::kServer, &remote});
    EXPECT_EQ(from_remote.context().trace_state, "congo=t61rcWkgMzE");
    StartSpanOptions root_options;
    root_options.root = true;
    Span root = tracer.StartSpan("root", {}, root_options);
    EXPECT_NE(root.context().trace_id, active.context().trace_id);
  }
  EXPECT_FALSE(CurrentSpanContext().IsValid());  // the scope ended
  auto spans = AllSpans(DrainSpans(sdk));
  ASSERT_EQ(spans.size(), 3u);
  const auto& server = spans[1];
  EXPECT_EQ(server.name(), "server");
  EXPECT_EQ(server.trace_id(), Bytes(remote.trace_id));
  EXPECT_EQ(server.parent_span_id(), Bytes(remote.span_id));
  EXPECT_EQ(server.trace_state(), "congo=t61rcWkgMzE");
  EXPECT_EQ(server.flags(), 0x301u);  // sampled, parent is remote
  EXPECT_TRUE(spans[0].parent_span_id().empty());
}

TEST(Trace, SamplersDecideAndUnsampledSpansStillPropagate) {
  SdkOptions o = testing::QuietOptions();
  o.sampler = Sampler::kParentBasedTraceIdRatio;
  o.sampler_ratio = 0.25;
  SdkState sdk(o);
  Tracer tracer = Access::Make<Tracer>(sdk.Tracer("t", ""));
  int sampled = 0;
  for (int i = 0; i < 20000; ++i) {
    Span s = tracer.StartSpan("s");
    EXPECT_TRUE(s.context().IsValid());
    sampled += s.IsRecording();
    EXPECT_EQ(s.IsRecording(), s.context().IsSampled());
    if (i % 1000 == 0) {
      std::vector<SpanRecord*> batch;
      sdk.spans.Drain(batch, 100000);
      for (auto* r : batch) sdk.spans.Recycle(r);
    }
  }
  EXPECT_GT(sampled, 4000);
  EXPECT_LT(sampled, 6000);
  // Parent-based: a sampled parent's child is sampled, an unsampled one's is not.
  SpanContext parent;
  ASSERT_TRUE(ParseTraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", parent));
  for (int i = 0; i < 100; ++i)
    EXPECT_FALSE(tracer.StartSpan("c", {}, {SpanKind::kInternal, &parent}).IsRecording());
  parent.trace_flags = 1;
  for (int i = 0; i < 100; ++i)
    EXPECT_TRUE(tracer.StartSpan("c", {}, {SpanKind::kInternal, &parent}).IsRecording());
  SdkOptions off = testing::QuietOptions();
  off.sampler = Sampler::kAlwaysOff;
  SdkState sdk_off(off);
  Span s = Access::Make<Tracer>(sdk_off.Tracer("t", "")).StartSpan("s");
  EXPECT_FALSE(s.IsRecording());
  EXPECT_TRUE(s.context().IsValid());
}

TEST(Trace, LimitsTruncateAndCount) {
  SdkOptions o = testing::QuietOptions();
  o.span_attribute_count_limit = 2;
  o.span_event_count_limit = 1;
  o.attribute_value_length_limit = 4;
  SdkState sdk(o);
  Tracer tracer = Access::Make<Tracer>(sdk.Tracer("t", ""));
  {
    Span s = tracer.StartSpan("s", {{"a", "123456"}, {"b", 1}, {"c", 2}});
    s.AddEvent("e1");
    s.AddEvent("e2");
  }
  auto spans = AllSpans(DrainSpans(sdk));
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(testing::AttrString(spans[0]), "a=1234,b=1");
  EXPECT_EQ(spans[0].dropped_attributes_count(), 1u);
  EXPECT_EQ(spans[0].events_size(), 1);
  EXPECT_EQ(spans[0].dropped_events_count(), 1u);
}

TEST(Trace, EndIsIdempotentAndMovedSpansEndOnce) {
  SdkState sdk(testing::QuietOptions());
  Tracer tracer = Access::Make<Tracer>(sdk.Tracer("t", ""));
  {
    Span a = tracer.StartSpan("a");
    a.End();
    a.End();
    a.SetAttribute("late", 1);  // after End: ignored
    Span b = tracer.StartSpan("b");
    Span c = std::move(b);
    Span d;
    d = std::move(c);
  }
  auto spans = AllSpans(DrainSpans(sdk));
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].name(), "a");
  EXPECT_EQ(spans[0].attributes_size(), 0);
  EXPECT_EQ(spans[1].name(), "b");
}

TEST(Trace, RecordsAreReusedAndIdsAreUnique) {
  SdkState sdk(testing::QuietOptions());
  Tracer tracer = Access::Make<Tracer>(sdk.Tracer("t", ""));
  std::set<std::string> ids;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 100; ++i) {
      Span s = tracer.StartSpan("s", {{"i", i}});
      ids.insert(s.context().SpanIdHex());
    }
    DrainSpans(sdk);
  }
  EXPECT_EQ(ids.size(), 2000u);
  EXPECT_LE(sdk.spans.allocated(), 101u);  // reused, not made anew each round
}

TEST(Trace, SpansFromManyThreadsAllArrive) {
  SdkState sdk(testing::QuietOptions());
  Tracer tracer = Access::Make<Tracer>(sdk.Tracer("t", ""));
  std::atomic<bool> done{false};
  size_t drained = 0;
  std::thread drainer([&] {
    std::vector<SpanRecord*> batch;
    while (!done.load() || !sdk.spans.Empty()) {
      batch.clear();
      drained += sdk.spans.Drain(batch, 512);
      for (auto* r : batch) sdk.spans.Recycle(r);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) tracer.StartSpan("s", {{"n", i}});
    });
  }
  for (auto& t : threads) t.join();
  done.store(true);
  drainer.join();
  EXPECT_EQ(drained + sdk.spans.dropped(), 20000u);
  EXPECT_GT(drained, 0u);
}

}  // namespace
}  // namespace tributary::sdk
