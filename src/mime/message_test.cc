// Tests for the MIME part-tree walker.
#include "mime/message.h"

#include <gtest/gtest.h>

#include <string>

#include "mime/test_util.h"

namespace corvus::mime {
namespace {

using testing::Crlf;
using testing::Shape;

const char kNested[] =
    "From: a@b\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
    "\n"
    "preamble\n"
    "--outer\n"
    "\n"
    "first\n"
    "--outer\n"
    "Content-Type: multipart/alternative; boundary=inner\n"
    "\n"
    "--inner\n"
    "Content-Type: text/plain\n"
    "\n"
    "plain\n"
    "--inner\n"
    "Content-Type: text/html\n"
    "\n"
    "<p>html</p>\n"
    "--inner--\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: inside\n"
    "\n"
    "inner body\n"
    "--outer--\n"
    "epilogue\n";

TEST(ParseMessage, BuildsTheExpectedTree) {
  struct Case {
    const char* name;
    std::string raw;
    const char* want;
  };
  const Case cases[] = {
      {"NoContentTypeIsTextPlain", Crlf("Subject: x\n\nhello\n"), "text/plain"},
      {"EmptyMessage", "", "text/plain"},
      {"HeaderOnlyMessage", Crlf("Subject: x\n"), "text/plain"},
      {"InvalidContentTypeIsTextPlain", Crlf("Content-Type: text\n\nx\n"),
       "text/plain"},
      {"NestedMultipartsAndRfc822", Crlf(kNested),
       "multipart/mixed[text/plain,multipart/alternative[text/plain,"
       "text/html],message/rfc822[text/plain]]"},
      {"NestedMultipartsWithLfOnly", kNested,
       "multipart/mixed[text/plain,multipart/alternative[text/plain,"
       "text/html],message/rfc822[text/plain]]"},
      {"MissingFinalBoundary",
       Crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n"
            "--b\n\ntwo\n"),
       "multipart/mixed[text/plain,text/plain]"},
      {"BoundaryWithTrailingWhitespace",
       Crlf("Content-Type: multipart/mixed; boundary=b\n\n--b \t\n\none\n"
            "--b--  \n"),
       "multipart/mixed[text/plain]"},
      {"BoundaryLineWithJunkIsBody",
       Crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n"
            "--bx\n--b--\n"),
       "multipart/mixed[text/plain]"},
      {"NoBoundaryFoundGivesOneTextPart",
       Crlf("Content-Type: multipart/mixed; boundary=zz\n\nno parts\n"),
       "multipart/mixed[text/plain]"},
      {"MultipartWithoutBoundaryParam",
       Crlf("Content-Type: multipart/mixed\n\n--\n"),
       "multipart/mixed[text/plain]"},
      {"DigestPartsDefaultToRfc822",
       Crlf("Content-Type: multipart/digest; boundary=d\n\n--d\n\n"
            "Subject: one\n\nbody\n--d\nContent-Type: text/plain\n\nx\n"
            "--d--\n"),
       "multipart/digest[message/rfc822[text/plain],text/plain]"},
      {"InnerMissingCloseEndsAtOuterBoundary",
       Crlf("Content-Type: multipart/mixed; boundary=o\n\n--o\n"
            "Content-Type: multipart/mixed; boundary=i\n\n--i\n\na\n"
            "--o\n\nb\n--o--\n"),
       "multipart/mixed[multipart/mixed[text/plain],text/plain]"},
      {"Rfc2231ExtendedBoundary",
       Crlf("Content-Type: multipart/mixed;\n"
            " boundary*=\"us-ascii''a%2Db\"\n\n--a-b\n\nx\n--a-b\n\ny\n"
            "--a-b--\n"),
       "multipart/mixed[text/plain,text/plain]"},
      {"Rfc2231BoundaryContinuations",
       Crlf("Content-Type: multipart/mixed; boundary*0=ab; boundary*1=cd\n\n"
            "--abcd\n\nx\n--abcd--\n"),
       "multipart/mixed[text/plain]"},
      {"BoundaryParamWithTrailingSpace",
       Crlf("Content-Type: multipart/mixed; boundary=\"b  \"\n\n--b\n\nx\n"
            "--b  \n\ny\n--b--\n"),
       "multipart/mixed[text/plain,text/plain]"},
      {"MissingSemicolonBeforeParams",
       Crlf("Content-Type: multipart/mixed\n\tboundary=\"b\"\n\n--b\n\nx\n"
            "--b--\n"),
       "multipart/mixed[text/plain]"},
      {"SpacesAroundSlash", Crlf("Content-Type: text / html\n\nx\n"),
       "text/html"},
      {"TypeIsLowerCased",
       Crlf("Content-Type: TEXT/HTML; charset=UTF-8\n\n<p>\n"), "text/html"},
      {"ContentTypeWithComment",
       Crlf("Content-Type: multipart/mixed (c); boundary=\"b\" (d)\n\n"
            "--b\n\nx\n--b--\n"),
       "multipart/mixed[text/plain]"},
  };
  for (const Case& c : cases) {
    Message m = ParseMessage(c.raw);
    std::string got = Shape(m.root);
    EXPECT_EQ(got, c.want) << c.name << ": got " << got << ", want " << c.want;
  }
}

