#include "tributary/core/batch.h"

#include <algorithm>
#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "tributary/core/byte_pool.h"
#include "tributary/core/component.h"

namespace tributary::core {

std::string_view SignalName(Signal signal) {
  switch (signal) {
    case Signal::kTraces:
      return "traces";
    case Signal::kMetrics:
      return "metrics";
    case Signal::kLogs:
      return "logs";
  }
  return "unknown";
}

std::string_view RecordKind(Signal signal) {
  switch (signal) {
    case Signal::kTraces:
      return "spans";
    case Signal::kMetrics:
      return "metric_points";
    case Signal::kLogs:
      return "logs";
  }
  return "unknown";
}

std::optional<Signal> ParseSignal(std::string_view name) {
  for (Signal s : kAllSignals) {
    if (SignalName(s) == name) return s;
  }
  return std::nullopt;
}

size_t CountRecords(const TracesRequest& request) {
  size_t n = 0;
  for (const auto& rs : request.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
  }
  return n;
}

size_t CountPoints(const opentelemetry::proto::metrics::v1::Metric& m) {
  using opentelemetry::proto::metrics::v1::Metric;
  switch (m.data_case()) {
    case Metric::kGauge:
      return m.gauge().data_points_size();
    case Metric::kSum:
      return m.sum().data_points_size();
    case Metric::kHistogram:
      return m.histogram().data_points_size();
    case Metric::kExponentialHistogram:
      return m.exponential_histogram().data_points_size();
    case Metric::kSummary:
      return m.summary().data_points_size();
    case Metric::DATA_NOT_SET:
      return 0;
  }
  return 0;
}

size_t CountRecords(const MetricsRequest& request) {
  size_t n = 0;
  for (const auto& rm : request.resource_metrics()) {
    for (const auto& sm : rm.scope_metrics()) {
      for (const auto& m : sm.metrics()) n += CountPoints(m);
    }
  }
  return n;
}

size_t CountRecords(const LogsRequest& request) {
  size_t n = 0;
  for (const auto& rl : request.resource_logs()) {
    for (const auto& sl : rl.scope_logs()) n += sl.log_records_size();
  }
  return n;
}

namespace {

// The null request of a signal: what a batch keeps in data_ while its wire
// state holds the request (Batch::Data is this variant).
std::variant<TracesRequest*, MetricsRequest*, LogsRequest*> NullRequest(Signal signal) {
  switch (signal) {
    case Signal::kMetrics:
      return static_cast<MetricsRequest*>(nullptr);
    case Signal::kLogs:
      return static_cast<LogsRequest*>(nullptr);
    case Signal::kTraces:
      break;
  }
  return static_cast<TracesRequest*>(nullptr);
}

}  // namespace

struct Batch::Wire {
  std::string bytes;
  std::once_flag once;
  std::atomic<bool> parsed{false};
  // Written once under `once`, read after it.
  bool ok = true;
  std::unique_ptr<google::protobuf::Arena> arena;  // owns `data` when set
  Data data{static_cast<TracesRequest*>(nullptr)};

