// Tables of POP3 command lines, arguments, multi-line bodies and SASL
// PLAIN responses, with what each must give.
#include "mailbox/pop3/pop3_command.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

// The fuzz target (pop3_command_fuzz.cc), linked into this test; it traps
// when an invariant breaks.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace corvus::pop3 {
namespace {

TEST(Pop3CommandTest, ParsesCommandLines) {
  struct Case {
    std::string label;
    std::string line;
    bool ok;
    Pop3Verb verb;
    std::string name;
    std::string argument;
  };
  const std::vector<Case> cases = {
      {"upper case with CRLF", "STAT\r\n", true, Pop3Verb::kStat, "STAT", ""},
      {"lower case keyword", "retr 1\r\n", true, Pop3Verb::kRetr, "RETR", "1"},
      {"bare LF accepted", "NOOP\n", true, Pop3Verb::kNoop, "NOOP", ""},
      {"three-letter TOP", "TOP 1 10", true, Pop3Verb::kTop, "TOP", "1 10"},
      {"password keeps spaces", "PASS a b  c\r\n", true, Pop3Verb::kPass,
       "PASS", "a b  c"},
      {"unknown keyword parses", "XYZZ\r\n", true, Pop3Verb::kUnknown, "XYZZ",
       ""},
      {"empty line", "\r\n", false, Pop3Verb::kUnknown, "", ""},
      {"NUL byte", std::string("US\0R x\r\n", 8), false, Pop3Verb::kUnknown, "",
       ""},
      {"tab inside", "USER\ta\r\n", false, Pop3Verb::kUnknown, "", ""},
      {"eight-bit byte", "USER \xc3\xa9\r\n", false, Pop3Verb::kUnknown, "",
       ""},
      {"bare CR inside", "US\rER\r\n", false, Pop3Verb::kUnknown, "", ""},
      {"keyword too long", "STATS\r\n", false, Pop3Verb::kUnknown, "", ""},
      {"digit in keyword", "R3TR 1\r\n", false, Pop3Verb::kUnknown, "", ""},
      {"leading space", " STAT\r\n", false, Pop3Verb::kUnknown, "", ""},
  };
  for (const Case& c : cases) {
    auto got = ParsePop3Command(c.line);
    ASSERT_EQ(got.has_value(), c.ok)
        << c.label << ": got ok=" << got.has_value() << ", want " << c.ok;
    if (!c.ok) {
      EXPECT_EQ(got.error().code, ErrorCode::kProtocol) << c.label;
      continue;
    }
    EXPECT_EQ(got->verb, c.verb) << c.label;
    EXPECT_EQ(got->name, c.name) << c.label << ": got name " << got->name;
    EXPECT_EQ(got->argument, c.argument)
        << c.label << ": got argument " << got->argument;
  }
}

TEST(Pop3CommandTest, ParsesMessageNumbersStrictly) {
  struct Case {
    std::string text;
    std::optional<uint32_t> want;
  };
  const std::vector<Case> cases = {
      {"1", 1u},
      {"42", 42u},
      {"4294967295", 4294967295u},
      {"0", std::nullopt},
      {"", std::nullopt},
      {"-1", std::nullopt},
      {"+1", std::nullopt},
      {"1 ", std::nullopt},
      {"4294967296", std::nullopt},
      {"99999999999", std::nullopt},
      {"1a", std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParseMessageNumber(c.text), c.want)
        << "text \"" << c.text << "\"";
  }
  EXPECT_EQ(ParseLineCount("0"), 0u) << "TOP n 0 is valid";
  EXPECT_EQ(ParseLineCount("x"), std::nullopt);
}

TEST(Pop3CommandTest, SplitsExactlyTwoArguments) {
  auto ok = SplitTwoArguments("3 10");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->first, "3");
  EXPECT_EQ(ok->second, "10");
  for (std::string bad : {"3", "3 ", " 10", "3  10", "3 10 1", ""}) {
    EXPECT_FALSE(SplitTwoArguments(bad).has_value()) << "\"" << bad << "\"";
  }
}

