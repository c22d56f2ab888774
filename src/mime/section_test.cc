// Tests for BODY[section] extraction.
#include "mime/section.h"

#include <gtest/gtest.h>

#include <string>

#include "mime/test_util.h"

namespace corvus::mime {
namespace {

using testing::Crlf;

const std::string kRaw = Crlf(
    "Subject: top\n"
    "From: a@b\n"
    "Content-Type: multipart/mixed; boundary=b\n"
    "\n"
    "--b\n"
    "Content-Type: text/plain\n"
    "\n"
    "one\n"
    "--b\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: inner\n"
    "X-Folded: a\n"
    " b\n"
    "Content-Type: multipart/alternative; boundary=c\n"
    "\n"
    "--c\n"
    "\n"
    "alt1\n"
    "--c\n"
    "Content-Type: text/html\n"
    "\n"
    "alt2\n"
    "--c--\n"
    "--b\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: single\n"
    "\n"
    "just text\n"
    "--b--\n");

TEST(ExtractSection, ServesStoredBytes) {
  Message m = ParseMessage(kRaw);
  struct Case {
    const char* section;
    std::string want;
  };
  const Case cases[] = {
      {"", kRaw},
      {"HEADER", Crlf("Subject: top\nFrom: a@b\n"
                      "Content-Type: multipart/mixed; boundary=b\n\n")},
      {"header.fields (subject FROM)", Crlf("Subject: top\nFrom: a@b\n\n")},
      {"HEADER.FIELDS.NOT (Content-Type)", Crlf("Subject: top\nFrom: a@b\n\n")},
      {"HEADER.FIELDS (\"X-None\")", "\r\n"},
      {"1", "one"},
      {"1.MIME", Crlf("Content-Type: text/plain\n\n")},
      {"2.MIME", Crlf("Content-Type: message/rfc822\n\n")},
      {"2.HEADER.FIELDS (X-Folded)", Crlf("X-Folded: a\n b\n\n")},
      {"2.TEXT", Crlf("--c\n\nalt1\n--c\nContent-Type: text/html\n\n"
                      "alt2\n--c--")},
      {"2.1", "alt1"},
      {"2.2", "alt2"},
      {"2.2.MIME", Crlf("Content-Type: text/html\n\n")},
      {"3.HEADER", Crlf("Subject: single\n\n")},
      {"3.1", "just text"},
      {"3.1.MIME", Crlf("Subject: single\n\n")},
  };
  for (const Case& c : cases) {
    Result<SectionData> got = ExtractSection(kRaw, m, c.section);
    ASSERT_TRUE(got) << c.section << ": " << got.error().ToString();
    EXPECT_EQ(got->View(kRaw), c.want)
        << c.section << ": got " << got->View(kRaw) << ", want " << c.want;
  }
}

TEST(ExtractSection, ServesPartOneOfASinglePartMessage) {
  std::string raw = Crlf("Subject: x\n\nbody\n");
  Message m = ParseMessage(raw);
  Result<SectionData> got = ExtractSection(raw, m, "1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->View(raw), "body\r\n");
}

TEST(ExtractSection, RejectsBadSections) {
  Message m = ParseMessage(kRaw);
  struct Case {
    const char* section;
    ErrorCode want;
  };
  const Case cases[] = {
      {"0", ErrorCode::kInvalid},
      {"1.", ErrorCode::kInvalid},
      {"1..2", ErrorCode::kInvalid},
      {"MIME", ErrorCode::kInvalid},
      {"BOGUS", ErrorCode::kInvalid},
      {"HEADER.FIELDS", ErrorCode::kInvalid},
      {"HEADER.FIELDS ()", ErrorCode::kInvalid},
      {"HEADER.FIELDS (unterminated", ErrorCode::kInvalid},
      {"99999999999999999999", ErrorCode::kInvalid},
      {"4", ErrorCode::kNotFound},
      {"1.1", ErrorCode::kNotFound},
      {"1.HEADER", ErrorCode::kNotFound},
      {"2.3", ErrorCode::kNotFound},
  };
  for (const Case& c : cases) {
    Result<SectionData> got = ExtractSection(kRaw, m, c.section);
    ASSERT_FALSE(got) << c.section << ": got success, want an error";
    EXPECT_EQ(got.error().code, c.want)
        << c.section << ": got " << ErrorCodeName(got.error().code) << ", want "
        << ErrorCodeName(c.want);
  }
}

}  // namespace
}  // namespace corvus::mime
