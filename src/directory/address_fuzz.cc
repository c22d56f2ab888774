// libFuzzer target for NormalizeAddress (address.h).
//
// Feeds arbitrary bytes and checks what every caller relies on: a
// success is bounded in length, consistent in its parts, and a fixed
// point (normalising it again changes nothing). Any violation traps.
//
// Build: -DCORVUS_FUZZ=ON with clang >= 16 (clang 14 cannot compile
// libstdc++ 12's std::expected); run with -max_total_time=N.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "directory/address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto got = corvus::NormalizeAddress(input);
  if (!got) return 0;
  if (got->address.size() > corvus::kMaxAddressLength ||
      got->local.size() > corvus::kMaxLocalPartLength ||
      got->address != got->local + "@" + got->domain) {
    __builtin_trap();
  }
  auto again = corvus::NormalizeAddress(got->address);
  if (!again || again->address != got->address) __builtin_trap();
  auto domain = corvus::NormalizeDomain(got->domain);
  if (!domain || *domain != got->domain) __builtin_trap();
  return 0;
}
