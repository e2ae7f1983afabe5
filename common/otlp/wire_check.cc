#include "common/otlp/wire_check.h"

#include <map>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "tributary/core/utf8.h"
#include "tributary/core/wire.h"

namespace tributary::common::otlp {
namespace {

namespace pb = google::protobuf;
using core::wire::Field;
using core::wire::Reader;
using core::wire::Type;

// Nesting of attribute values that ApplyRecordLimits keeps (deeper values
// are cut), and of messages this check follows (protobuf's parser stops at
// 100).
constexpr int kMaxValueDepth = 16;
constexpr int kMaxMessageDepth = 64;

// What the check does with a field besides reading it.
enum class Role : uint8_t {
  kPlain,
  kRecord,      // a span, log record or metric data point: counted
  kAttributes,  // an attribute list ApplyRecordLimits bounds
  kBody,        // a log record's body, bounded like an attribute value
};

struct Table;

struct FieldInfo {
  bool known = false;
  bool repeated = false;
  pb::FieldDescriptor::Type type = pb::FieldDescriptor::TYPE_INT32;
  int oneof = -1;                  // index of the oneof it belongs to, else -1
  const Table* message = nullptr;  // of a message field
  Role role = Role::kPlain;
};

struct Table {
  const pb::Descriptor* descriptor = nullptr;
  std::vector<FieldInfo> fields;  // by field number
  int oneofs = 0;
};

// The tables of every message an export request holds, made once.
class Tables {
 public:
  Tables() {
    for (core::Signal signal : core::kAllSignals)
      request_[static_cast<int>(signal)] = Add(Request(signal));
    // Lists that ApplyRecordLimits bounds: those of resources, scopes,
    // spans, events, links, log records and data points.
    namespace common = opentelemetry::proto::common::v1;
    namespace logs = opentelemetry::proto::logs::v1;
    namespace metrics = opentelemetry::proto::metrics::v1;
    namespace trace = opentelemetry::proto::trace::v1;
    for (const pb::Descriptor* d :
         {opentelemetry::proto::resource::v1::Resource::descriptor(),
          common::InstrumentationScope::descriptor(), trace::Span::descriptor(),
          trace::Span::Event::descriptor(), trace::Span::Link::descriptor(),
          logs::LogRecord::descriptor(), metrics::NumberDataPoint::descriptor(),
          metrics::HistogramDataPoint::descriptor(),
          metrics::ExponentialHistogramDataPoint::descriptor(),
          metrics::SummaryDataPoint::descriptor()}) {
      SetRole(d, "attributes", Role::kAttributes);
    }
    SetRole(logs::LogRecord::descriptor(), "body", Role::kBody);
    SetRole(trace::ScopeSpans::descriptor(), "spans", Role::kRecord);
    SetRole(logs::ScopeLogs::descriptor(), "log_records", Role::kRecord);
    for (const pb::Descriptor* d :
         {metrics::Gauge::descriptor(), metrics::Sum::descriptor(),
          metrics::Histogram::descriptor(), metrics::ExponentialHistogram::descriptor(),
          metrics::Summary::descriptor()}) {
      SetRole(d, "data_points", Role::kRecord);
    }
    span_ = &tables_.at(trace::Span::descriptor());
    log_ = &tables_.at(logs::LogRecord::descriptor());
    metric_ = &tables_.at(metrics::Metric::descriptor());
    any_value_ = &tables_.at(common::AnyValue::descriptor());
  }

  const Table* request(core::Signal signal) const { return request_[static_cast<int>(signal)]; }
  const Table* span_ = nullptr;
  const Table* log_ = nullptr;
  const Table* metric_ = nullptr;
  const Table* any_value_ = nullptr;

 private:
  static const pb::Descriptor* Request(core::Signal signal) {
    switch (signal) {
      case core::Signal::kTraces:
        return core::TracesRequest::descriptor();
      case core::Signal::kMetrics:
        return core::MetricsRequest::descriptor();
      case core::Signal::kLogs:
        return core::LogsRequest::descriptor();
    }
    return nullptr;
  }

  Table* Add(const pb::Descriptor* d) {
    auto [it, inserted] = tables_.try_emplace(d);
    Table& t = it->second;
    if (!inserted) return &t;
    t.descriptor = d;
    t.oneofs = d->real_oneof_decl_count();
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* f = d->field(i);
      if (static_cast<size_t>(f->number()) >= t.fields.size()) t.fields.resize(f->number() + 1);
      FieldInfo info;
      info.known = true;
      info.repeated = f->is_repeated();
      info.type = f->type();
      if (f->real_containing_oneof() != nullptr) info.oneof = f->real_containing_oneof()->index();
      t.fields[f->number()] = info;
    }
    // Message fields after the table exists, so that recursive messages
    // (AnyValue in ArrayValue in AnyValue) find it.
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* f = d->field(i);
      if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE) {
        t.fields[f->number()].message = Add(f->message_type());
      }
    }
    return &t;
  }

  // Every table must exist (reached from a request), and so must the field.
  void SetRole(const pb::Descriptor* message, const char* field, Role role) {
    tables_.at(message).fields[message->FindFieldByName(field)->number()].role = role;
  }

  std::map<const pb::Descriptor*, Table> tables_;
  const Table* request_[3] = {};
};

const Tables& TheTables() {
  static const Tables* tables = new Tables;
  return *tables;
}

