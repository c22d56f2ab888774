// Tests for password hashing and verification (password.h).
#include "directory/password.h"

#include <gtest/gtest.h>

#include <string>

namespace corvus {
namespace {

TEST(HashPasswordTest, ProducesYescryptHashThatVerifies) {
  auto hash = HashPassword("correct horse battery staple");
  ASSERT_TRUE(hash.has_value()) << hash.error().message;
  EXPECT_TRUE(hash->starts_with("$y$")) << "got " << *hash << ", want $y$...";
  EXPECT_TRUE(VerifyPassword("correct horse battery staple", *hash));
}

TEST(HashPasswordTest, SaltsEachHashDifferently) {
  auto first = HashPassword("same password");
  auto second = HashPassword("same password");
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_NE(*first, *second) << "two hashes of one password are equal";
  EXPECT_TRUE(VerifyPassword("same password", *first));
  EXPECT_TRUE(VerifyPassword("same password", *second));
}

TEST(HashPasswordTest, RejectsUnacceptablePasswords) {
  struct Case {
    const char* name;
    std::string password;
    std::string want_error;
  };
  const Case cases[] = {
      {"Empty", "", "empty password"},
      {"TooLong", std::string(kMaxPasswordLength + 1, 'x'),
       "password too long"},
      {"EmbeddedNul", std::string("abc\0def", 7),
       "password contains a NUL byte"},
  };
  for (const Case& c : cases) {
    auto got = HashPassword(c.password);
    ASSERT_FALSE(got.has_value()) << c.name << ": got a hash, want error";
    EXPECT_EQ(got.error().code, ErrorCode::kInvalid) << c.name;
    EXPECT_EQ(got.error().message, c.want_error) << c.name;
  }
}

TEST(HashPasswordTest, AcceptsLongestPasswordAndUtf8) {
  const std::string longest(kMaxPasswordLength, 'p');
  auto hash = HashPassword(longest);
  ASSERT_TRUE(hash.has_value()) << hash.error().message;
  EXPECT_TRUE(VerifyPassword(longest, *hash));
  EXPECT_FALSE(VerifyPassword(longest.substr(1), *hash));

  auto utf8 = HashPassword("p\xC3\xA4ssw\xC3\xB6rd");
  ASSERT_TRUE(utf8.has_value());
  EXPECT_TRUE(VerifyPassword("p\xC3\xA4ssw\xC3\xB6rd", *utf8));
}

TEST(VerifyPasswordTest, RejectsWrongPasswordsAndBadHashes) {
  auto hash = HashPassword("secret");
  ASSERT_TRUE(hash.has_value());
  struct Case {
    const char* name;
    std::string password;
    std::string hash;
  };
  const Case cases[] = {
      {"WrongPassword", "Secret", *hash},
      {"Prefix", "secre", *hash},
      {"Extension", "secret1", *hash},
      {"EmptyPassword", "", *hash},
      {"NulCutsPassword", std::string("secret\0x", 8), *hash},
      {"EmptyHash", "secret", ""},
      {"LockedHash", "secret", "!" + *hash},
      {"GarbageHash", "secret", "$y$garbage"},
      {"StarHash", "secret", "*"},
      {"TruncatedHash", "secret", hash->substr(0, hash->size() - 1)},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(VerifyPassword(c.password, c.hash))
        << c.name << ": VerifyPassword = true, want false";
  }
}

TEST(VerifyPasswordTest, AcceptsImportedSha512CryptHash) {
  // SHA-512 crypt of "secret" (openssl passwd -6 -salt saltsalt secret),
  // as a system migrated to Corvus would have stored it.
  const std::string imported =
      "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5kn"
      "V8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
  EXPECT_TRUE(VerifyPassword("secret", imported));
  EXPECT_FALSE(VerifyPassword("Secret", imported));
}

TEST(VerifyPasswordDecoyTest, ReturnsForAnyInput) {
  VerifyPasswordDecoy("anything");
  VerifyPasswordDecoy("");
  VerifyPasswordDecoy(std::string(kMaxPasswordLength + 5, 'a'));
}

}  // namespace
}  // namespace corvus
