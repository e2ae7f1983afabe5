#ifndef TRIBUTARY_COMMON_OTLP_SPAN_VIEW_H_
#define TRIBUTARY_COMMON_OTLP_SPAN_VIEW_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tributary/core/wire.h"

namespace tributary::common::otlp {

// The fields of a serialized span that aggregation reads, taken from its
// wire form without building a Span object. Each singular field is what a
// protobuf parser keeps: the last one written (the status, a message, is the
// merge of its occurrences, so its code is the last code written). The
// views point into the span's bytes.
struct SpanView {
  std::string_view trace_id;        // 1
  std::string_view span_id;         // 2
  std::string_view parent_span_id;  // 4
  std::string_view name;            // 5
  int kind = 0;                     // 6
  uint64_t start = 0;               // 7
  uint64_t end = 0;                 // 8
  int status_code = 0;              // 15.3
  std::string_view bytes;           // the whole span, for its attributes (9)

  // False when the bytes are malformed where a parser would fail.
  bool Read(std::string_view span);
  // Nanoseconds from start to end; 0 for a span that ends before it starts.
  uint64_t duration() const { return end > start ? end - start : 0; }
};

// The spans of a serialized ExportTraceServiceRequest by resource block,
// read without building objects: each block's resource (its occurrences
// merged, as a parser does) and its spans in order, across its scope blocks.
// Its storage is kept from one Read to the next.
class SpansReader {
 public:
  // False when the request is malformed where a parser would fail.
  bool Read(std::string_view request);

  size_t blocks() const { return blocks_.size(); }
  // Block `b`'s serialized Resource.
  std::string_view resource(size_t b) const;
  const SpanView* begin(size_t b) const { return spans_.data() + blocks_[b].first; }
  const SpanView* end(size_t b) const { return spans_.data() + blocks_[b].last; }
  size_t spans() const { return spans_.size(); }

 private:
  struct Block {
    std::string_view resource;
    bool has_resource = false;
    size_t merged = 0;  // 1 + index in merged_ when the resource occurs more than once
    size_t first = 0, last = 0;
  };
  std::vector<Block> blocks_;
  std::vector<std::string> merged_;
  std::vector<SpanView> spans_;
};

// What an attribute lookup's result may point into, when the value was
// written in pieces that had to be joined.
struct AttributeScratch {
  core::wire::MessageField value;
  core::wire::AnyValue any;
};

// The value of the first attribute `key` among the KeyValues of field
// `number` of `message` (9 of a span, 1 of a resource), as its serialized
// AnyValue in `value`; false without one.
bool FindAttribute(std::string_view message, uint32_t number, std::string_view key,
                   core::wire::MessageField* value);
// The values of several keys in one pass: values[i] gets the value of the
// first attribute keys[i] (reset when there is none).
void FindAttributes(std::string_view message, uint32_t number, const std::string* keys,
                    size_t count, core::wire::MessageField* values);
// The string value of that attribute; empty when it is absent or not a
// string. The view points into `message` or `scratch` (valid until its next
// use).
std::string_view FindString(std::string_view message, uint32_t number, std::string_view key,
                            AttributeScratch* scratch);

}  // namespace tributary::common::otlp

#endif  // TRIBUTARY_COMMON_OTLP_SPAN_VIEW_H_
