#include "mta/trusted_networks.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <optional>

namespace corvus::mta {
namespace {

// Parses an IPv4 or IPv6 literal into 16 bytes (IPv4 as ::ffff:a.b.c.d).
// Sets `is_v4` for an IPv4 literal.
std::optional<std::array<uint8_t, 16>> ParseAddress(std::string_view text,
                                                    bool* is_v4) {
  std::string copy(text);
  std::array<uint8_t, 16> bytes{};
  uint8_t v4[4];
  if (inet_pton(AF_INET, copy.c_str(), v4) == 1) {
    bytes[10] = 0xFF;
    bytes[11] = 0xFF;
    std::memcpy(bytes.data() + 12, v4, 4);
    *is_v4 = true;
    return bytes;
  }
  if (inet_pton(AF_INET6, copy.c_str(), bytes.data()) == 1) {
    *is_v4 = false;
    return bytes;
  }
  return std::nullopt;
}

bool PrefixMatches(const std::array<uint8_t, 16>& a,
                   const std::array<uint8_t, 16>& b, int bits) {
  int full = bits / 8;
  if (std::memcmp(a.data(), b.data(), full) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

Result<TrustedNetworks> TrustedNetworks::Parse(
    const std::vector<std::string>& cidrs) {
  TrustedNetworks out;
  for (const std::string& entry : cidrs) {
    auto bad = [&entry] {
      return Fail(
          Error{ErrorCode::kInvalid, "bad network", {}}.With("network", entry));
    };
    std::string_view text = entry;
    size_t slash = text.find('/');
    bool is_v4 = false;
    auto address = ParseAddress(text.substr(0, slash), &is_v4);
    if (!address) return bad();

    int max_bits = is_v4 ? 32 : 128;
    int bits = max_bits;
    if (slash != std::string_view::npos) {
      std::string_view digits = text.substr(slash + 1);
      auto [end, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), bits);
      if (digits.empty() || ec != std::errc() ||
          end != digits.data() + digits.size() || bits < 0 || bits > max_bits) {
        return bad();
      }
    }
    out.networks_.push_back(Network{*address, is_v4 ? bits + 96 : bits});
  }
  return out;
}

bool TrustedNetworks::Contains(std::string_view address) const {
  bool is_v4 = false;
  auto bytes = ParseAddress(address, &is_v4);
  if (!bytes) return false;
  for (const Network& network : networks_) {
    if (PrefixMatches(*bytes, network.address, network.prefix_bits)) {
      return true;
    }
  }
  return false;
}

}  // namespace corvus::mta
