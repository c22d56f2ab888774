#include "common/log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace corvus {
namespace {

TEST(SanitizeForLogTest, EscapesControlBytesAndCutsLongText) {
  EXPECT_EQ(SanitizeForLog("plain text"), "plain text");
  EXPECT_EQ(SanitizeForLog("a\r\nb\x01"), "a\\x0d\\x0ab\\x01");
  EXPECT_EQ(SanitizeForLog("\xff"), "\\xff");
  EXPECT_EQ(SanitizeForLog("a\\b"), "a\\x5cb");
  EXPECT_EQ(SanitizeForLog("abcdef", 3), "abc...");
}

TEST(LogLevelTest, ParsesEveryName) {
  for (const char* name :
       {"debug", "info", "notice", "warning", "error", "fatal"}) {
    auto level = ParseLogLevel(name);
    ASSERT_TRUE(level) << name;
    EXPECT_EQ(LogLevelName(*level), name);
  }
  EXPECT_FALSE(ParseLogLevel("verbose"));
}

TEST(LoggerTest, WritesOneKeyValueLinePerEventWithContext) {
  auto path = std::filesystem::temp_directory_path() /
              ("corvus_log_test_" + std::to_string(getpid()) + ".log");
  ASSERT_TRUE(InitLogging({LogLevel::kNotice, path.string()}));

  Logger log = Logger().With("role", "mta").With("conn", "7");
  log.Info("hidden");  // below the configured level
  log.Notice("reject", {{"reason", "relay denied"}, {"code", 550}});
  log.Warning("odd", {{"helo", "evil\r\nlevel=fatal"}});

  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string got = text.str();
  EXPECT_EQ(got.find("hidden"), std::string::npos) << got;
  EXPECT_NE(got.find("level=notice role=mta conn=7 event=reject "
                     "reason=\"relay denied\" code=550\n"),
            std::string::npos)
      << got;
  // Injected line breaks stay inside one quoted, escaped value.
  EXPECT_NE(got.find("helo=\"evil\\x0d\\x0alevel=fatal\""),
            std::string::npos)
      << got;
  EXPECT_EQ(std::count(got.begin(), got.end(), '\n'), 2) << got;

  ASSERT_TRUE(InitLogging({LogLevel::kInfo, ""}));
  std::filesystem::remove(path);
}

TEST(FormatPeerTest, UsesUnknownForMissingName) {
  EXPECT_EQ(FormatPeer("", "192.0.2.1"), "unknown[192.0.2.1]");
  EXPECT_EQ(FormatPeer("mx.example", "::1"), "mx.example[::1]");
}

}  // namespace
}  // namespace corvus