// Finds the part at a dotted path of child indexes ("" is the root).
const Part& At(const Part& root, std::string_view path) {
  const Part* p = &root;
  for (char c : path) {
    if (c == '.') continue;
    p = &p->children.at(c - '1');
  }
  return *p;
}

TEST(ParseMessage, RecordsExactByteRanges) {
  std::string raw = Crlf(kNested);
  Message m = ParseMessage(raw);
  struct Case {
    const char* path;
    const char* want_header;
    const char* want_body;
  };
  const Case cases[] = {
      {"1", "\r\n", "first"},
      {"2.1", "Content-Type: text/plain\r\n\r\n", "plain"},
      {"2.2", "Content-Type: text/html\r\n\r\n", "<p>html</p>"},
      {"2", "Content-Type: multipart/alternative; boundary=inner\r\n\r\n",
       "--inner\r\nContent-Type: text/plain\r\n\r\nplain\r\n--inner\r\n"
       "Content-Type: text/html\r\n\r\n<p>html</p>\r\n--inner--"},
      {"3.1", "Subject: inside\r\n\r\n", "inner body"},
  };
  for (const Case& c : cases) {
    const Part& p = At(m.root, c.path);
    EXPECT_EQ(p.header.Of(raw), c.want_header)
        << c.path << ": got header " << p.header.Of(raw);
    EXPECT_EQ(p.body.Of(raw), c.want_body)
        << c.path << ": got body " << p.body.Of(raw);
  }
  EXPECT_EQ(m.part_count, 7u);
  EXPECT_FALSE(m.truncated);
}

TEST(ParseMessage, CountsSizeAndLines) {
  struct Case {
    const char* name;
    std::string raw;
    size_t want_size;
    size_t want_lines;
  };
  const Case cases[] = {
      {"EmptyBody", Crlf("Subject: x\n\n"), 0, 0},
      {"TerminatedLines", Crlf("Subject: x\n\na\nb\n"), 6, 2},
      {"UnterminatedLastLine", Crlf("Subject: x\n\na\nb"), 4, 2},
      {"LfOnly", "Subject: x\n\na\nb\n", 4, 2},
      {"MissingBlankLineStartsBodyAtFirstNonHeader",
       Crlf("Subject: x\nnot a header\n"), 14, 1},
  };
  for (const Case& c : cases) {
    Message m = ParseMessage(c.raw);
    EXPECT_EQ(m.root.body.length, c.want_size)
        << c.name << ": got size " << m.root.body.length;
    EXPECT_EQ(m.root.body_lines, c.want_lines)
        << c.name << ": got lines " << m.root.body_lines;
  }
}

TEST(ParseMessage, ReadsMimeFields) {
  std::string raw = Crlf(
      "Content-Type: text/plain; charset=\"utf-8\"; format=flowed\n"
      "Content-Transfer-Encoding: Quoted-Printable (why not)\n"
      "Content-ID: <id@x>\n"
      "Content-Description: a\n  folded description\n"
      "Content-Disposition: attachment; filename=\"a b.txt\"\n"
      "Content-Language: en, fr\n"
      "Content-Location: http://x.example/\n a\n"
      "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
      "\n"
      "body\n");
  Part p = ParseMessage(raw).root;
  EXPECT_EQ(p.FindParam("CHARSET").value_or(""), "utf-8");
  EXPECT_EQ(p.FindParam("format").value_or(""), "flowed");
  EXPECT_EQ(p.encoding.value_or(""), "Quoted-Printable");
  EXPECT_EQ(p.id.value_or(""), "<id@x>");
  EXPECT_EQ(p.description.value_or(""), "a  folded description");
  EXPECT_EQ(p.disposition.value_or(""), "attachment");
  ASSERT_EQ(p.disposition_params.size(), 1u);
  EXPECT_EQ(p.disposition_params[0].value, "a b.txt");
  EXPECT_EQ(p.languages, (std::vector<std::string>{"en", "fr"}));
  EXPECT_EQ(p.location.value_or(""), "http://x.example/a");
  EXPECT_EQ(p.md5.value_or(""), "Q2hlY2sgSW50ZWdyaXR5IQ==");
}

