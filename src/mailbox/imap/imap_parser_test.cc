// Table-driven tests of the IMAP command and argument grammars, plus a
// bounded random run of the fuzz target.
#include "mailbox/imap/imap_parser.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace corvus::imap {
namespace {

TEST(ImapParserTest, TrailingLiteralFindsAnnouncements) {
  struct Case {
    const char* name;
    std::string line;
    bool found;
    uint64_t size;
    bool non_sync;
  };
  const std::vector<Case> cases = {
      {"synchronising", "a LOGIN {5}\r\n", true, 5, false},
      {"literal plus", "a LOGIN {5+}\r\n", true, 5, true},
      {"literal minus", "a LOGIN {5-}\r\n", true, 5, true},
      {"bare LF", "a LOGIN {12}\n", true, 12, false},
      {"no terminator", "a LOGIN {5}", false, 0, false},
      {"not at end", "a LOGIN {5} x\r\n", false, 0, false},
      {"not digits", "a LOGIN {x}\r\n", false, 0, false},
      {"empty braces", "a LOGIN {}\r\n", false, 0, false},
      {"beyond number32", "a APPEND x {4294967296}\r\n", true, UINT64_MAX,
       false},
      {"absurd length", "a APPEND x {999999999999999999999}\r\n", false, 0,
       false},
  };
  for (const Case& c : cases) {
    auto got = TrailingLiteral(c.line);
    EXPECT_EQ(got.has_value(), c.found) << c.name;
    if (got && c.found) {
      EXPECT_EQ(got->size, c.size) << c.name;
      EXPECT_EQ(got->non_synchronizing, c.non_sync) << c.name;
    }
  }
}

TEST(ImapParserTest, ParseCommandSplitsTagUidAndName) {
  struct Case {
    const char* name;
    std::string input;
    bool ok;
    std::string tag, verb;
    bool uid;
    std::string args;
  };
  const std::vector<Case> cases = {
      {"simple", "a1 NOOP\r\n", true, "a1", "NOOP", false, "\r\n"},
      {"lower case name", "x login u p\r\n", true, "x", "LOGIN", false,
       "u p\r\n"},
      {"uid form", "7 uid fetch 1:* FLAGS\r\n", true, "7", "FETCH", true,
       "1:* FLAGS\r\n"},
      {"no terminator", "a CAPABILITY", true, "a", "CAPABILITY", false, ""},
      {"plus in tag", "a+ NOOP\r\n", false, "", "", false, ""},
      {"missing command", "a\r\n", false, "", "", false, ""},
      {"empty", "", false, "", "", false, ""},
      {"NUL in name", std::string("a NO\0OP\r\n", 9), false, "", "", false, ""},
      {"uid without command", "a UID\r\n", false, "", "", false, ""},
  };
  for (const Case& c : cases) {
    auto got = ParseCommand(c.input);
    ASSERT_EQ(got.has_value(), c.ok) << c.name;
    if (!c.ok) {
      EXPECT_EQ(got.error().code, ErrorCode::kProtocol) << c.name;
      continue;
    }
    EXPECT_EQ(got->tag, c.tag) << c.name;
    EXPECT_EQ(got->name, c.verb) << c.name;
    EXPECT_EQ(got->uid, c.uid) << c.name;
    EXPECT_EQ(got->args, c.args) << c.name;
  }
}

TEST(ImapParserTest, ReaderReadsStringsAndLiterals) {
  struct Case {
    const char* name;
    std::string input;
    bool ok;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"atom", "hello", true, "hello"},
      {"atom with bracket", "a]b", true, "a]b"},
      {"quoted", "\"hello world\"", true, "hello world"},
      {"quoted escapes", "\"a\\\"b\\\\c\"", true, "a\"b\\c"},
      {"bad escape", "\"a\\nb\"", false, ""},
      {"unterminated quote", "\"abc", false, ""},
      {"literal", "{5}\r\nhello", true, "hello"},
      {"literal plus", "{5+}\r\nhello", true, "hello"},
      {"empty literal", "{0}\r\n", true, ""},
      {"short literal", "{9}\r\nhello", false, ""},
      {"NUL in literal", std::string("{3}\r\na\0b", 8), false, ""},
      {"NUL in quoted", std::string("\"a\0b\"", 5), false, ""},
      {"literal not at end of line", "{3}abc", false, ""},
  };
  for (const Case& c : cases) {
    ImapReader reader(c.input);
    auto got = reader.AString();
    ASSERT_EQ(got.has_value(), c.ok)
        << c.name << ": got " << (got ? *got : got.error().message);
    if (c.ok) {
      EXPECT_EQ(*got, c.want) << c.name;
    }
  }
}