  ~Wire() {
    if (!arena) std::visit([](auto* m) { delete m; }, data);
    byte_pool::Give(std::move(bytes));
  }
};

Batch::Batch(TracesRequest request) : data_(new TracesRequest(std::move(request))) {
  records_ = CountRecords(traces());
}
Batch::Batch(MetricsRequest request) : data_(new MetricsRequest(std::move(request))) {
  records_ = CountRecords(metrics());
}
Batch::Batch(LogsRequest request) : data_(new LogsRequest(std::move(request))) {
  records_ = CountRecords(logs());
}
Batch::Batch(std::unique_ptr<google::protobuf::Arena> arena, TracesRequest* request)
    : arena_(std::move(arena)), data_(request) {
  records_ = CountRecords(traces());
}
Batch::Batch(std::unique_ptr<google::protobuf::Arena> arena, MetricsRequest* request)
    : arena_(std::move(arena)), data_(request) {
  records_ = CountRecords(metrics());
}
Batch::Batch(std::unique_ptr<google::protobuf::Arena> arena, LogsRequest* request)
    : arena_(std::move(arena)), data_(request) {
  records_ = CountRecords(logs());
}

google::protobuf::ArenaOptions ArenaOptionsFor(size_t serialized_bytes) {
  google::protobuf::ArenaOptions options;
  // A multiple of 8: the arena keeps its cleanup list at a block's end,
  // aligned from the block's size.
  options.start_block_size =
      (std::clamp<size_t>(serialized_bytes, 4096, 128 << 10) + 7) & ~size_t{7};
  options.max_block_size = 128 << 10;
  return options;
}

Batch::Batch(Signal signal, std::string wire, size_t records)
    : data_(NullRequest(signal)), records_(records), wire_(new Wire) {
  wire_->bytes = std::move(wire);
}

Batch::Batch(const Batch& other) : records_(other.records_) {
  if (other.wire_) {
    // The copy is the bytes, parsed when someone asks.
    data_ = other.data_;
    wire_ = std::make_unique<Wire>();
    wire_->bytes = other.wire_->bytes;
    return;
  }
  data_ = std::visit(
      [](const auto* m) -> Data {
        return new std::remove_const_t<std::remove_pointer_t<decltype(m)>>(*m);
      },
      other.Parsed());
}

Batch& Batch::operator=(const Batch& other) {
  if (this != &other) *this = Batch(other);
  return *this;
}

Batch::Batch(Batch&& other) noexcept
    : arena_(std::move(other.arena_)),
      data_(other.data_),
      records_(other.records_),
      wire_(std::move(other.wire_)) {
  other.data_ =
      std::visit([](auto* m) -> Data { return new std::remove_pointer_t<decltype(m)>(); }, data_);
  other.records_ = 0;
}

Batch& Batch::operator=(Batch&& other) noexcept {
  if (this != &other) {
    Free();
    arena_ = std::move(other.arena_);
    data_ = other.data_;
    records_ = other.records_;
    wire_ = std::move(other.wire_);
    other.data_ =
        std::visit([](auto* m) -> Data { return new std::remove_pointer_t<decltype(m)>(); }, data_);
    other.records_ = 0;
  }
  return *this;
}

Batch::~Batch() { Free(); }

void Batch::Free() noexcept {
  if (arena_) {
    arena_.reset();  // the request goes with its arena
  } else {
    std::visit([](auto* m) { delete m; }, data_);
  }
}

const Batch::Data& Batch::ParseWire() const {
  Wire& w = *wire_;
  std::call_once(w.once, [&] {
    // One arena for the whole request: a few large allocations instead of
    // several per record, freed in one pass.
    w.arena = std::make_unique<google::protobuf::Arena>(ArenaOptionsFor(w.bytes.size()));
    w.data = std::visit(
        [&](auto* null) -> Data {
          using Request = std::remove_pointer_t<decltype(null)>;
          Request* m = google::protobuf::Arena::CreateMessage<Request>(w.arena.get());
          w.ok = m->ParseFromString(w.bytes);
          if (!w.ok) m->Clear();
          return m;
        },
        data_);
    w.parsed.store(true, std::memory_order_release);
  });
  return w.data;
}

absl::Status Batch::Parse() const {
  if (!wire_) return absl::OkStatus();
  ParseWire();
  if (wire_->ok) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("a serialized ", std::string(SignalName(signal())),
                                          " request of ", wire_->bytes.size(),
                                          " bytes does not parse"));
}

const std::string* Batch::wire() const { return wire_ ? &wire_->bytes : nullptr; }

void Batch::KeepWire(std::string bytes) {
  Mutable();
  auto w = std::make_unique<Wire>();
  w->bytes = std::move(bytes);
  w->arena = std::move(arena_);
  w->data = data_;
  std::call_once(w->once, [] {});
  w->parsed.store(true, std::memory_order_release);
  // The objects now belong to the wire state; data_ keeps only the signal.
  data_ = NullRequest(signal());
  wire_ = std::move(w);
}

bool Batch::Unparsed() const { return wire_ && !wire_->parsed.load(std::memory_order_acquire); }

const Batch::Data& Batch::Mutable() {
  if (wire_) {
    // The parsed request becomes the batch's own, with its arena.
    ParseWire();
    arena_ = std::move(wire_->arena);
    data_ = wire_->data;
    wire_->data = NullRequest(signal());
    wire_.reset();
  }
  return data_;
}

size_t Batch::ByteSize() const { return wire_ ? wire_->bytes.size() : message().ByteSizeLong(); }

