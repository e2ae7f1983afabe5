#include "tributary/core/hand_on.h"

#include "tributary/core/telemetry.h"

namespace tributary::core {

absl::Status HandOn(Consumer& consumer, const std::string& receiver, const std::string& transport,
                    Batch batch) {
  const Signal signal = batch.signal();
  const double records = static_cast<double>(batch.record_count());
  Envelope envelope;
  envelope.batch = std::make_shared<const Batch>(std::move(batch));
  auto ack = std::make_shared<Ack>([receiver, transport, signal, records](const absl::Status& s) {
    Telemetry& t = Telemetry::Get();
    if (s.ok()) {
      t.ReceiverAccepted(receiver, signal, transport).Increment(records);
    } else {
      t.ReceiverRefused(receiver, signal, transport, IsRetryable(s) ? "refused" : "failed")
          .Increment(records);
    }
  });
  envelope.acks.push_back(ack);
  const absl::Status status = consumer.Consume(std::move(envelope));
  if (!status.ok()) ack->Fail(status);
  return status;
}

}  // namespace tributary::core
