#ifndef TRIBUTARY_RECEIVERS_OTLP_GRPC_TRANSPORT_H_
#define TRIBUTARY_RECEIVERS_OTLP_GRPC_TRANSPORT_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/service_type.h>

#include <memory>

#include "receivers/otlp/otlp_receiver.h"
#include "tributary/core/memory_budget.h"

namespace tributary::receivers::otlp {

// Registers the three OTLP Export methods over raw byte buffers with gRPC's
// callback API, so that the receiver decodes requests itself (a malformed
// message is answered with INVALID_ARGUMENT as OTLP specifies, and parsed
// once) and a call waiting for its acknowledgement holds no thread.
class OtlpReceiver::GrpcService : public grpc::Service {
 public:
  explicit GrpcService(OtlpReceiver* receiver);

 private:
  void Add(int index, const char* path, core::Signal signal);
  // What can be refused before decoding: a wrong token, too many calls in
  // progress, a request the memory budget cannot hold.
  grpc::Status Admit(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer& request,
                     std::shared_ptr<core::MemoryBudget::Reservation>* reservation);
  grpc::ServerUnaryReactor* Export(core::Signal signal, grpc::CallbackServerContext* ctx,
                                   const grpc::ByteBuffer& request, grpc::ByteBuffer* response);

  OtlpReceiver* receiver_;
};

}  // namespace tributary::receivers::otlp

#endif  // TRIBUTARY_RECEIVERS_OTLP_GRPC_TRANSPORT_H_