TEST(ParseMessage, BuildsEnvelopes) {
  std::string raw = Crlf(
      "From nobody Thu Jan  1 00:00:00 1970\n"
      "Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
      "Subject: =?utf-8?q?caf=C3=A9?=\n"
      "From: Ann <ann@x.org>\n"
      "To: Team: bob@x.org, carol@x.org;\n"
      "Message-ID: <m1@x.org>\n"
      "Subject: second subject is ignored\n"
      "Content-Type: message/rfc822\n"
      "\n"
      "Subject: inner\n"
      "From: z@y\n"
      "\n"
      "x\n");
  Message m = ParseMessage(raw);
  ASSERT_TRUE(m.root.envelope);
  const Envelope& e = *m.root.envelope;
  EXPECT_EQ(e.subject.value_or(""), "=?utf-8?q?caf=C3=A9?=");
  EXPECT_EQ(e.message_id.value_or(""), "<m1@x.org>");
  ASSERT_EQ(e.from.size(), 1u);
  EXPECT_EQ(e.sender, e.from) << "sender must default to from";
  EXPECT_EQ(e.reply_to, e.from) << "reply-to must default to from";
  EXPECT_EQ(e.to.size(), 4u) << "group start, two members, group end";
  EXPECT_FALSE(e.cc.size());
  ASSERT_TRUE(m.root.IsMessage());
  EXPECT_EQ(m.root.children[0].envelope->subject.value_or(""), "inner");
}

TEST(ParseMessage, KeepsEightBitHeadersRaw) {
  std::string raw = "Subject: caf\xc3\xa9\r\nFrom: J\xc3\xb6rg <j@x>\r\n\r\n";
  Message m = ParseMessage(raw);
  EXPECT_EQ(m.root.envelope->subject.value_or(""), "caf\xc3\xa9");
  EXPECT_EQ(m.root.envelope->from.at(0).name, "J\xc3\xb6rg");
}

TEST(ParseMessage, BoundsDeepNesting) {
  std::string raw;
  const int kLevels = 2000;
  for (int i = 0; i < kLevels; ++i) {
    raw += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) +
           "\r\n\r\n--b" + std::to_string(i) + "\r\n";
  }
  raw += "\r\nleaf\r\n";
  Message m = ParseMessage(raw);
  EXPECT_TRUE(m.truncated);
  int depth = 0;
  for (const Part* p = &m.root; !p->children.empty(); p = &p->children[0]) {
    ++depth;
  }
  EXPECT_LE(depth, kMaxDepth) << "got depth " << depth;
}

TEST(ParseMessage, BoundsDeepRfc822Nesting) {
  std::string raw;
  for (int i = 0; i < 2000; ++i) raw += "Content-Type: message/rfc822\r\n\r\n";
  Message m = ParseMessage(raw);
  EXPECT_TRUE(m.truncated);
  EXPECT_LE(m.part_count, static_cast<size_t>(kMaxDepth) + 1);
}

TEST(ParseMessage, BoundsPartCount) {
  std::string raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 20000; ++i) raw += "--b\r\n\r\nx\r\n";
  Message m = ParseMessage(raw);
  EXPECT_TRUE(m.truncated);
  EXPECT_LE(m.part_count, kMaxParts + 1);
  EXPECT_GE(m.root.children.size(), 1u);
}

TEST(MessageHeaderRange, AgreesWithTheParser) {
  struct Case {
    const char* label;
    std::string raw;
    const char* want;
  };
  const Case cases[] = {
      {"crlf message", Crlf(kNested),
       "From: a@b\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n"
       "\r\n"},
      {"bare lf", "Subject: x\n\nbody\n", "Subject: x\n\n"},
      {"folded field", "Subject: a\r\n b\r\n\r\nbody",
       "Subject: a\r\n b\r\n\r\n"},
      {"no blank line, body line ends it", "Subject: x\r\nnot a header\r\n",
       "Subject: x\r\n"},
      {"header only", "Subject: x\r\n", "Subject: x\r\n"},
      {"empty header", "\r\nbody", "\r\n"},
      {"empty message", "", ""},
  };
  for (const Case& c : cases) {
    ByteRange got = MessageHeaderRange(c.raw);
    EXPECT_EQ(got.Of(c.raw), c.want) << c.label << ": got " << got.Of(c.raw);
    EXPECT_EQ(got, ParseMessage(c.raw).root.header) << c.label;
  }
}

}  // namespace
}  // namespace corvus::mime