TEST(ImapParserTest, SequenceSetsParse) {
  struct Case {
    const char* name;
    std::string input;
    bool ok;
    UidSet want;
    bool saved;
  };
  const std::vector<Case> cases = {
      {"single", "4", true, {{4, 4}}, false},
      {"range", "2:9", true, {{2, 9}}, false},
      {"reversed range kept as written", "9:2", true, {{9, 2}}, false},
      {"star", "*", true, {{kMaxUid, kMaxUid}}, false},
      {"open range", "5:*", true, {{5, kMaxUid}}, false},
      {"list", "1,3:4,*", true, {{1, 1}, {3, 4}, {kMaxUid, kMaxUid}}, false},
      {"saved", "$", true, {}, true},
      {"zero", "0", false, {}, false},
      {"too large", "4294967296", false, {}, false},
      {"trailing comma", "1,", false, {}, false},
      {"empty", "", false, {}, false},
  };
  for (const Case& c : cases) {
    ImapReader reader(c.input);
    auto got = reader.Sequence();
    ASSERT_EQ(got.has_value(), c.ok) << c.name;
    if (!c.ok) continue;
    EXPECT_EQ(got->saved, c.saved) << c.name;
    ASSERT_EQ(got->ranges.size(), c.want.size()) << c.name;
    for (size_t i = 0; i < c.want.size(); ++i) {
      EXPECT_EQ(got->ranges[i].first, c.want[i].first) << c.name;
      EXPECT_EQ(got->ranges[i].last, c.want[i].last) << c.name;
    }
  }
}

TEST(ImapParserTest, FetchAttributesParse) {
  auto got = ParseFetch(
      "1:3 (FLAGS UID BODY.PEEK[HEADER.FIELDS (From \"Sub]ject\")]<0.100> "
      "BODY[1.2] RFC822.SIZE BODYSTRUCTURE BODY MODSEQ) "
      "(CHANGEDSINCE 12 VANISHED)\r\n");
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_EQ(got->items.size(), 8u);
  EXPECT_EQ(got->items[0].attr, FetchAttr::kFlags);
  EXPECT_EQ(got->items[2].attr, FetchAttr::kBodySection);
  EXPECT_TRUE(got->items[2].peek);
  EXPECT_EQ(got->items[2].section, "HEADER.FIELDS (From \"Sub]ject\")");
  ASSERT_TRUE(got->items[2].partial.has_value());
  EXPECT_EQ(got->items[2].partial->first, 0u);
  EXPECT_EQ(got->items[2].partial->second, 100u);
  EXPECT_EQ(got->items[3].section, "1.2");
  EXPECT_FALSE(got->items[3].peek);
  EXPECT_EQ(got->items[6].attr, FetchAttr::kBody);
  EXPECT_EQ(got->items[7].attr, FetchAttr::kModseq);
  EXPECT_EQ(got->changed_since, std::optional<uint64_t>(12));
  EXPECT_TRUE(got->vanished);

  struct Case {
    const char* name;
    std::string input;
    bool ok;
    size_t items;
  };
  const std::vector<Case> cases = {
      {"macro all", "1 ALL", true, 4},
      {"macro fast", "1 FAST\r\n", true, 3},
      {"macro full", "1 full", true, 5},
      {"single att", "1 RFC822", true, 1},
      {"unknown att", "1 (FLAGS BOGUS)", false, 0},
      {"unclosed list", "1 (FLAGS", false, 0},
      {"zero partial count", "1 BODY[]<0.0>", false, 0},
      {"unclosed section", "1 BODY[TEXT", false, 0},
      {"missing set", "(FLAGS)", false, 0},
      {"unknown modifier", "1 FLAGS (BOGUS 1)", false, 0},
      {"trailing junk", "1 FLAGS junk", false, 0},
  };
  for (const Case& c : cases) {
    auto r = ParseFetch(c.input);
    ASSERT_EQ(r.has_value(), c.ok) << c.name;
    if (c.ok) {
      EXPECT_EQ(r->items.size(), c.items) << c.name;
    }
  }
}

