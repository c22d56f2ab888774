// Table-driven tests of BINARY section decoding (RFC 3516).
#include "mailbox/imap/binary_section.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace corvus::imap {
namespace {

const std::string kMessage =
    "From: a@b\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "caf=C3=A9 =\r\n"
    "soft\r\n"
    "--b\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: BASE64\r\n"
    "\r\n"
    "AAEC\r\n"
    "Aw==\r\n"
    "--b\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Transfer-Encoding: x-weird\r\n"
    "\r\n"
    "zzz\r\n"
    "--b--\r\n";

TEST(BinarySectionTest, DecodesLeafPartsByEncoding) {
  mime::Message message = mime::ParseMessage(kMessage);
  struct Case {
    const char* name;
    std::string section;
    bool ok;
    ErrorCode error;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"quoted-printable with soft break", "1", true, ErrorCode::kInvalid,
       "caf\xc3\xa9 soft"},
      {"base64 across lines, upper-case name", "2", true, ErrorCode::kInvalid,
       std::string("\0\1\2\3", 4)},
      {"whole message unchanged", "", true, ErrorCode::kInvalid, kMessage},
      {"unknown encoding", "3", false, ErrorCode::kPermanent, ""},
      {"missing part", "9", false, ErrorCode::kNotFound, ""},
      {"part of a leaf", "1.2", false, ErrorCode::kNotFound, ""},
      {"bad syntax", "1.x", false, ErrorCode::kInvalid, ""},
  };
  for (const Case& c : cases) {
    auto got = DecodeBinarySection(kMessage, message, c.section);
    ASSERT_EQ(got.has_value(), c.ok) << c.name;
    if (c.ok) {
      EXPECT_EQ(*got, c.want) << c.name;
    } else {
      EXPECT_EQ(got.error().code, c.error)
          << c.name << ": got " << got.error().message;
    }
  }
  const std::string nested =
      "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
      "Content-Type: multipart/alternative; boundary=y\r\n\r\n--y\r\n"
      "\r\na\r\n--y--\r\n--x--\r\n";
  auto got = DecodeBinarySection(nested, mime::ParseMessage(nested), "1");
  ASSERT_FALSE(got.has_value()) << "BINARY of a multipart part";
  EXPECT_EQ(got.error().code, ErrorCode::kInvalid);
  got = DecodeBinarySection(nested, mime::ParseMessage(nested), "1.1");
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(*got, "a");
}

TEST(BinarySectionTest, Base64AndQuotedPrintableEdgeCases) {
  struct Case {
    const char* name;
    std::string input;
    bool ok;
    std::string want;
  };
  const std::vector<Case> base64 = {
      {"no padding", "aGk", true, "hi"},
      {"spaces and breaks", "aG\r\n k=", true, "hi"},
      {"garbage", "aG*k", false, ""},
      {"data after padding", "aGk=aGk=", false, ""},
  };
  for (const Case& c : base64) {
    auto got = DecodeMailBase64(c.input);
    ASSERT_EQ(got.has_value(), c.ok) << c.name;
    if (c.ok) {
      EXPECT_EQ(*got, c.want) << c.name;
    }
  }
  EXPECT_EQ(DecodeQuotedPrintable("a=3Db"), "a=b");
  EXPECT_EQ(DecodeQuotedPrintable("a=\nb"), "ab");
  EXPECT_EQ(DecodeQuotedPrintable("bad=ZZ"), "bad=ZZ");
  EXPECT_EQ(DecodeQuotedPrintable("end="), "end");
}

}  // namespace
}  // namespace corvus::imap
