#include "mta/smtp/data_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace corvus::mta {
namespace {

// Splits `stream` into lines the way Connection::ReadLine does: at each
// LF, terminator kept.
std::vector<std::string> SplitLikeReadLine(const std::string& stream) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < stream.size()) {
    size_t lf = stream.find('\n', start);
    size_t end = lf == std::string::npos ? stream.size() : lf + 1;
    lines.push_back(stream.substr(start, end - start));
    start = end;
  }
  return lines;
}

struct Decoded {
  bool ended = false;
  size_t lines_used = 0;
  std::string body;
  bool bare = false;
  bool too_big = false;
};

Decoded Decode(const std::string& stream, BareLineEndings policy,
               uint64_t max_size = 1 << 20) {
  DotDataReader reader(policy, max_size);
  Decoded out;
  for (const std::string& line : SplitLikeReadLine(stream)) {
    ++out.lines_used;
    if (reader.AddLine(line)) {
      out.ended = true;
      break;
    }
  }
  out.bare = reader.saw_bare_line_ending();
  out.too_big = reader.too_big();
  out.body = reader.TakeBody();
  return out;
}

struct Case {
  std::string name;
  std::string stream;  // bytes after the 354
  bool want_ended;
  std::string want_body;  // with kNormalize
  bool want_bare;
};

TEST(DotDataReaderTest, EndsOnlyAtCrlfDotCrlf) {
  const std::vector<Case> cases = {
      {"EndsAtCrlfDotCrlf", "a\r\nb\r\n.\r\n", true, "a\r\nb\r\n", false},
      {"EndsOnFirstLine", ".\r\n", true, "", false},
      {"UnstuffsLeadingDot", "..x\r\n..\r\n.\r\n", true, ".x\r\n.\r\n", false},
      {"KeepsDotInsideLine", "a.b\r\n.\r\n", true, "a.b\r\n", false},
      {"IgnoresLfDotLf", "a\n.\nb\r\n.\r\n", true, "a\r\n.\r\nb\r\n", true},
      {"IgnoresLfDotCrlf", "a\n.\r\nb\r\n.\r\n", true, "a\r\n.\r\nb\r\n", true},
      {"IgnoresCrlfDotLf", "a\r\n.\nb\r\n.\r\n", true, "a\r\n.\r\nb\r\n", true},
      {"IgnoresCrDotCr", "a\r.\rb\r\n.\r\n", true, "a\r\n.\r\nb\r\n", true},
      {"IgnoresCrDotCrlf", "a\r.\r\nb\r\n.\r\n", true, "a\r\n.\r\nb\r\n", true},
      {"IgnoresCrlfDotCr", "a\r\n.\rb\r\n.\r\n", true, "a\r\n.\r\nb\r\n", true},
      {"IgnoresLfDotCr", "a\n.\rb\r\n.\r\n", true, "a\r\n.\r\nb\r\n", true},
      {"NotEndedWithoutFinalDot", "a\r\nb\r\n", false, "a\r\nb\r\n", false},
      {"KeepsEmptyLines", "\r\n\r\n.\r\n", true, "\r\n\r\n", false},
  };
  for (const Case& c : cases) {
    Decoded got = Decode(c.stream, BareLineEndings::kNormalize);
    EXPECT_EQ(got.ended, c.want_ended) << c.name;
    EXPECT_EQ(got.body, c.want_body) << c.name;
    EXPECT_EQ(got.bare, c.want_bare) << c.name;

    // The reject policy finds the same end and flags the same lines.
    Decoded strict = Decode(c.stream, BareLineEndings::kReject);
    EXPECT_EQ(strict.ended, c.want_ended) << c.name << " (reject)";
    EXPECT_EQ(strict.bare, c.want_bare) << c.name << " (reject)";
    EXPECT_EQ(strict.lines_used, got.lines_used) << c.name << " (reject)";
  }
}

TEST(DotDataReaderTest, DotCrCrLfIsContentNotEnd) {
  Decoded got = Decode("a\r\n.\r\r\nb\r\n.\r\n", BareLineEndings::kNormalize);
  EXPECT_TRUE(got.ended);
  EXPECT_EQ(got.body, "a\r\n.\r\n\r\nb\r\n");
  EXPECT_TRUE(got.bare);
}

TEST(DotDataReaderTest, RejectPolicyKeepsBytesVerbatim) {
  Decoded got = Decode("a\nb\r\n.\r\n", BareLineEndings::kReject);
  EXPECT_TRUE(got.ended);
  EXPECT_TRUE(got.bare);
  EXPECT_EQ(got.body, "a\nb\r\n");
}

TEST(DotDataReaderTest, MarksTooBigButStillFindsEnd) {
  Decoded got = Decode(std::string(100, 'x') + "\r\n" + "y\r\n.\r\n",
                       BareLineEndings::kReject, 50);
  EXPECT_TRUE(got.ended);
  EXPECT_TRUE(got.too_big);
  EXPECT_EQ(got.lines_used, 3u);
}

TEST(DotDataReaderTest, DiscardedLineBlocksNextDotFromEnding) {
  DotDataReader reader(BareLineEndings::kReject, 1000);
  reader.AddDiscardedLine();
  EXPECT_FALSE(reader.AddLine(".\r\n"))
      << "a dot right after a discarded line ended the data";
  EXPECT_TRUE(reader.AddLine(".\r\n"));
  EXPECT_TRUE(reader.too_big());
}

TEST(AppendBdatChunkTest, HandlesCrlfAcrossChunks) {
  struct Case {
    std::string name;
    std::vector<std::string> chunks;
    std::string want;
    bool want_bare;
  };
  const std::vector<Case> cases = {
      {"KeepsCrlf", {"a\r\nb\r\n"}, "a\r\nb\r\n", false},
      {"JoinsCrlfSplitOverChunks", {"a\r", "\nb\r\n"}, "a\r\nb\r\n", false},
      {"NormalizesBareLf", {"a\nb"}, "a\r\nb", true},
      {"NormalizesBareCrBetweenChunks", {"a\r", "b"}, "a\r\nb", true},
      {"NormalizesTrailingCrOfLastChunk", {"a\r"}, "a\r\n", true},
      {"KeepsDotsUnchanged", {"..\r\n.\r\n"}, "..\r\n.\r\n", false},
  };
  for (const Case& c : cases) {
    std::string out;
    bool pending = false;
    bool bare = false;
    for (size_t i = 0; i < c.chunks.size(); ++i) {
      bare |= AppendBdatChunk(c.chunks[i], BareLineEndings::kNormalize,
                              i + 1 == c.chunks.size(), &pending, &out);
    }
    EXPECT_EQ(out, c.want) << c.name;
    EXPECT_EQ(bare, c.want_bare) << c.name;
  }
}

TEST(ParseBareLineEndingsTest, AcceptsOnlyKnownValues) {
  EXPECT_EQ(ParseBareLineEndings("reject"), BareLineEndings::kReject);
  EXPECT_EQ(ParseBareLineEndings("normalize"), BareLineEndings::kNormalize);
  EXPECT_FALSE(ParseBareLineEndings("strip").has_value());
}

}  // namespace
}  // namespace corvus::mta
