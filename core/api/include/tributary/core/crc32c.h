#ifndef TRIBUTARY_CORE_CRC32C_H_
#define TRIBUTARY_CORE_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace tributary::core {

// CRC-32C (Castagnoli), as used by iSCSI, ext4 and Kafka record batches.
// Uses the SSE4.2 instruction where the CPU has it. `crc` continues an
// earlier result, so a record can be checked in pieces.
uint32_t Crc32c(const void* data, size_t size, uint32_t crc = 0);

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_CRC32C_H_
