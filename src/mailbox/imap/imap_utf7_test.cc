// Table-driven tests of modified UTF-7 mailbox names (RFC 3501 §5.1.3).
#include "mailbox/imap/imap_utf7.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace corvus::imap {
namespace {

struct NameCase {
  const char* name;
  std::string utf8;
  std::string mutf7;
};

const std::vector<NameCase>& NameCases() {
  static const std::vector<NameCase> cases = {
      {"plain ASCII", "INBOX/Sent", "INBOX/Sent"},
      {"ampersand", "Tom & Jerry", "Tom &- Jerry"},
      {"latin letters", "Entwürfe", "Entw&APw-rfe"},
      {"RFC 3501 example", "~peter/mail/台北/日本語",
       "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
      {"two runs split by ASCII", "été", "&AOk-t&AOk-"},
      {"astral plane", "😀", "&2D3eAA-"},
      {"empty", "", ""},
      {"run at end", "a€", "a&IKw-"},
  };
  return cases;
}

TEST(ImapUtf7Test, EncodesUtf8Names) {
  for (const NameCase& c : NameCases()) {
    auto got = EncodeMailboxName(c.utf8);
    ASSERT_TRUE(got.has_value()) << c.name << ": " << got.error().message;
    EXPECT_EQ(*got, c.mutf7) << c.name;
  }
}

TEST(ImapUtf7Test, DecodesModifiedUtf7Names) {
  for (const NameCase& c : NameCases()) {
    auto got = DecodeMailboxName(c.mutf7);
    ASSERT_TRUE(got.has_value()) << c.name << ": " << got.error().message;
    EXPECT_EQ(*got, c.utf8) << c.name;
  }
}

TEST(ImapUtf7Test, RefusesMalformedModifiedUtf7) {
  struct Case {
    const char* name;
    std::string input;
  };
  const std::vector<Case> cases = {
      {"unterminated shift", "&AOk"},
      {"8-bit byte", "Entw\xc3\xbcrfe"},
      {"control character", "a\tb"},
      {"invalid base64 character", "&A/k-"},
      {"shifted printable ASCII", "&AGE-"},
      {"adjacent shifted runs", "&AOk-&AOk-"},
      {"nonzero padding bits", "&AOl-"},
      {"too many padding characters", "&AOkA-"},
      {"lone high surrogate", "&2D0-"},
      {"lone low surrogate", "&3gA-"},
      {"shifted control character", "&AAk-"},
      {"NUL", std::string("a\0b", 3)},
  };
  for (const Case& c : cases) {
    auto got = DecodeMailboxName(c.input);
    EXPECT_FALSE(got.has_value()) << c.name << ": decoded to " << *got;
  }
}

TEST(ImapUtf7Test, RefusesInvalidUtf8ToEncode) {
  const std::vector<std::string> inputs = {"\xc3", "\xc0\xaf", "\xed\xa0\x80",
                                           "\xff", std::string("a\0", 2)};
  for (const std::string& input : inputs) {
    EXPECT_FALSE(EncodeMailboxName(input).has_value())
        << "input of " << input.size() << " bytes";
    EXPECT_FALSE(IsValidUtf8(input) && input.find('\0') == std::string::npos);
  }
  EXPECT_TRUE(IsValidUtf8("Entwürfe 😀"));
}

}  // namespace
}  // namespace corvus::imap
