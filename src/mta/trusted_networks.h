// Lists of trusted client networks (CIDR), such as [smtp]
// trusted_networks: clients inside them may relay to any domain and are
// exempt from some checks.
//
// A list is parsed once from strings like "192.0.2.0/24", "2001:db8::/32"
// or a bare address (a /32 or /128), and then only read. IPv4-mapped IPv6
// addresses (::ffff:192.0.2.1) match IPv4 entries, so a dual-stack
// listener sees the same answer as an IPv4 one.
//
// Thread safety: immutable after Parse(); Contains() may be called from
// any thread.
#ifndef CORVUS_MTA_TRUSTED_NETWORKS_H_
#define CORVUS_MTA_TRUSTED_NETWORKS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace corvus::mta {

class TrustedNetworks {
 public:
  // An empty list: Contains() is always false.
  TrustedNetworks() = default;

  // Parses every entry of `cidrs`. Returns kInvalid naming the first bad
  // entry (not an address, prefix out of range, host bits set is allowed
  // and ignored).
  static Result<TrustedNetworks> Parse(const std::vector<std::string>& cidrs);

  // True if `address` (an IPv4 or IPv6 literal, as Connection reports it)
  // lies inside one of the networks. A malformed address is never trusted.
  bool Contains(std::string_view address) const;

  bool empty() const { return networks_.empty(); }

 private:
  struct Network {
    // IPv4 is stored as an IPv4-mapped IPv6 address, prefix + 96.
    std::array<uint8_t, 16> address{};
    int prefix_bits = 0;
  };

  std::vector<Network> networks_;
};

}  // namespace corvus::mta

#endif  // CORVUS_MTA_TRUSTED_NETWORKS_H_
