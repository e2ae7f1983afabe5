#ifndef TRIBUTARY_RECEIVERS_OTLP_EXPORT_OUTCOME_H_
#define TRIBUTARY_RECEIVERS_OTLP_EXPORT_OUTCOME_H_

#include <grpcpp/support/status.h>

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "receivers/otlp/otlp_receiver.h"
#include "tributary/core/batch.h"
#include "tributary/core/component.h"

// What both OTLP transports share: handing a batch on and hearing its
// acknowledgement, and saying what became of it in OTLP's terms.
namespace tributary::receivers::otlp {

inline constexpr char kAckTimeout[] = "the pipeline did not acknowledge the data in time";

// The `reason` label of refused records.
const char* RefusalReason(const absl::Status& s);
grpc::StatusCode ToGrpcCode(const absl::Status& s);
int ToHttpStatus(const absl::Status& s);

// The Export*ServiceResponse of a signal, with partial success when records
// were refused.
std::unique_ptr<google::protobuf::Message> MakeResponse(core::Signal signal, const Outcome& o);

// Hands `batch` to `consumer`; `finish` hears, once and on any thread,
// Consume's refusal or the pipeline's acknowledgement.
void Hand(core::Consumer& consumer, core::Batch batch, std::function<void(absl::Status)> finish);

}  // namespace tributary::receivers::otlp

#endif  // TRIBUTARY_RECEIVERS_OTLP_EXPORT_OUTCOME_H_
