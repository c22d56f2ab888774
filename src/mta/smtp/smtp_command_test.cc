#include "mta/smtp/smtp_command.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

// The fuzz target (smtp_command_fuzz.cc), linked into this test; it traps
// when an invariant breaks.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace corvus::mta {
namespace {

struct CommandCase {
  std::string name;
  std::string line;
  SmtpVerb want_verb;
  std::string want_argument;
  int want_error;  // 0: parses
};

TEST(ParseSmtpCommandTest, Table) {
  const std::vector<CommandCase> cases = {
      {"ParsesVerbCaseInsensitively", "mail FROM:<a@b>", SmtpVerb::kMail,
       "FROM:<a@b>", 0},
      {"TrimsExtraSpaces", "  EHLO   client.example  ", SmtpVerb::kEhlo,
       "client.example", 0},
      {"ParsesStartTls", "StartTLS", SmtpVerb::kStartTls, "", 0},
      {"KeepsUnknownVerbAsUnknown", "XYZZY foo", SmtpVerb::kUnknown, "foo", 0},
      {"RejectsEmptyLine", "", SmtpVerb::kUnknown, "", 500},
      {"RejectsOnlySpaces", "   ", SmtpVerb::kUnknown, "", 500},
      {"RejectsNulByte", std::string("NOOP\0x", 6), SmtpVerb::kUnknown, "",
       500},
      {"RejectsBareCr", "NOOP\rRSET", SmtpVerb::kUnknown, "", 500},
      {"RejectsVerbWithDigits", "HELO2 x", SmtpVerb::kUnknown, "", 500},
      {"RejectsOverlongVerb", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", SmtpVerb::kUnknown,
       "", 500},
  };
  for (const CommandCase& c : cases) {
    auto got = ParseSmtpCommand(c.line);
    if (c.want_error != 0) {
      ASSERT_FALSE(got.has_value()) << c.name << ": got success, want error";
      EXPECT_EQ(got.error().code, c.want_error) << c.name;
      continue;
    }
    ASSERT_TRUE(got.has_value()) << c.name << ": got " << got.error().text;
    EXPECT_EQ(got->verb, c.want_verb) << c.name;
    EXPECT_EQ(got->argument, c.want_argument) << c.name;
  }
}

struct MailCase {
  std::string name;
  std::string argument;
  std::string want_mailbox;
  std::string want_error;  // "code enhanced", empty: parses
};

TEST(ParseMailFromTest, Table) {
  const std::vector<MailCase> cases = {
      {"AcceptsPlainAddress", "FROM:<user@example.com>", "user@example.com",
       ""},
      {"AcceptsNullPath", "FROM:<>", "", ""},
      {"AcceptsSpaceAfterColon", "FROM: <a@example.com>", "a@example.com", ""},
      {"AcceptsLowerCaseFrom", "from:<a@example.com>", "a@example.com", ""},
      {"DropsSourceRoute", "FROM:<@relay.example,@b.example:u@example.com>",
       "u@example.com", ""},
      {"AcceptsQuotedLocalPart", "FROM:<\"john doe\"@example.com>",
       "\"john doe\"@example.com", ""},
      {"AcceptsQuotedAtSign", "FROM:<\"a@b\"@example.com>",
       "\"a@b\"@example.com", ""},
      {"AcceptsAddressLiteral", "FROM:<u@[192.0.2.1]>", "u@[192.0.2.1]", ""},
      {"AcceptsIpv6Literal", "FROM:<u@[IPv6:2001:db8::1]>",
       "u@[IPv6:2001:db8::1]", ""},
      {"AcceptsUtf8WithSmtputf8", "FROM:<jürgen@example.com> SMTPUTF8",
       "jürgen@example.com", ""},
      {"AcceptsAllParameters",
       "FROM:<a@example.com> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=abc+2B "
       "AUTH=<>",
       "a@example.com", ""},
      {"RejectsMissingFrom", "<a@example.com>", "", "501 5.5.4"},
      {"RejectsMissingBrackets", "FROM:a@example.com", "", "501 5.5.4"},
      {"RejectsUnclosedBracket", "FROM:<a@example.com", "", "501 5.1.7"},
      {"RejectsMissingDomain", "FROM:<user>", "", "501 5.1.7"},
      {"RejectsDoubleDot", "FROM:<a..b@example.com>", "", "501 5.1.7"},
      {"RejectsLeadingHyphenInDomain", "FROM:<a@-example.com>", "",
       "501 5.1.7"},
      {"RejectsTrailingDotInDomain", "FROM:<a@example.com.>", "", "501 5.1.7"},
      {"RejectsBadAddressLiteral", "FROM:<a@[300.1.1.1]>", "", "501 5.1.7"},
      {"RejectsUtf8WithoutSmtputf8", "FROM:<jürgen@example.com>", "",
       "553 5.6.7"},
      {"RejectsMalformedUtf8", "FROM:<j\xC3@example.com> SMTPUTF8", "",
       "501 5.1.7"},
      {"RejectsUnknownParameter", "FROM:<a@example.com> FOO=bar", "",
       "555 5.5.4"},
      {"RejectsDuplicateParameter", "FROM:<a@example.com> SIZE=1 SIZE=2", "",
       "501 5.5.4"},
      {"RejectsNonNumericSize", "FROM:<a@example.com> SIZE=12a", "",
       "501 5.5.4"},
      {"RejectsHugeSize", "FROM:<a@example.com> SIZE=99999999999999999999", "",
       "501 5.5.4"},
      {"RejectsBinaryMime", "FROM:<a@example.com> BODY=BINARYMIME", "",
       "501 5.5.4"},
      {"RejectsSmtputf8WithValue", "FROM:<a@example.com> SMTPUTF8=yes", "",
       "501 5.5.4"},
      {"RejectsBadRet", "FROM:<a@example.com> RET=ALL", "", "501 5.5.4"},
      {"RejectsBadXtextInEnvid", "FROM:<a@example.com> ENVID=a+zz", "",
       "501 5.5.4"},
      {"RejectsGarbageAfterPath", "FROM:<a@example.com>x", "", "501 5.1.7"},
      {"RejectsPunctuationInQueueId", "FROM:<a@example.com> XQUEUEID=a-b",
       "", "501 5.5.4"},
      {"RejectsOverlongQueueId",
       "FROM:<a@example.com> XQUEUEID=" + std::string(65, 'a'), "",
       "501 5.5.4"},
      {"RejectsOverlongPath",
       "FROM:<" + std::string(250, 'a') + "@example.com>", "", "501 5.1.7"},
  };
  {
    auto got = ParseMailFrom("FROM:<a@example.com> XQUEUEID=0A1b2C");
    ASSERT_TRUE(got.has_value()) << got.error().text;
    EXPECT_EQ(got->parameters.xqueueid, "0A1b2C");
  }
  for (const MailCase& c : cases) {
    auto got = ParseMailFrom(c.argument);
    if (!c.want_error.empty()) {
      ASSERT_FALSE(got.has_value())
          << c.name << ": got " << got->path.mailbox << ", want error";
      EXPECT_EQ(std::to_string(got.error().code) + " " + got.error().enhanced,
                c.want_error)
          << c.name << ": " << got.error().text;
      continue;
    }
    ASSERT_TRUE(got.has_value()) << c.name << ": got " << got.error().text;
    EXPECT_EQ(got->path.mailbox, c.want_mailbox) << c.name;
  }
}

TEST(ParseMailFromTest, ReadsParameterValues) {
  auto got = ParseMailFrom(
      "FROM:<a@example.com> size=1000 body=8bitmime RET=hdrs ENVID=x SMTPUTF8");
  ASSERT_TRUE(got.has_value()) << got.error().text;
  EXPECT_EQ(got->parameters.size, 1000u);
  EXPECT_EQ(got->parameters.body, BodyType::k8BitMime);
  EXPECT_EQ(got->parameters.ret, "HDRS");
  EXPECT_EQ(got->parameters.envid, "x");
  EXPECT_TRUE(got->parameters.smtputf8);
  EXPECT_TRUE(got->parameters.any);
  EXPECT_EQ(got->path.domain, "example.com");
  EXPECT_EQ(got->path.local_part, "a");
}

struct RcptCase {
  std::string name;
  std::string argument;
  bool smtputf8;
  std::string want_mailbox;
  std::string want_error;
};

TEST(ParseRcptToTest, Table) {
  const std::vector<RcptCase> cases = {
      {"AcceptsPlainAddress", "TO:<b@example.org>", false, "b@example.org", ""},
      {"AcceptsBarePostmaster", "TO:<Postmaster>", false, "Postmaster", ""},
      {"AcceptsDsnParameters",
       "TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.org",
       false, "b@example.org", ""},
      {"AcceptsNotifyNever", "TO:<b@example.org> NOTIFY=NEVER", false,
       "b@example.org", ""},
      {"AcceptsUtf8InUtf8Transaction", "TO:<δοκιμή@παράδειγμα.δοκιμή>", true,
       "δοκιμή@παράδειγμα.δοκιμή", ""},
      {"RejectsNullPath", "TO:<>", false, "", "501 5.1.3"},
      {"RejectsMissingTo", "<b@example.org>", false, "", "501 5.5.4"},
      {"RejectsUtf8OutsideUtf8Transaction", "TO:<δοκιμή@example.org>", false,
       "", "553 5.6.7"},
      {"RejectsBareUser", "TO:<bob>", false, "", "501 5.1.3"},
      {"RejectsNotifyNeverWithOthers", "TO:<b@example.org> NOTIFY=NEVER,DELAY",
       false, "", "501 5.5.4"},
      {"RejectsOrcptWithoutType", "TO:<b@example.org> ORCPT=b@example.org",
       false, "", "501 5.5.4"},
      {"RejectsMailParameterOnRcpt", "TO:<b@example.org> SIZE=10", false, "",
       "555 5.5.4"},
      {"RejectsControlCharInQuotedLocalPart", "TO:<\"a\x01\"@example.org>",
       false, "", "501 5.1.3"},
  };
  for (const RcptCase& c : cases) {
    auto got = ParseRcptTo(c.argument, c.smtputf8);
    if (!c.want_error.empty()) {
      ASSERT_FALSE(got.has_value())
          << c.name << ": got " << got->path.mailbox << ", want error";
      EXPECT_EQ(std::to_string(got.error().code) + " " + got.error().enhanced,
                c.want_error)
          << c.name << ": " << got.error().text;
      continue;
    }
    ASSERT_TRUE(got.has_value()) << c.name << ": got " << got.error().text;
    EXPECT_EQ(got->path.mailbox, c.want_mailbox) << c.name;
  }
}

TEST(ParseBdatTest, Table) {
  struct Case {
    std::string name;
    std::string argument;
    bool want_ok;
    uint64_t want_size;
    bool want_last;
  };
  const std::vector<Case> cases = {
      {"ParsesSize", "100", true, 100, false},
      {"ParsesLast", "0 LAST", true, 0, true},
      {"ParsesLowerCaseLast", "12 last", true, 12, true},
      {"RejectsMissingSize", "", false, 0, false},
      {"RejectsNegativeSize", "-1", false, 0, false},
      {"RejectsTrailingWord", "10 FIRST", false, 0, false},
      {"RejectsOverflowingSize", "184467440737095516160", false, 0, false},
  };
  for (const Case& c : cases) {
    auto got = ParseBdat(c.argument);
    ASSERT_EQ(got.has_value(), c.want_ok) << c.name;
    if (!got) continue;
    EXPECT_EQ(got->size, c.want_size) << c.name;
    EXPECT_EQ(got->last, c.want_last) << c.name;
  }
}

TEST(IsValidUtf8Test, Table) {
  struct Case {
    std::string name;
    std::string text;
    bool want;
  };
  const std::vector<Case> cases = {
      {"AcceptsAscii", "abc", true},
      {"AcceptsTwoByte", "\xC3\xA9", true},
      {"AcceptsFourByte", "\xF0\x9F\x98\x80", true},
      {"RejectsOverlong", "\xC0\xAF", false},
      {"RejectsSurrogate", "\xED\xA0\x80", false},
      {"RejectsTruncated", "\xE2\x82", false},
      {"RejectsAboveMax", "\xF4\x90\x80\x80", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IsValidUtf8(c.text), c.want) << c.name;
  }
}

TEST(SmtpReplyTest, FormatsWithAndWithoutEnhancedCode) {
  EXPECT_EQ((SmtpReply{550, "5.1.1", "No"}).Format(), "550 5.1.1 No\r\n");
  EXPECT_EQ((SmtpReply{250, "", "host"}).Format(), "250 host\r\n");
}

TEST(ParserRobustnessTest, SurvivesRandomMutationsOfValidCommands) {
  const std::vector<std::string> seeds = {
      "MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME",
      "RCPT TO:<\"x y\"@[IPv6:::1]> NOTIFY=SUCCESS ORCPT=rfc822;a",
      "MAIL FROM:<@a,@b:u@c> SMTPUTF8 ENVID=a+2B AUTH=<>",
      "RCPT TO:<j\xC3\xBCrgen@example.com>",
      "BDAT 10 LAST",
      "a\r\n.\nb\r.\r\n..\r\n.\r\n",
  };
  static constexpr char kAlphabet[] = "<>@:.,;=+\"\\[] \r\n\0\xC3\xBC-aZ09";
  const std::string alphabet(kAlphabet, sizeof(kAlphabet) - 1);
  std::mt19937 random(12345);  // fixed: a failure must reproduce
  for (int i = 0; i < 200000; ++i) {
    std::string input = seeds[random() % seeds.size()];
    int edits = 1 + static_cast<int>(random() % 6);
    for (int e = 0; e < edits; ++e) {
      size_t at = input.empty() ? 0 : random() % (input.size() + 1);
      char c = alphabet[random() % alphabet.size()];
      switch (random() % 3) {
        case 0:
          input.insert(input.begin() + static_cast<long>(at), c);
          break;
        case 1:
          if (at < input.size()) input[at] = c;
          break;
        default:
          if (at < input.size()) input.erase(at, 1);
          break;
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                           input.size());
  }
}

}  // namespace
}  // namespace corvus::mta
