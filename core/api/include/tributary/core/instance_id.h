#ifndef TRIBUTARY_CORE_INSTANCE_ID_H_
#define TRIBUTARY_CORE_INSTANCE_ID_H_

#include <string>

namespace tributary::core {

// This process's instance id: a random UUID (version 4) made on first use,
// the same for every component of the process. Components that aggregate
// put it on what they emit (`collector.instance.id`), so that the series of
// several collectors fed by one load balancer or consumer group stay apart
// and add up.
const std::string& ProcessInstanceId();

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_INSTANCE_ID_H_