const google::protobuf::Message& Batch::message() const {
  return std::visit([](const auto* m) -> const google::protobuf::Message& { return *m; }, Parsed());
}

// Two batches in wire form: the bytes of both, unparsed.
void Batch::AppendWire(const std::string& other) {
  if (Unparsed()) {
    wire_->bytes += other;
    return;
  }
  auto w = std::make_unique<Wire>();
  w->bytes.reserve(wire_->bytes.size() + other.size());
  w->bytes.append(wire_->bytes).append(other);
  wire_ = std::move(w);
}

void Batch::Append(const Batch& other) {
  if (wire_ && other.wire_) {
    AppendWire(other.wire_->bytes);
    records_ += other.records_;
    return;
  }
  std::visit(
      [&](auto* mine) {
        using T = std::decay_t<decltype(mine)>;
        mine->MergeFrom(*std::get<T>(other.Parsed()));
      },
      Mutable());
  records_ += other.records_;
}

namespace {

template <class Field>
void MoveElements(Field* to, Field* from) {
  to->Reserve(to->size() + from->size());
  for (auto& element : *from) to->Add()->Swap(&element);
  from->Clear();
}

void MoveResources(TracesRequest* to, TracesRequest* from) {
  MoveElements(to->mutable_resource_spans(), from->mutable_resource_spans());
}
void MoveResources(MetricsRequest* to, MetricsRequest* from) {
  MoveElements(to->mutable_resource_metrics(), from->mutable_resource_metrics());
}
void MoveResources(LogsRequest* to, LogsRequest* from) {
  MoveElements(to->mutable_resource_logs(), from->mutable_resource_logs());
}

}  // namespace

void Batch::Append(Batch&& other) {
  if (wire_ && other.wire_) {
    AppendWire(other.wire_->bytes);
    records_ += other.records_;
    // Left an empty request of its signal, as below, without an arena.
    other = Batch(other.signal(), std::string(), 0);
    return;
  }
  std::visit(
      [&](auto* mine) {
        using T = std::decay_t<decltype(mine)>;
        MoveResources(mine, std::get<T>(other.Mutable()));
      },
      Mutable());
  records_ += other.records_;
  switch (other.signal()) {
    case Signal::kTraces:
      other = Batch(TracesRequest());
      break;
    case Signal::kMetrics:
      other = Batch(MetricsRequest());
      break;
    case Signal::kLogs:
      other = Batch(LogsRequest());
      break;
  }
}

Batch TakeBatch(std::shared_ptr<const Batch>&& batch) {
  if (batch.use_count() == 1) {
    // Nobody else can see it: it is ours to take apart.
    Batch taken = std::move(*std::const_pointer_cast<Batch>(batch));
    batch.reset();
    return taken;
  }
  Batch copy = *batch;
  batch.reset();
  return copy;
}

