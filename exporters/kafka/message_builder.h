#ifndef TRIBUTARY_EXPORTERS_KAFKA_MESSAGE_BUILDER_H_
#define TRIBUTARY_EXPORTERS_KAFKA_MESSAGE_BUILDER_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/kafka/kafka_client.h"
#include "tributary/core/batch.h"

namespace tributary::exporters::kafka {

struct MessageOptions {
  common::kafka::Encoding encoding = common::kafka::Encoding::kOtlpProto;
  std::string topic;                 // the signal's topic
  std::string topic_from_attribute;  // resource attribute naming the topic instead
  bool key_by_trace_id = true;       // spans: key = trace id, one trace per message
  bool key_by_resource = true;       // logs, metrics: key = hash of the resource
  size_t max_message_bytes = 1000000;
};

// One Kafka message: an OTLP export request of its own.
struct Message {
  std::string topic;
  std::string key;  // empty: no key
  std::string value;
  size_t records = 0;
};

// The messages a batch becomes, composed from its serialized form (the
// bytes it holds, or its objects serialized once). Records are grouped by
// topic and key (resource attribute hash, or trace id), keep their resource
// and scope, and are cut so that no value exceeds max_message_bytes. A
// record too large for a message on its own goes to `oversized` as a batch
// of its own. False when the batch's bytes do not parse.
bool BuildMessages(const core::Batch& batch, const MessageOptions& options,
                   std::vector<Message>* messages, std::vector<core::Batch>* oversized);

// A stable hash of a serialized resource's attributes, independent of their
// order, as 16 hex digits: the same service on every node gets the same key.
std::string ResourceKey(std::string_view resource);

}  // namespace tributary::exporters::kafka

#endif  // TRIBUTARY_EXPORTERS_KAFKA_MESSAGE_BUILDER_H_
