// OTLP/JSON written from the wire form against the same JSON written from
// the parsed objects by reflection (the encoder it replaced, kept here as the
// oracle): any request protobuf parses gives the same bytes, whatever its
// field order, repetitions, merges, packing and unknown fields. The first
// byte picks the signal.
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "tributary/core/batch.h"
#include "tributary/core/otlp_codec.h"

namespace {

namespace pb = google::protobuf;
using tributary::core::Signal;

// The protobuf JSON mapping by reflection: lowerCamelCase names, 64-bit
// integers as strings, fields at their default left out, enums as numbers,
// trace and span ids in hex.
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void Message(const pb::Message& m) {
    const pb::Reflection* r = m.GetReflection();
    // One list of fields per nesting level, reused from message to message.
    if (depth_ == fields_.size()) fields_.emplace_back();
    std::vector<const pb::FieldDescriptor*>& fields = fields_[depth_];
    fields.clear();
    r->ListFields(m, &fields);
    ++depth_;
    out_->push_back('{');
    bool first = true;
    for (const pb::FieldDescriptor* f : fields) {
      if (!first) out_->push_back(',');
      first = false;
      out_->push_back('"');
      out_->append(f->json_name());
      out_->append("\":");
      if (f->is_repeated()) {
        out_->push_back('[');
        const int n = r->FieldSize(m, f);
        for (int i = 0; i < n; ++i) {
          if (i > 0) out_->push_back(',');
          Repeated(m, r, f, i);
        }
        out_->push_back(']');
      } else {
        Singular(m, r, f);
      }
    }
    out_->push_back('}');
    --depth_;
  }

 private:
  static bool IsId(const pb::FieldDescriptor* f) {
    const std::string& name = f->name();
    return name == "trace_id" || name == "span_id" || name == "parent_span_id";
  }

  void Singular(const pb::Message& m, const pb::Reflection* r, const pb::FieldDescriptor* f) {
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        absl::StrAppend(out_, r->GetInt32(m, f));
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        absl::StrAppend(out_, r->GetUInt32(m, f));
        break;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        absl::StrAppend(out_, "\"", r->GetInt64(m, f), "\"");
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        absl::StrAppend(out_, "\"", r->GetUInt64(m, f), "\"");
        break;
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
        Double(r->GetDouble(m, f));
        break;
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
        Double(r->GetFloat(m, f));
        break;
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        out_->append(r->GetBool(m, f) ? "true" : "false");
        break;
      case pb::FieldDescriptor::CPPTYPE_ENUM:
        absl::StrAppend(out_, r->GetEnumValue(m, f));
        break;
      case pb::FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& value = r->GetStringReference(m, f, &scratch);
        String(value, f->type() == pb::FieldDescriptor::TYPE_BYTES, IsId(f));
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_MESSAGE:
        Message(r->GetMessage(m, f));
        break;
    }
  }

  void Repeated(const pb::Message& m, const pb::Reflection* r, const pb::FieldDescriptor* f,
                int i) {
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        absl::StrAppend(out_, r->GetRepeatedInt32(m, f, i));
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        absl::StrAppend(out_, r->GetRepeatedUInt32(m, f, i));
        break;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        absl::StrAppend(out_, "\"", r->GetRepeatedInt64(m, f, i), "\"");
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        absl::StrAppend(out_, "\"", r->GetRepeatedUInt64(m, f, i), "\"");
        break;
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
        Double(r->GetRepeatedDouble(m, f, i));
        break;
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
        Double(r->GetRepeatedFloat(m, f, i));
        break;
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        out_->append(r->GetRepeatedBool(m, f, i) ? "true" : "false");
        break;
      case pb::FieldDescriptor::CPPTYPE_ENUM:
        absl::StrAppend(out_, r->GetRepeatedEnumValue(m, f, i));
        break;
      case pb::FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& value = r->GetRepeatedStringReference(m, f, i, &scratch);
        String(value, f->type() == pb::FieldDescriptor::TYPE_BYTES, false);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_MESSAGE:
        Message(r->GetRepeatedMessage(m, f, i));
        break;
    }
  }

  void Double(double v) {
    if (std::isnan(v)) {
      out_->append("\"NaN\"");
    } else if (std::isinf(v)) {
      out_->append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    } else {
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
      out_->append(buf, static_cast<size_t>(end - buf));
    }
  }

  void String(const std::string& value, bool bytes, bool id) {
    out_->push_back('"');
    if (id) {
      out_->append(absl::BytesToHexString(value));
    } else if (bytes) {
      out_->append(absl::Base64Escape(value));
    } else {
      tributary::core::AppendJsonEscaped(value, out_);
    }
    out_->push_back('"');
  }

  std::string* out_;
  std::vector<std::vector<const pb::FieldDescriptor*>> fields_;
  size_t depth_ = 0;
};

template <typename Request>
void Compare(Signal signal, std::string_view bytes) {
  std::string wire;
  const bool read = tributary::core::AppendOtlpJson(signal, bytes, &wire);
  Request request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  if (!read) __builtin_trap();  // whatever protobuf parses, the writer reads
  std::string reflected;
  JsonWriter(&reflected).Message(request);
  if (wire != reflected) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0:
      Compare<tributary::core::TracesRequest>(Signal::kTraces, bytes);
      break;
    case 1:
      Compare<tributary::core::MetricsRequest>(Signal::kMetrics, bytes);
      break;
    default:
      Compare<tributary::core::LogsRequest>(Signal::kLogs, bytes);
  }
  return 0;
}
