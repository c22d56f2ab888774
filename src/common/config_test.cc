#include "common/config.h"

#include <gtest/gtest.h>

namespace corvus {
namespace {

constexpr char kMinimal[] = "[server]\ndata_dir = \"/var/lib/corvus\"\n";

TEST(ConfigTest, MinimalFileGetsDocumentedDefaults) {
  auto config = ParseConfig(kMinimal, "/etc/corvus/corvus.toml");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->server.data_dir, "/var/lib/corvus");
  EXPECT_EQ(config->log.level, LogLevel::kInfo);
  EXPECT_EQ(config->smtp.max_message_size, 50 * 1024 * 1024);
  EXPECT_EQ(config->auth.plaintext, PlaintextAuth::kLoopback);
  EXPECT_FALSE(config->listen.smtp.has_value());
  EXPECT_EQ(config->DataPath("queue"), "/var/lib/corvus/queue");
  EXPECT_EQ(config->DataPath("/abs/q"), "/abs/q");
}

TEST(ConfigTest, RelativePathsAreAnchoredAtTheConfigFile) {
  auto config = ParseConfig(
      "[server]\ndata_dir = \"data\"\n[tls]\ncertificate = \"c.pem\"\n"
      "private_key = \"/k.pem\"\n",
      "/srv/node1/corvus.toml");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->server.data_dir, "/srv/node1/data");
  EXPECT_EQ(config->tls.certificate, "/srv/node1/c.pem");
  EXPECT_EQ(config->tls.private_key, "/k.pem");
}

TEST(ConfigTest, ReadsListenEndpoints) {
  auto config = ParseConfig(std::string(kMinimal) +
                                "[listen]\nsmtp = \"127.0.0.1:10025\"\n"
                                "imap = \"[::1]:10143\"\n",
                            "/c.toml");
  ASSERT_TRUE(config) << config.error().ToString();
  ASSERT_TRUE(config->listen.smtp);
  EXPECT_EQ(config->listen.smtp->host, "127.0.0.1");
  EXPECT_EQ(config->listen.smtp->port, 10025);
  ASSERT_TRUE(config->listen.imap);
  EXPECT_EQ(config->listen.imap->ToString(), "[::1]:10143");
}

struct BadConfigCase {
  const char* name;
  std::string text;
  std::string want_in_message;
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const BadConfigCase& c, std::ostream* out) { *out << c.name; }

class BadConfigTest : public ::testing::TestWithParam<BadConfigCase> {};

TEST_P(BadConfigTest, IsAClearConfigError) {
  const BadConfigCase& c = GetParam();
  auto config = ParseConfig(c.text, "/etc/corvus.toml");
  ASSERT_FALSE(config) << "got success, want an error containing '"
                       << c.want_in_message << "'";
  EXPECT_EQ(config.error().code, ErrorCode::kConfig);
  std::string got = config.error().ToString();
  EXPECT_NE(got.find(c.want_in_message), std::string::npos)
      << "got '" << got << "', want it to contain '" << c.want_in_message
      << "'";
  EXPECT_NE(got.find("/etc/corvus.toml"), std::string::npos)
      << "got '" << got << "', want it to name the file";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadConfigTest,
    ::testing::Values(
        BadConfigCase{"MissingDataDir", "", "missing key 'server.data_dir'"},
        BadConfigCase{"UnknownKeyInSection",
                      std::string(kMinimal) + "[smtp]\nmax_mesage_size = 1\n",
                      "unknown key 'smtp.max_mesage_size'"},
        BadConfigCase{"UnknownSection",
                      std::string(kMinimal) + "[smpt]\nx = 1\n",
                      "unknown key 'smpt'"},
        BadConfigCase{"UnknownTopLevelKey",
                      "colour = 1\n" + std::string(kMinimal),
                      "unknown key 'colour'"},
        BadConfigCase{"StringWhereIntegerExpected",
                      std::string(kMinimal) +
                          "[smtp]\nmax_recipients = \"many\"\n",
                      "'smtp.max_recipients': expected an integer"},
        BadConfigCase{"IntegerOutOfRange",
                      std::string(kMinimal) + "[smtp]\nmax_recipients = 0\n",
                      "expected an integer from 1 to 100000"},
        BadConfigCase{"BadEndpoint",
                      std::string(kMinimal) + "[listen]\nsmtp = \"25\"\n",
                      "'listen.smtp': expected a \"host:port\" string"},
        BadConfigCase{"PortTooLarge",
                      std::string(kMinimal) +
                          "[listen]\nsmtp = \"127.0.0.1:70000\"\n",
                      "'listen.smtp'"},
        BadConfigCase{"BadLogLevel",
                      std::string(kMinimal) + "[log]\nlevel = \"loud\"\n",
                      "'log.level': expected one of"},
        BadConfigCase{"BadEnum",
                      std::string(kMinimal) + "[auth]\nplaintext = \"yes\"\n",
                      "'auth.plaintext': expected one of \"never\""},
        BadConfigCase{"UnknownRole",
                      "[server]\ndata_dir = \"/d\"\nroles = [\"mta\", "
                      "\"ftp\"]\n",
                      "unknown role 'ftp'"},
        BadConfigCase{"CertificateWithoutKey",
                      std::string(kMinimal) + "[tls]\ncertificate = \"c\"\n",
                      "go together"},
        BadConfigCase{"SectionIsNotATable", "server = 3\n",
                      "'server' must be a table"},
        BadConfigCase{"SyntaxError", "[server\n", "TOML syntax error"},
        BadConfigCase{"RetryMaxBelowInitial",
                      std::string(kMinimal) +
                          "[queue]\nretry_initial_seconds = 600\n"
                          "retry_max_seconds = 60\n",
                      "'queue.retry_max_seconds'"}),
    [](const auto& info) { return info.param.name; });

TEST(ConfigTest, MissingFileIsAConfigError) {
  auto config = LoadConfig("/nonexistent/corvus.toml");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, ErrorCode::kConfig);
}

TEST(EndpointTest, ParsesAndRejects) {
  struct Case {
    const char* text;
    bool ok;
  } cases[] = {{"127.0.0.1:25", true}, {"[::1]:143", true},
               {"localhost:0", true},  {":25", false},
               {"::1:25", false},      {"1.2.3.4:", false},
               {"1.2.3.4:x", false},   {"[::1]143", false}};
  for (const Case& c : cases) {
    EXPECT_EQ(ParseEndpoint(c.text).has_value(), c.ok)
        << "ParseEndpoint(\"" << c.text << "\"): want ok=" << c.ok;
  }
}

}  // namespace
}  // namespace corvus
