// Random bytes from the operating system, for salts and identifiers.
//
// Reads getrandom(2), which blocks only until the kernel's pool is first
// seeded at boot and never returns predictable bytes after that.
//
// Thread safety: safe from any thread; no shared state.
#ifndef CORVUS_DIRECTORY_RANDOM_H_
#define CORVUS_DIRECTORY_RANDOM_H_

#include <cstddef>
#include <span>
#include <string>

#include "common/result.h"

namespace corvus {

// Fills `out` with random bytes. Returns kIo if the kernel refuses.
Status FillRandomBytes(std::span<unsigned char> out);

// Returns `bytes` random bytes as 2 * `bytes` lower-case hex digits.
// Returns kIo if the kernel refuses.
Result<std::string> RandomHex(size_t bytes);

}  // namespace corvus

#endif  // CORVUS_DIRECTORY_RANDOM_H_