TEST(Pop3CommandTest, DotStuffsMultilineBodies) {
  struct Case {
    std::string label;
    std::string data;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"plain body", "a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
      {"leading dot line", ".hidden\r\n", "..hidden\r\n.\r\n"},
      {"lone dot line would end early", "a\r\n.\r\nb\r\n",
       "a\r\n..\r\nb\r\n.\r\n"},
      {"missing final CRLF is added", "a\r\nb", "a\r\nb\r\n.\r\n"},
      {"empty message", "", ".\r\n"},
      {"dot after bare LF is stuffed too", "a\n.\r\n", "a\n..\r\n.\r\n"},
      {"dot inside a line untouched", "a.b\r\n", "a.b\r\n.\r\n"},
  };
  for (const Case& c : cases) {
    std::string got;
    AppendMultiline(got, c.data);
    EXPECT_EQ(got, c.want) << c.label;
  }
}

TEST(Pop3CommandTest, CutsTopOfMessage) {
  const std::string message =
      "Subject: x\r\nFrom: a@b\r\n\r\nline1\r\nline2\r\nline3\r\n";
  struct Case {
    std::string label;
    std::string message;
    uint32_t lines;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"headers only", message, 0, "Subject: x\r\nFrom: a@b\r\n\r\n"},
      {"two body lines", message, 2,
       "Subject: x\r\nFrom: a@b\r\n\r\nline1\r\nline2\r\n"},
      {"more lines than there are", message, 100, message},
      {"no empty line: all header", "Subject: x\r\nbody?\r\n", 0,
       "Subject: x\r\nbody?\r\n"},
      {"empty header section", "\r\nbody\r\nmore\r\n", 1, "\r\nbody\r\n"},
      {"last line without CRLF", "A: b\r\n\r\nend", 5, "A: b\r\n\r\nend"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(TopOfMessage(c.message, c.lines), c.want) << c.label;
  }
}

TEST(Pop3CommandTest, DecodesStrictBase64) {
  struct Case {
    std::string text;
    std::optional<std::string> want;
  };
  const std::vector<Case> cases = {
      {"", std::string()},
      {"YQ==", std::string("a")},
      {"YWI=", std::string("ab")},
      {"YWJj", std::string("abc")},
      {"AGFsaWNlAHNlY3JldA==", std::string("\0alice\0secret", 13)},
      {"YQ", std::nullopt},
      {"Y===", std::nullopt},
      {"YQ=x", std::nullopt},
      {"YQ==YQ==", std::nullopt},
      {"YW Jj", std::nullopt},
      {"!!!!", std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DecodeBase64(c.text), c.want) << "text \"" << c.text << "\"";
  }
}

TEST(Pop3CommandTest, SplitsSaslPlain) {
  auto full = ParseSaslPlain(std::string("admin\0alice\0pw", 14));
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(full->authzid, "admin");
  EXPECT_EQ(full->authcid, "alice");
  EXPECT_EQ(full->password, "pw");

  const std::vector<std::string> bad = {
      "alice",
      std::string("\0alice", 6),
      std::string("\0\0pw", 4),
      std::string("\0alice\0", 7),
      std::string("\0alice\0pw\0", 10),
  };
  for (const std::string& text : bad) {
    EXPECT_FALSE(ParseSaslPlain(text).has_value())
        << "got credentials from " << text.size() << " bytes, want none";
  }
}

// Mutates seed lines at random and feeds them to the fuzz target, so that
// its invariants hold in every g++ build, not only under libFuzzer.
TEST(Pop3CommandTest, FuzzTargetHoldsOnRandomMutations) {
  const std::vector<std::string> seeds = {
      "USER alice@example.com\r\n", "TOP 1 10\r\n",
      "RETR 4294967295\r\n",        "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
      "a\r\n.\r\n..x\r\n\r\nbody",  "Subject: x\r\n\r\n.\r\n"};
  // A literal with an embedded NUL: the "s" suffix keeps all of it.
  using namespace std::string_literals;
  const std::string alphabet =
      ". \r\n\0\x7f\xff"
      "AZaz09=+/"s;
  std::mt19937 rng(1939);
  for (int round = 0; round < 20000; ++round) {
    std::string input = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits; ++e) {
      size_t at = input.empty() ? 0 : rng() % (input.size() + 1);
      char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          input.insert(at, 1, c);
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
}  // namespace corvus::pop3
