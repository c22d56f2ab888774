#include "mta/trusted_networks.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace corvus::mta {
namespace {

TEST(TrustedNetworksTest, Contains) {
  auto networks =
      TrustedNetworks::Parse({"127.0.0.0/8", "192.0.2.0/25", "10.1.2.3",
                              "2001:db8::/32", "::1/128", "198.51.100.7/31"});
  ASSERT_TRUE(networks.has_value()) << networks.error().ToString();
  struct Case {
    std::string name;
    std::string address;
    bool want;
  };
  const std::vector<Case> cases = {
      {"MatchesInsideV4Prefix", "127.1.2.3", true},
      {"MatchesLastAddressOfPrefix", "192.0.2.127", true},
      {"RejectsFirstAddressPastPrefix", "192.0.2.128", false},
      {"MatchesBareAddressAsHost", "10.1.2.3", true},
      {"RejectsNeighbourOfBareAddress", "10.1.2.4", false},
      {"MatchesOddPrefixLength", "198.51.100.6", true},
      {"RejectsOutsideOddPrefix", "198.51.100.8", false},
      {"MatchesV6Prefix", "2001:db8:ffff::1", true},
      {"RejectsOutsideV6Prefix", "2001:db9::1", false},
      {"MatchesV6Loopback", "::1", true},
      {"MatchesV4MappedV6", "::ffff:127.0.0.1", true},
      {"NeverTrustsMalformedAddress", "not-an-ip", false},
      {"NeverTrustsEmptyAddress", "", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(networks->Contains(c.address), c.want)
        << c.name << ": got " << !c.want << " for " << c.address;
  }
}

TEST(TrustedNetworksTest, RejectsMalformedEntries) {
  const std::vector<std::string> bad = {
      "300.0.0.0/8", "10.0.0.0/33", "::/129",     "10.0.0.0/",
      "10.0.0.0/x",  "example.com", "10.0.0.0/-1"};
  for (const std::string& entry : bad) {
    auto got = TrustedNetworks::Parse({entry});
    ASSERT_FALSE(got.has_value()) << entry << ": got success, want error";
    EXPECT_EQ(got.error().code, ErrorCode::kInvalid) << entry;
  }
}

TEST(TrustedNetworksTest, EmptyListTrustsNobody) {
  TrustedNetworks none;
  EXPECT_FALSE(none.Contains("127.0.0.1"));
  auto all = TrustedNetworks::Parse({"0.0.0.0/0"});
  ASSERT_TRUE(all.has_value());
  EXPECT_TRUE(all->Contains("203.0.113.9"));
  EXPECT_FALSE(all->Contains("2001:db8::1"));
}

}  // namespace
}  // namespace corvus::mta
