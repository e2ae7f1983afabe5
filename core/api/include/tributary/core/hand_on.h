#ifndef TRIBUTARY_CORE_HAND_ON_H_
#define TRIBUTARY_CORE_HAND_ON_H_

#include <string>

#include "absl/status/status.h"
#include "tributary/core/batch.h"
#include "tributary/core/component.h"

namespace tributary::core {

// For receivers that make their data themselves (host metrics, scrapes,
// StatsD): hands `batch` to `consumer` as one envelope whose acknowledgement
// counts its records for `receiver` as accepted, or as refused (retryable) or
// failed. When the consumer refuses it, the acknowledgement is settled with
// that error. Returns the consumer's answer.
absl::Status HandOn(Consumer& consumer, const std::string& receiver, const std::string& transport,
                    Batch batch);

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_HAND_ON_H_
