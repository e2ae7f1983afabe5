#ifndef TRIBUTARY_COMMON_OTLP_WIRE_REQUEST_H_
#define TRIBUTARY_COMMON_OTLP_WIRE_REQUEST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tributary::common::otlp {

// Where one record (span, metric, log record) stands in a request.
struct WireRef {
  uint32_t resource;
  uint32_t scope;
  uint32_t record;
};

// A serialized OTLP export request taken apart without parsing it, to
// compose requests of some of its records from the bytes as they are.
//
// The three request types share one shape: field 1 of the request is a
// repeated resource block {1: resource, 2: repeated scope block, 3:
// schema_url}, a scope block is {1: scope, 2: repeated record, 3:
// schema_url}. A block's other fields and each record are copied as they
// are. The request's bytes must outlive this object.
class WireRequest {
 public:
  // False when the bytes are not a request of that shape.
  bool Read(std::string_view request);

  size_t resources() const { return resources_.size(); }
  size_t scopes(uint32_t resource) const { return resources_[resource].scopes.size(); }
  size_t records(uint32_t resource, uint32_t scope) const {
    return resources_[resource].scopes[scope].records.size();
  }
  // A resource block's resource (field 1, its occurrences merged).
  std::string_view resource(uint32_t r) const { return resources_[r].resource; }
  std::string_view record(const WireRef& ref) const {
    return resources_[ref.resource].scopes[ref.scope].records[ref.record];
  }

  // The serialized request holding refs[begin, end), which are in order.
  std::string Compose(const std::vector<WireRef>& refs, size_t begin, size_t end) const;
  std::string Compose(const std::vector<WireRef>& refs) const {
    return Compose(refs, 0, refs.size());
  }

  // Sizes of the parts a request adds for a record: the record itself, and
  // the resource and scope blocks' other fields (and headers, at most 8
  // bytes) when it starts a new block.
  size_t RecordSize(const WireRef& ref) const;
  size_t ScopeOverhead(const WireRef& ref) const;
  size_t ResourceOverhead(const WireRef& ref) const;

 private:
  // A block's fields other than its repeated part, as serialized: those
  // before the first element, and those after (a field between elements
  // goes after).
  struct Block {
    std::string head;
    std::string tail;
    size_t OtherSize() const { return head.size() + tail.size(); }
  };
  struct Scope {
    Block block;
    std::vector<std::string_view> records;
  };
  struct Resource {
    Block block;
    std::string resource;
    std::vector<Scope> scopes;
  };
  const Scope& ScopeOf(const WireRef& ref) const {
    return resources_[ref.resource].scopes[ref.scope];
  }
  // refs[i, j) share a scope block; a resource block.
  size_t ScopeBlockSize(const std::vector<WireRef>& refs, size_t i, size_t j) const;
  size_t ResourceBlockSize(const std::vector<WireRef>& refs, size_t i, size_t j) const;
  size_t Size(const std::vector<WireRef>& refs, size_t begin, size_t end) const;

  std::vector<Resource> resources_;
};

// A span's or log record's trace id, as a parser keeps it (the last one
// written): field 1 of a span, 9 of a log record.
std::string_view SpanTraceId(std::string_view span);
std::string_view LogTraceId(std::string_view log_record);

}  // namespace tributary::common::otlp

#endif  // TRIBUTARY_COMMON_OTLP_WIRE_REQUEST_H_
