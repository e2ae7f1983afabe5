#ifndef TRIBUTARY_CORE_ATTRIBUTES_H_
#define TRIBUTARY_CORE_ATTRIBUTES_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "opentelemetry/proto/common/v1/common.pb.h"

namespace tributary::core {

using Attributes = google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>;

// Appends one string attribute.
inline void AddStringAttribute(Attributes* attrs, std::string_view key, std::string_view value) {
  auto* kv = attrs->Add();
  kv->set_key(std::string(key));
  kv->mutable_value()->set_string_value(std::string(value));
}

// Appends string attributes in the order given.
template <class Pairs>
void AddStringAttributes(Attributes* attrs, const Pairs& pairs) {
  for (const auto& [k, v] : pairs) AddStringAttribute(attrs, k, v);
}

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_ATTRIBUTES_H_