TEST(ImapParserTest, StoreArgumentsParse) {
  struct Case {
    const char* name;
    std::string input;
    bool ok;
    FlagOp op;
    bool silent;
    size_t flags;
    std::optional<uint64_t> unchanged_since;
  };
  const std::vector<Case> cases = {
      {"add list",
       "1 +FLAGS (\\Seen \\Flagged)",
       true,
       FlagOp::kAdd,
       false,
       2,
       {}},
      {"remove silent",
       "1:* -FLAGS.SILENT (\\Deleted)",
       true,
       FlagOp::kRemove,
       true,
       1,
       {}},
      {"replace bare",
       "2 FLAGS \\Seen work",
       true,
       FlagOp::kReplace,
       false,
       2,
       {}},
      {"empty list", "2 FLAGS ()", true, FlagOp::kReplace, false, 0, {}},
      {"unchangedsince", "1 (UNCHANGEDSINCE 7) +FLAGS (x)", true, FlagOp::kAdd,
       false, 1, 7},
      {"bad item", "1 LABELS (x)", false, FlagOp::kAdd, false, 0, {}},
      {"bad flag", "1 FLAGS (\\)", false, FlagOp::kAdd, false, 0, {}},
  };
  for (const Case& c : cases) {
    auto got = ParseStore(c.input);
    ASSERT_EQ(got.has_value(), c.ok) << c.name;
    if (!c.ok) continue;
    EXPECT_EQ(got->op, c.op) << c.name;
    EXPECT_EQ(got->silent, c.silent) << c.name;
    EXPECT_EQ(got->flags.size(), c.flags) << c.name;
    EXPECT_EQ(got->unchanged_since, c.unchanged_since) << c.name;
  }
}

TEST(ImapParserTest, SearchKeysParse) {
  struct Case {
    const char* name;
    std::string input;
    bool ok;
  };
  const std::vector<Case> cases = {
      {"all", "ALL\r\n", true},
      {"flags and sizes", "UNSEEN LARGER 100 SMALLER 5000", true},
      {"or and not", "OR FROM alice NOT (SUBJECT \"hi there\" DELETED)", true},
      {"header", "HEADER X-Spam yes", true},
      {"dates", "SINCE 1-Feb-2024 BEFORE \"10-Mar-2024\" SENTON 2-Jan-2020",
       true},
      {"sequence and uid", "1:4,7 UID 100:*", true},
      {"charset", "CHARSET UTF-8 BODY {3}\r\nabc", true},
      {"esearch", "RETURN (MIN MAX COUNT) FLAGGED", true},
      {"empty return means all", "RETURN () SEEN", true},
      {"modseq", "MODSEQ 5", true},
      {"saved", "$", true},
      {"unknown key", "BOGUS", false},
      {"bad date", "SINCE 31-Foo-2024", false},
      {"or missing operand", "OR SEEN", false},
      {"unclosed paren", "(SEEN", false},
      {"missing argument", "LARGER", false},
  };
  for (const Case& c : cases) {
    auto got = ParseSearch(c.input);
    EXPECT_EQ(got.has_value(), c.ok)
        << c.name << ": " << (got ? "ok" : got.error().message);
  }
  auto esearch = ParseSearch("RETURN () SEEN");
  ASSERT_TRUE(esearch.has_value());
  EXPECT_TRUE(esearch->ret.esearch);
  EXPECT_TRUE(esearch->ret.all);
}

