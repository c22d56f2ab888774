// Tests for IMAP ENVELOPE / BODY / BODYSTRUCTURE rendering.
#include "mime/imap_render.h"

#include <gtest/gtest.h>

#include <string>

#include "mime/test_util.h"

namespace corvus::mime {
namespace {

using testing::Crlf;

TEST(AppendImapString, ChoosesNilQuotedOrLiteral) {
  struct Case {
    const char* name;
    std::optional<std::string_view> value;
    std::string want;
  };
  const Case cases[] = {
      {"AbsentIsNil", std::nullopt, "NIL"},
      {"EmptyIsQuoted", "", "\"\""},
      {"PlainIsQuoted", "hello world", "\"hello world\""},
      {"QuoteAndBackslashEscaped", "a\"b\\c", "\"a\\\"b\\\\c\""},
      {"EightBitIsLiteral", "caf\xc3\xa9", "{5}\r\ncaf\xc3\xa9"},
      {"LineBreakIsLiteral", "a\r\nb", "{4}\r\na\r\nb"},
      {"NulBecomesSpace", std::string_view("a\0b", 3), "\"a b\""},
  };
  for (const Case& c : cases) {
    std::string got;
    AppendImapString(got, c.value);
    EXPECT_EQ(got, c.want) << c.name << ": got " << got << ", want " << c.want;
  }
}

TEST(ImapEnvelope, RendersAllFields) {
  std::string raw = Crlf(
      "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\n"
      "Subject: IMAP4rev1 \"WG\" mtg\n"
      "From: Terry Gray <gray@cac.washington.edu>\n"
      "To: imap@cac.washington.edu\n"
      "Cc: minutes@CNRI.Reston.VA.US,\n"
      "   John Klensin <KLENSIN@MIT.EDU>\n"
      "Bcc: Undisclosed: ;\n"
      "In-Reply-To: <a@b>\n"
      "Message-Id: <B27397-0100000@cac.washington.edu>\n"
      "\n");
  Message m = ParseMessage(raw);
  std::string got = ImapEnvelope(*m.root.envelope);
  std::string want =
      "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
      "\"IMAP4rev1 \\\"WG\\\" mtg\" "
      "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
      "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
      "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
      "((NIL NIL \"imap\" \"cac.washington.edu\")) "
      "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
      "(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) "
      "((NIL NIL \"Undisclosed\" NIL)(NIL NIL NIL NIL)) "
      "\"<a@b>\" \"<B27397-0100000@cac.washington.edu>\")";
  EXPECT_EQ(got, want) << "got " << got;
}

TEST(ImapEnvelope, MissingHeadersAreNil) {
  Message m = ParseMessage("\r\nbody");
  EXPECT_EQ(ImapEnvelope(*m.root.envelope),
            "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
}

TEST(ImapEnvelope, EightBitSubjectIsLiteral) {
  Message m = ParseMessage("Subject: caf\xc3\xa9\r\n\r\n");
  std::string got = ImapEnvelope(*m.root.envelope);
  EXPECT_EQ(got, "(NIL {5}\r\ncaf\xc3\xa9 NIL NIL NIL NIL NIL NIL NIL NIL)")
      << "got " << got;
}

TEST(ImapBodyStructure, RendersBothForms) {
  struct Case {
    const char* name;
    std::string raw;
    std::string want_body;
    std::string want_bodystructure;
  };
  const Case cases[] = {
      {"DefaultTextPlain", Crlf("Subject: x\n\nhello\n"),
       "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1)",
       "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1"
       " NIL NIL NIL NIL)"},
      {"NonTextHasNoLineCount",
       Crlf("Content-Type: image/png; name=a.png\n"
            "Content-Transfer-Encoding: base64\n"
            "Content-ID: <c1>\n"
            "Content-Disposition: inline\n"
            "Content-Language: en, de\n\nAAAA\n"),
       "(\"image\" \"png\" (\"name\" \"a.png\") \"<c1>\" NIL \"base64\" 6)",
       "(\"image\" \"png\" (\"name\" \"a.png\") \"<c1>\" NIL \"base64\" 6"
       " NIL (\"inline\" NIL) (\"en\" \"de\") NIL)"},
      {"MultipartWithRfc822",
       Crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
            "Content-Type: text/plain; charset=utf-8\n\nhi\n--b\n"
            "Content-Type: message/rfc822\n"
            "Content-Disposition: attachment; filename=m.eml\n\n"
            "Subject: s\nFrom: a@b\n\nin\n--b--\n"),
       "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 2 1)"
       "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 27 (NIL \"s\" "
       "((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
       "((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL) "
       "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 1)"
       " 4) \"mixed\")",
       "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 2 1"
       " NIL NIL NIL NIL)"
       "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 27 (NIL \"s\" "
       "((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
       "((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL) "
       "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 1"
       " NIL NIL NIL NIL) 4 NIL (\"attachment\" (\"filename\" \"m.eml\"))"
       " NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)"},
  };
  for (const Case& c : cases) {
    Message m = ParseMessage(c.raw);
    std::string body = ImapBodyStructure(m.root, false);
    std::string structure = ImapBodyStructure(m.root, true);
    EXPECT_EQ(body, c.want_body) << c.name << ": got BODY " << body;
    EXPECT_EQ(structure, c.want_bodystructure)
        << c.name << ": got BODYSTRUCTURE " << structure;
  }
}

}  // namespace
}  // namespace corvus::mime