namespace {

// How requests of one signal nest: resource, scope, record.
struct TracesShape {
  static const auto& Resources(const TracesRequest& r) { return r.resource_spans(); }
  static auto* AddResource(TracesRequest& r) { return r.add_resource_spans(); }
  static const auto& Scopes(const auto& resource) { return resource.scope_spans(); }
  static auto* AddScope(auto* resource) { return resource->add_scope_spans(); }
  static const auto& Records(const auto& scope) { return scope.spans(); }
  static void AddRecord(auto* scope, const auto& record) { *scope->add_spans() = record; }
};

struct LogsShape {
  static const auto& Resources(const LogsRequest& r) { return r.resource_logs(); }
  static auto* AddResource(LogsRequest& r) { return r.add_resource_logs(); }
  static const auto& Scopes(const auto& resource) { return resource.scope_logs(); }
  static auto* AddScope(auto* resource) { return resource->add_scope_logs(); }
  static const auto& Records(const auto& scope) { return scope.log_records(); }
  static void AddRecord(auto* scope, const auto& record) { *scope->add_log_records() = record; }
};

template <class Shape, class Request>
std::vector<Batch> SplitRequest(const Request& in, size_t max) {
  std::vector<Batch> out;
  Request current;
  size_t n = 0;
  decltype(Shape::AddResource(current)) resource = nullptr;
  decltype(Shape::AddScope(resource)) scope = nullptr;
  for (const auto& in_resource : Shape::Resources(in)) {
    resource = nullptr;
    for (const auto& in_scope : Shape::Scopes(in_resource)) {
      scope = nullptr;
      for (const auto& record : Shape::Records(in_scope)) {
        if (n == max) {
          out.emplace_back(std::move(current));
          current = Request();
          n = 0;
          resource = nullptr;
          scope = nullptr;
        }
        if (resource == nullptr) {
          resource = Shape::AddResource(current);
          *resource->mutable_resource() = in_resource.resource();
          resource->set_schema_url(in_resource.schema_url());
        }
        if (scope == nullptr) {
          scope = Shape::AddScope(resource);
          *scope->mutable_scope() = in_scope.scope();
          scope->set_schema_url(in_scope.schema_url());
        }
        Shape::AddRecord(scope, record);
        ++n;
      }
    }
  }
  if (n > 0) out.emplace_back(std::move(current));
  return out;
}

using opentelemetry::proto::metrics::v1::Metric;

// A copy of `m` without data points, and a way to add them one by one.
Metric MetricShell(const Metric& m) {
  Metric shell = m;
  switch (shell.data_case()) {
    case Metric::kGauge:
      shell.mutable_gauge()->clear_data_points();
      break;
    case Metric::kSum:
      shell.mutable_sum()->clear_data_points();
      break;
    case Metric::kHistogram:
      shell.mutable_histogram()->clear_data_points();
      break;
    case Metric::kExponentialHistogram:
      shell.mutable_exponential_histogram()->clear_data_points();
      break;
    case Metric::kSummary:
      shell.mutable_summary()->clear_data_points();
      break;
    case Metric::DATA_NOT_SET:
      break;
  }
  return shell;
}

void CopyPoint(const Metric& from, int i, Metric* to) {
  switch (from.data_case()) {
    case Metric::kGauge:
      *to->mutable_gauge()->add_data_points() = from.gauge().data_points(i);
      break;
    case Metric::kSum:
      *to->mutable_sum()->add_data_points() = from.sum().data_points(i);
      break;
    case Metric::kHistogram:
      *to->mutable_histogram()->add_data_points() = from.histogram().data_points(i);
      break;
    case Metric::kExponentialHistogram:
      *to->mutable_exponential_histogram()->add_data_points() =
          from.exponential_histogram().data_points(i);
      break;
    case Metric::kSummary:
      *to->mutable_summary()->add_data_points() = from.summary().data_points(i);
      break;
    case Metric::DATA_NOT_SET:
      break;
  }
}

std::vector<Batch> SplitMetrics(const MetricsRequest& in, size_t max) {
  std::vector<Batch> out;
  MetricsRequest current;
  size_t n = 0;
  opentelemetry::proto::metrics::v1::ResourceMetrics* resource = nullptr;
  opentelemetry::proto::metrics::v1::ScopeMetrics* scope = nullptr;
  Metric* metric = nullptr;
  for (const auto& in_resource : in.resource_metrics()) {
    resource = nullptr;
    for (const auto& in_scope : in_resource.scope_metrics()) {
      scope = nullptr;
      for (const Metric& in_metric : in_scope.metrics()) {
        metric = nullptr;
        std::optional<Metric> shell;
        for (int i = 0, end = static_cast<int>(CountPoints(in_metric)); i < end; ++i) {
          if (n == max) {
            out.emplace_back(std::move(current));
            current = MetricsRequest();
            n = 0;
            resource = nullptr;
            scope = nullptr;
            metric = nullptr;
          }
          if (resource == nullptr) {
            resource = current.add_resource_metrics();
            *resource->mutable_resource() = in_resource.resource();
            resource->set_schema_url(in_resource.schema_url());
          }
          if (scope == nullptr) {
            scope = resource->add_scope_metrics();
            *scope->mutable_scope() = in_scope.scope();
            scope->set_schema_url(in_scope.schema_url());
          }
          if (metric == nullptr) {
            if (!shell) shell = MetricShell(in_metric);
            metric = scope->add_metrics();
            *metric = *shell;
          }
          CopyPoint(in_metric, i, metric);
          ++n;
        }
      }
    }
  }
  if (n > 0) out.emplace_back(std::move(current));
  return out;
}

}  // namespace