TEST(ImapParserTest, SearchRefusesDeepNesting) {
  for (int depth : {kMaxNesting - 2, kMaxNesting + 5, 100000}) {
    std::string input(depth, '(');
    input += "SEEN";
    input += std::string(depth, ')');
    auto got = ParseSearch(input);
    EXPECT_EQ(got.has_value(), depth < kMaxNesting) << "depth " << depth;
    std::string nots;
    for (int i = 0; i < depth; ++i) nots += "NOT ";
    nots += "SEEN";
    got = ParseSearch(nots);
    EXPECT_EQ(got.has_value(), depth < kMaxNesting) << "NOT depth " << depth;
  }
}

TEST(ImapParserTest, AppendArgumentsParse) {
  auto got = ParseAppend(
      "Drafts (\\Draft \\Seen) \"17-Jul-1996 02:44:25 -0700\" {5+}\r\nhello"
      "\r\n");
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(got->mailbox, "Drafts");
  ASSERT_EQ(got->messages.size(), 1u);
  const AppendMessage& m = got->messages[0];
  EXPECT_EQ(m.flags, (std::vector<std::string>{"\\Draft", "\\Seen"}));
  // 02:44:25 at -0700 is 09:44:25 UTC.
  EXPECT_EQ(m.internal_date, std::optional<int64_t>(837596665));
  EXPECT_EQ(m.data, "hello");
  EXPECT_EQ(FormatDateTime(837596665), "17-Jul-1996 09:44:25 +0000");

  struct Case {
    const char* name;
    std::string input;
    bool ok;
  };
  const std::vector<Case> cases = {
      {"plain", "INBOX {2}\r\nhi", true},
      {"utf8 form", "INBOX UTF8 (~{2}\r\nhi)", true},
      {"quoted message", "INBOX \"hi\"", false},
      {"bad date", "INBOX \"17-Jul-1996 25:44:25 -0700\" {2}\r\nhi", false},
      {"multiappend", "INBOX {2}\r\nhi (\\Seen) {2}\r\nho", true},
      {"literal8 with NUL", std::string("INBOX ~{3}\r\na\0b", 15), true},
      {"NUL in plain literal", std::string("INBOX {3}\r\na\0b", 14), false},
      {"trailing space", "INBOX {2}\r\nhi ", false},
      {"no message", "INBOX", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParseAppend(c.input).has_value(), c.ok) << c.name;
  }
}

TEST(ImapParserTest, TagForErrorOnlyEchoesTagLikeTokens) {
  EXPECT_EQ(TagForError("a12 BOGUS\r\n"), "a12");
  EXPECT_EQ(TagForError("(((\r\n"), "*");
  EXPECT_EQ(TagForError(""), "*");
  EXPECT_EQ(TagForError("a+b NOOP"), "*");
}

// The fuzz target's own checks, over bounded random and mutated input.
TEST(ImapParserTest, FuzzTargetSurvivesRandomInput) {
  const std::vector<std::string> seeds = {
      "a FETCH 1:* (BODY.PEEK[HEADER.FIELDS (From)]<0.10> FLAGS)\r\n",
      "b UID SEARCH RETURN (MIN) OR (FROM x) NOT SEEN CHARSET UTF-8\r\n",
      "c STORE 1 (UNCHANGEDSINCE 3) +FLAGS.SILENT (\\Seen)\r\n",
      "d APPEND INBOX (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {3}\r\nabc\r\n",
      "&AOk-t&AOk-",
      "Entw&APw-rfe",
      "&Jjo-!",
      "&-&-",
  };
  static constexpr char kAlphabet[] = "(){}[]<>\\\"*%$:,. \r\n0123456789+-~";
  std::mt19937 rng(12345);
  for (int round = 0; round < 20000; ++round) {
    std::string input = seeds[rng() % seeds.size()];
    int edits = 1 + rng() % 6;
    for (int e = 0; e < edits && !input.empty(); ++e) {
      size_t at = rng() % input.size();
      switch (rng() % 3) {
        case 0:
          input[at] = static_cast<char>(rng() % 256);
          break;
        case 1:
          input.erase(at, 1);
          break;
        default:
          input.insert(at, 1, kAlphabet[rng() % (sizeof(kAlphabet) - 1)]);
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                           input.size());
  }
}

}  // namespace
}  // namespace corvus::imap
