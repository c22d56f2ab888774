// Tests for the GMime-backed header decoding.
#include "mime/decode.h"

#include <gtest/gtest.h>

#include <string>

#include "mime/test_util.h"

namespace corvus::mime {
namespace {

TEST(DecodeHeaderText, DecodesEncodedWords) {
  struct Case {
    const char* name;
    const char* in;
    const char* want;
  };
  const Case cases[] = {
      {"PlainTextUnchanged", "hello world", "hello world"},
      {"QEncoding", "=?utf-8?q?caf=C3=A9?=", "caf\xc3\xa9"},
      {"BEncodingLatin1", "=?iso-8859-1?b?Y2Fm6Q==?=", "caf\xc3\xa9"},
      {"AdjacentWordsJoin", "=?utf-8?q?a?= =?utf-8?q?b?=", "ab"},
      {"FoldedText", "a\r\n b", "a b"},
      // Plain ASCII comes back unfolded, ends trimmed, inner white space
      // kept, as GMime gives it.
      {"InnerWhiteSpaceKept", "  two  spaces\ttab ", "two  spaces\ttab"},
      {"LoneMarkersAreText", " =? not encoded ?= a=b", "=? not encoded ?= a=b"},
      {"SpecialsAreText", "(c) \"q\" <a@b>", "(c) \"q\" <a@b>"},
      {"Empty", "", ""},
      {"EncodedWordAmidText", "re: =?utf-8?q?caf=C3=A9?= now",
       "re: caf\xc3\xa9 now"},
  };
  for (const Case& c : cases) {
    std::string got = DecodeHeaderText(c.in);
    EXPECT_EQ(got, c.want) << c.name << ": got " << got << ", want " << c.want;
  }
  // Text after a NUL is dropped, with or without an encoded word.
  EXPECT_EQ(DecodeHeaderText(std::string("ab\0cd", 5)), "ab");
}

TEST(PartFilename, DecodesRfc2231AndFallsBackToName) {
  struct Case {
    const char* name;
    std::string raw;
    std::optional<std::string> want;
  };
  const Case cases[] = {
      {"Rfc2231Continuations",
       testing::Crlf("Content-Disposition: attachment;\n"
                     " filename*0*=utf-8''caf%C3%A9;\n"
                     " filename*1=.txt\n\nx"),
       "caf\xc3\xa9.txt"},
      {"ContentTypeName",
       testing::Crlf("Content-Type: application/pdf; name=\"r.pdf\"\n\nx"),
       "r.pdf"},
      {"NoName", testing::Crlf("Content-Type: text/plain\n\nx"), std::nullopt},
  };
  for (const Case& c : cases) {
    Message m = ParseMessage(c.raw);
    std::optional<std::string> got = PartFilename(c.raw, m.root);
    EXPECT_EQ(got, c.want) << c.name << ": got " << got.value_or("(none)");
  }
}

}  // namespace
}  // namespace corvus::mime