// The wire type a field of `type` is written with when not packed.
Type WireTypeOf(pb::FieldDescriptor::Type type) {
  switch (type) {
    case pb::FieldDescriptor::TYPE_DOUBLE:
    case pb::FieldDescriptor::TYPE_FIXED64:
    case pb::FieldDescriptor::TYPE_SFIXED64:
      return Type::kFixed64;
    case pb::FieldDescriptor::TYPE_FLOAT:
    case pb::FieldDescriptor::TYPE_FIXED32:
    case pb::FieldDescriptor::TYPE_SFIXED32:
      return Type::kFixed32;
    case pb::FieldDescriptor::TYPE_STRING:
    case pb::FieldDescriptor::TYPE_BYTES:
    case pb::FieldDescriptor::TYPE_MESSAGE:
    case pb::FieldDescriptor::TYPE_GROUP:
      return Type::kLen;
    default:
      return Type::kVarint;
  }
}

// A packed run of scalars that protobuf's parser reads whole.
bool ValidPacked(Type element, std::string_view bytes) {
  switch (element) {
    case Type::kFixed64:
      return bytes.size() % 8 == 0;
    case Type::kFixed32:
      return bytes.size() % 4 == 0;
    default: {
      const char* p = bytes.data();
      const char* end = p + bytes.size();
      uint64_t value;
      while (p < end) {
        if (!core::wire::ReadVarint(&p, end, &value)) return false;
      }
      return true;
    }
  }
}

class Checker {
 public:
  Checker(const Tables& tables, const RecordLimits& limits)
      : tables_(tables),
        max_attributes_(static_cast<size_t>(limits.max_attributes)),
        max_length_(limits.max_attribute_value_length.bytes),
        limited_(limits.max_attributes != 0 || limits.max_attribute_value_length.bytes != 0) {}

  // Reads one message of `table`; `value_depth` is the depth of an
  // attribute value being bounded (-1 outside one).
  bool Message(const Table& table, std::string_view bytes, int depth, int value_depth) {
    if (depth > kMaxMessageDepth) return false;
    const bool any_value = &table == tables_.any_value_;
    if (any_value && value_depth > kMaxValueDepth) return false;  // ApplyRecordLimits cuts it
    // Singular fields and oneofs seen, to refuse what protobuf would merge.
    uint64_t seen = 0;
    uint32_t oneofs_seen = 0;
    size_t attributes = 0;
    // Lengths of the singular bytes and string fields read: sizes[n] holds
    // one only where `seen` has bit n (left uninitialised, it costs nothing
    // for the many small messages of a request).
    size_t sizes[16];
    Reader reader(bytes);
    Field f;
    while (reader.Next(&f)) {
      if (f.number >= table.fields.size() || !table.fields[f.number].known) continue;
      const FieldInfo& info = table.fields[f.number];
      const Type want = WireTypeOf(info.type);
      if (f.type != want) {
        if (!(info.repeated && want != Type::kLen && f.type == Type::kLen &&
              ValidPacked(want, f.bytes))) {
          return false;
        }
        continue;
      }
      if (!info.repeated) {
        if (f.number < 64) {
          if (seen & (uint64_t{1} << f.number)) return false;
          seen |= uint64_t{1} << f.number;
        } else {
          return false;
        }
        if (info.oneof >= 0) {
          if (oneofs_seen & (1u << info.oneof)) return false;
          oneofs_seen |= 1u << info.oneof;
        }
        if (f.number < 16 && f.type == Type::kLen) sizes[f.number] = f.bytes.size();
      }
      switch (info.type) {
        case pb::FieldDescriptor::TYPE_STRING:
          if (!core::utf8::IsValid(f.bytes)) return false;
          if (any_value && value_depth >= 0 && f.number == 1 && TooLong(f.bytes)) return false;
          break;
        case pb::FieldDescriptor::TYPE_BYTES:
          if (any_value && value_depth >= 0 && f.number == 7 && TooLong(f.bytes)) return false;
          break;
        case pb::FieldDescriptor::TYPE_MESSAGE: {
          const Table& child = *info.message;
          int child_value_depth = value_depth;
          if (limited_ && info.role == Role::kAttributes) {
            ++attributes;
            child_value_depth = 0;  // the KeyValue's value is at depth 0
          } else if (limited_ && info.role == Role::kBody) {
            child_value_depth = 0;
          } else if (value_depth >= 0 && any_value) {
            child_value_depth = value_depth + 1;  // array or kvlist items
          }
          if (info.role == Role::kRecord) ++records_;
          if (!Message(child, f.bytes, depth + 1, child_value_depth)) return false;
          break;
        }
        default:
          break;
      }
    }
    if (!reader.ok()) return false;
    if (limited_ && max_attributes_ > 0 && attributes > max_attributes_) return false;
    const auto size = [&](uint32_t n) -> size_t { return (seen >> n) & 1 ? sizes[n] : 0; };
    // The records core::RemoveInvalidRecords removes.
    if (&table == tables_.span_) {
      // trace_id 1, span_id 2, parent_span_id 4.
      if (size(1) != 16 || size(2) != 8 || (size(4) != 0 && size(4) != 8)) return false;
    } else if (&table == tables_.log_) {
      // trace_id 9, span_id 10.
      if ((size(9) != 0 && size(9) != 16) || (size(10) != 0 && size(10) != 8)) return false;
    } else if (&table == tables_.metric_) {
      if (size(1) == 0) return false;  // name 1
    }
    return true;
  }

  size_t records() const { return records_; }

 private:
  bool TooLong(std::string_view value) const {
    return max_length_ > 0 && value.size() > max_length_;
  }

  const Tables& tables_;
  const size_t max_attributes_;
  const uint64_t max_length_;
  const bool limited_;
  size_t records_ = 0;
};

}  // namespace

std::optional<size_t> PassesUnchanged(core::Signal signal, std::string_view request,
                                      const RecordLimits& limits) {
  const Tables& tables = TheTables();
  Checker checker(tables, limits);
  if (!checker.Message(*tables.request(signal), request, 0, -1)) return std::nullopt;
  return checker.records();
}

}  // namespace tributary::common::otlp
