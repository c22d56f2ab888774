// Tests for address parsing and normalisation (address.h).
#include "directory/address.h"

#include <gtest/gtest.h>

#include <string>

namespace corvus {
namespace {

struct GoodCase {
  const char* name;
  std::string input;
  std::string want;  // normalised address
  bool want_utf8 = false;
};

TEST(NormalizeAddressTest, AcceptsAndNormalisesValidAddresses) {
  const GoodCase cases[] = {
      {"PlainAddressIsUnchanged", "alice@example.com", "alice@example.com"},
      {"LowerCasesBothParts", "Alice.Smith@Example.COM",
       "alice.smith@example.com"},
      {"TrimsWhitespace", " \t bob@example.org\r\n", "bob@example.org"},
      {"StripsAngleBrackets", "<bob@example.org>", "bob@example.org"},
      {"StripsWhitespaceAroundBrackets", "  <Bob@Example.org> ",
       "bob@example.org"},
      {"AcceptsAllAtextSpecials", "a!#$%&'*+-/=?^_`{|}~z@example.com",
       "a!#$%&'*+-/=?^_`{|}~z@example.com"},
      {"AcceptsSubaddress", "alice+lists@example.com",
       "alice+lists@example.com"},
      {"UnquotesQuotedDotAtom", "\"Alice\"@example.com", "alice@example.com"},
      {"KeepsQuotesWhenNeeded", "\"john doe\"@example.com",
       "\"john doe\"@example.com"},
      {"KeepsQuotedAt", "\"a@b\"@example.com", "\"a@b\"@example.com"},
      {"MinimisesEscapes", "\"\\a\\b\"@example.com", "ab@example.com"},
      {"KeepsNeededEscapes", "\"a\\\"b\\\\c\"@example.com",
       "\"a\\\"b\\\\c\"@example.com"},
      {"QuotedDoubleDotStaysQuoted", "\"a..b\"@example.com",
       "\"a..b\"@example.com"},
      {"AcceptsLocalhost", "root@LOCALHOST", "root@localhost"},
      {"AcceptsDigitsAndHyphensInLabels", "x@mail-1.0example.co.uk",
       "x@mail-1.0example.co.uk"},
      {"AcceptsPunycodeDomain", "x@xn--bcher-kva.example",
       "x@xn--bcher-kva.example"},
      {"AcceptsUtf8LocalPart", "j\xC3\xBCrgen@example.de",
       "j\xC3\xBCrgen@example.de", true},
      {"KeepsNonAsciiCase",
       "\xC3\x9C"
       "ber@example.de",
       "\xC3\x9C"
       "ber@example.de",
       true},
      {"AcceptsFourByteUtf8", "\xF0\x9F\x90\xA6@example.com",
       "\xF0\x9F\x90\xA6@example.com", true},
      {"AcceptsUtf8InQuotes", "\"\xC3\xA9 t\xC3\xA9\"@example.fr",
       "\"\xC3\xA9 t\xC3\xA9\"@example.fr", true},
      {"AcceptsLongestLocalPart", std::string(64, 'a') + "@example.com",
       std::string(64, 'a') + "@example.com"},
      {"AcceptsLongestLabel", "a@" + std::string(63, 'b') + ".com",
       "a@" + std::string(63, 'b') + ".com"},
  };
  for (const GoodCase& c : cases) {
    auto got = NormalizeAddress(c.input);
    ASSERT_TRUE(got.has_value())
        << c.name << ": NormalizeAddress(\"" << c.input
        << "\") failed: " << got.error().message << ", want " << c.want;
    EXPECT_EQ(got->address, c.want) << c.name;
    EXPECT_EQ(got->address, got->local + "@" + got->domain) << c.name;
    EXPECT_EQ(got->utf8, c.want_utf8) << c.name;
  }
}

struct BadCase {
  const char* name;
  std::string input;
  std::string want_error;
};

TEST(NormalizeAddressTest, RejectsMalformedAddressesWithReason) {
  // A domain of 254 octets: four labels of 62 + dots + "com".
  const std::string long_domain =
      std::string(62, 'a') + "." + std::string(62, 'b') + "." +
      std::string(62, 'c') + "." + std::string(62, 'd') + ".com";
  // 64 + 1 + 190 = 255 octets with a domain that is itself fine.
  const std::string long_address =
      std::string(64, 'x') + "@" + std::string(60, 'a') + "." +
      std::string(60, 'b') + "." + std::string(60, 'c') + ".example";
  const BadCase cases[] = {
      {"Empty", "", "empty address"},
      {"OnlyWhitespace", "  \t ", "empty address"},
      {"NullPath", "<>", "empty address"},
      {"OpenBracketOnly", "<a@example.com", "unbalanced angle brackets"},
      {"CloseBracketOnly", "a@example.com>", "unbalanced angle brackets"},
      {"LoneBracket", "<", "unbalanced angle brackets"},
      {"NoAt", "alice.example.com", "missing @"},
      {"EmptyLocalPart", "@example.com", "empty local part"},
      {"EmptyQuotedLocalPart", "\"\"@example.com", "empty local part"},
      {"LeadingDot", ".a@example.com", "local part starts with a dot"},
      {"TrailingDot", "a.@example.com", "local part ends with a dot"},
      {"DoubleDot", "a..b@example.com", "two dots in a row in local part"},
      {"SpaceInLocalPart", "a b@example.com",
       "invalid character in local part"},
      {"SpaceInsideBrackets", "< a@example.com>",
       "invalid character in local part"},
      {"DisplayName", "Alice <a@example.com>", "unbalanced angle brackets"},
      {"ParenInLocalPart", "a(b)@example.com",
       "invalid character in local part"},
      {"ControlCharInQuotes", "\"a\x01\"@example.com",
       "invalid character in quoted local part"},
      {"UnterminatedQuote", "\"abc@example.com",
       "unterminated quoted local part"},
      {"BadQuotedPair", "\"a\\\x01\"@example.com",
       "invalid quoted pair in local part"},
      {"TextAfterQuote", "\"a\"b@example.com", "text after quoted local part"},
      {"QuotedWithoutDomain", "\"a\"", "missing @"},
      {"StrayContinuationByte", "a\x80@example.com",
       "malformed UTF-8 in local part"},
      {"OverlongUtf8", "\xC0\xAF@example.com", "malformed UTF-8 in local part"},
      {"Utf8Surrogate", "\xED\xA0\x80@example.com",
       "malformed UTF-8 in local part"},
      {"TruncatedUtf8", "a\xE2\x82@example.com",
       "malformed UTF-8 in local part"},
      {"LocalPartTooLong", std::string(65, 'a') + "@example.com",
       "local part too long"},
      {"QuotingMakesItTooLong", "\"" + std::string(63, ' ') + "\"@example.com",
       "local part too long"},
      {"EmptyDomain", "a@", "empty domain"},
      {"TwoAts", "a@b@example.com", "invalid character in domain"},
      {"AddressLiteral", "a@[192.0.2.1]", "address literals are not supported"},
      {"NumericTld", "a@192.0.2.1", "top-level domain label is numeric"},
      {"SingleLabel", "a@example", "domain needs at least two labels"},
      {"DomainTrailingDot", "a@example.com.", "domain ends with a dot"},
      {"DomainLeadingDot", "a@.example.com", "empty domain label"},
      {"DomainDoubleDot", "a@example..com", "empty domain label"},
      {"LabelLeadingHyphen", "a@-example.com",
       "domain label starts or ends with a hyphen"},
      {"LabelTrailingHyphen", "a@example-.com",
       "domain label starts or ends with a hyphen"},
      {"UnderscoreInDomain", "a@ex_ample.com", "invalid character in domain"},
      {"Utf8Domain",
       "a@b\xC3\xBC"
       "cher.example",
       "non-ASCII domain; give it in A-label (xn--) form"},
      {"LabelTooLong", "a@" + std::string(64, 'b') + ".com",
       "domain label too long"},
      {"DomainTooLong", "a@" + long_domain, "domain too long"},
      {"AddressTooLong", long_address, "address too long"},
  };
  for (const BadCase& c : cases) {
    auto got = NormalizeAddress(c.input);
    ASSERT_FALSE(got.has_value()) << c.name << ": NormalizeAddress(\""
                                  << c.input << "\") = " << got->address
                                  << ", want error \"" << c.want_error << "\"";
    EXPECT_EQ(got.error().code, ErrorCode::kInvalid) << c.name;
    EXPECT_EQ(got.error().message, c.want_error) << c.name;
  }
}

TEST(NormalizeDomainTest, LowerCasesValidDomainsAndRejectsOthers) {
  struct Case {
    std::string input;
    bool want_ok;
    std::string want;  // normalised domain or error message
  };
  const Case cases[] = {
      {"Example.COM", true, "example.com"},
      {"localhost", true, "localhost"},
      {"a.b.c.d.example", true, "a.b.c.d.example"},
      {"", false, "empty domain"},
      {" example.com", false, "invalid character in domain"},
      {"example", false, "domain needs at least two labels"},
      {"exa mple.com", false, "invalid character in domain"},
      {"1.2.3.4", false, "top-level domain label is numeric"},
  };
  for (const Case& c : cases) {
    auto got = NormalizeDomain(c.input);
    if (c.want_ok) {
      ASSERT_TRUE(got.has_value()) << "NormalizeDomain(\"" << c.input
                                   << "\") failed: " << got.error().message;
      EXPECT_EQ(*got, c.want) << c.input;
    } else {
      ASSERT_FALSE(got.has_value())
          << "NormalizeDomain(\"" << c.input << "\") = " << *got
          << ", want error \"" << c.want << "\"";
      EXPECT_EQ(got.error().message, c.want) << c.input;
    }
  }
}

TEST(NormalizeAddressTest, IsIdempotent) {
  const std::string inputs[] = {"\"John Doe\"@Example.com", "A@B.C",
                                "\"a\\\\b\"@example.com",
                                "j\xC3\xBCrgen@example.de"};
  for (const std::string& input : inputs) {
    auto once = NormalizeAddress(input);
    ASSERT_TRUE(once.has_value()) << input;
    auto twice = NormalizeAddress(once->address);
    ASSERT_TRUE(twice.has_value()) << once->address;
    EXPECT_EQ(twice->address, once->address)
        << "normalising " << input << " twice: got " << twice->address
        << ", want " << once->address;
  }
}

TEST(DomainOfAddressTest, ReturnsTextAfterLastAt) {
  EXPECT_EQ(DomainOfAddress("\"a@b\"@example.com"), "example.com");
  EXPECT_EQ(DomainOfAddress("no-at"), "");
}

}  // namespace
}  // namespace corvus