std::vector<Batch> Batch::Split(size_t max_records) && {
  if (max_records == 0 || records_ <= max_records) {
    std::vector<Batch> whole;
    whole.push_back(std::move(*this));
    return whole;
  }
  switch (signal()) {
    case Signal::kTraces:
      return SplitRequest<TracesShape>(traces(), max_records);
    case Signal::kLogs:
      return SplitRequest<LogsShape>(logs(), max_records);
    case Signal::kMetrics:
      return SplitMetrics(metrics(), max_records);
  }
  return {};
}

bool IsRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
      return true;
    default:
      return false;
  }
}

Ack::~Ack() {
  if (callback_) callback_(status_);
}

void Ack::Fail(const absl::Status& status) {
  if (status.ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (status_.ok() || (!IsRetryable(status_) && IsRetryable(status))) status_ = status;
}

absl::StatusOr<ComponentId> ComponentId::Parse(std::string_view text) {
  ComponentId id;
  size_t slash = text.find('/');
  id.type = std::string(text.substr(0, slash));
  if (slash != std::string_view::npos) {
    id.name = std::string(text.substr(slash + 1));
    if (id.name.empty()) return absl::InvalidArgumentError("empty name after '/'");
  }
  if (id.type.empty()) return absl::InvalidArgumentError("empty component type");
  for (char c : id.type) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
      return absl::InvalidArgumentError("component type may hold only letters, digits and '_'");
    }
  }
  return id;
}

namespace {

// The three levels of a logs or traces request, read and written.
struct LogsLevels {
  static const auto& Resources(const LogsRequest& r) { return r.resource_logs(); }
  static auto& Resources(LogsRequest& r) { return *r.mutable_resource_logs(); }
  template <class R>
  static const auto& Scopes(const R& r) {
    return r.scope_logs();
  }
  template <class R>
  static auto& Scopes(R& r) {
    return *r.mutable_scope_logs();
  }
  template <class S>
  static const auto& Records(const S& s) {
    return s.log_records();
  }
  template <class S>
  static auto& Records(S& s) {
    return *s.mutable_log_records();
  }
};
struct TracesLevels {
  static const auto& Resources(const TracesRequest& r) { return r.resource_spans(); }
  static auto& Resources(TracesRequest& r) { return *r.mutable_resource_spans(); }
  template <class R>
  static const auto& Scopes(const R& r) {
    return r.scope_spans();
  }
  template <class R>
  static auto& Scopes(R& r) {
    return *r.mutable_scope_spans();
  }
  template <class S>
  static const auto& Records(const S& s) {
    return s.spans();
  }
  template <class S>
  static auto& Records(S& s) {
    return *s.mutable_spans();
  }
};

// Copies the records at `refs` (sorted) of `in` into `out`, each resource
// and scope once.
template <class L, class Request>
void CopySelected(const Request& in, const std::vector<RecordRef>& refs, Request* out) {
  int last_resource = -1;
  int last_scope = -1;
  decltype(L::Resources(*out).Add()) resource = nullptr;
  decltype(L::Scopes(*resource).Add()) scope = nullptr;
  for (const RecordRef& ref : refs) {
    const auto& r = L::Resources(in).Get(static_cast<int>(ref.resource));
    if (static_cast<int>(ref.resource) != last_resource) {
      resource = L::Resources(*out).Add();
      *resource->mutable_resource() = r.resource();
      resource->set_schema_url(r.schema_url());
      last_resource = static_cast<int>(ref.resource);
      last_scope = -1;
    }
    const auto& s = L::Scopes(r).Get(static_cast<int>(ref.scope));
    if (static_cast<int>(ref.scope) != last_scope) {
      scope = L::Scopes(*resource).Add();
      *scope->mutable_scope() = s.scope();
      scope->set_schema_url(s.schema_url());
      last_scope = static_cast<int>(ref.scope);
    }
    *L::Records(*scope).Add() = L::Records(s).Get(static_cast<int>(ref.record));
  }
}

}  // namespace

Batch SelectRecords(const Batch& batch, std::vector<RecordRef> refs) {
  std::sort(refs.begin(), refs.end());
  if (batch.signal() == Signal::kLogs) {
    LogsRequest out;
    CopySelected<LogsLevels>(batch.logs(), refs, &out);
    return Batch(std::move(out));
  }
  TracesRequest out;
  CopySelected<TracesLevels>(batch.traces(), refs, &out);
  return Batch(std::move(out));
}

}  // namespace tributary::core
