#include <cstddef>
#include <cstdint>
#include <string_view>

#include "directory/address.h"
// Feeds arbitrary bytes to NormalizeAddress and checks the properties
// every caller relies on: success implies a well-formed, bounded,
// idempotent result.
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
