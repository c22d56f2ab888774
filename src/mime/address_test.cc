// Tests for the RFC 5322 address-list parser.
#include "mime/address.h"

#include <gtest/gtest.h>

#include <string>

namespace corvus::mime {
namespace {

// Renders addresses compactly: name|route|mailbox|host, "<group:" and ">".
std::string Render(const std::vector<Address>& list) {
  std::string out;
  for (const Address& a : list) {
    if (!out.empty()) out += ' ';
    switch (a.kind) {
      case Address::Kind::kMailbox:
        out += a.name + "|" + a.route + "|" + a.mailbox + "|" + a.host;
        break;
      case Address::Kind::kGroupStart:
        out += "<" + a.mailbox + ":";
        break;
      case Address::Kind::kGroupEnd:
        out += ">";
        break;
    }
  }
  return out;
}

TEST(ParseAddressList, HandlesRfc5322Forms) {
  struct Case {
    const char* name;
    const char* value;
    const char* want;
  };
  const Case cases[] = {
      {"EmptyValueGivesNoAddresses", "", ""},
      {"BareAddrSpec", "joe@example.com", "||joe|example.com"},
      {"NameAddr", "Joe Q. Public <john.q.public@example.com>",
       "Joe Q. Public||john.q.public|example.com"},
      {"QuotedNameIsUnquoted", "\"Doe, Jane\" <jane@x.org>",
       "Doe, Jane||jane|x.org"},
      {"EscapedQuoteInName", "\"a \\\"b\\\"\" <a@b>", "a \"b\"||a|b"},
      {"CommentBecomesNameOfAddrSpec", "joe@x.org (Joe Bloggs)",
       "Joe Bloggs||joe|x.org"},
      {"SeveralAddresses", "a@b, C <c@d>,e@f", "||a|b C||c|d ||e|f"},
      {"GroupWithMembers", "Friends: a@b, c@d;, z@y",
       "<Friends: ||a|b ||c|d > ||z|y"},
      {"EmptyGroup", "undisclosed-recipients:;", "<undisclosed-recipients: >"},
      {"UnclosedGroupIsClosed", "G: a@b", "<G: ||a|b >"},
      {"SourceRouteIsKept", "<@r1.example,@r2.example:joe@x.org>",
       "|@r1.example,@r2.example|joe|x.org"},
      {"MissingDomainGetsPlaceholder", "postmaster",
       "||postmaster|.MISSING-HOST-NAME."},
      {"NullPathIsSkipped", "<>, a@b", "||a|b"},
      {"EncodedWordNameStaysEncoded", "=?utf-8?q?J=C3=B6rg?= <j@x>",
       "=?utf-8?q?J=C3=B6rg?=||j|x"},
      {"QuotedLocalPart", "\"john smith\"@x.org", "||john smith|x.org"},
      {"DomainLiteral", "a@[127.0.0.1]", "||a|[127.0.0.1]"},
      {"FoldedValue", "A\r\n <a@b>,\r\n\tc@d", "A||a|b ||c|d"},
      {"UnterminatedAngleDoesNotLoop", "A <a@b", "A||a|b"},
      {"StrayPunctuationIsSkipped", ">>,;;::@@", "<: >"},
  };
  for (const Case& c : cases) {
    std::string got = Render(ParseAddressList(c.value));
    EXPECT_EQ(got, c.want) << c.name << ": got " << got << ", want " << c.want;
  }
}

}  // namespace
}  // namespace corvus::mime
