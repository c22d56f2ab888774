// Transcript tests: a real corvus::Server on loopback runs SMTP, submission
// and LMTP sessions; a raw socket client sends exact bytes and reads the
// replies; fake policy, sink, LMTP and authenticator objects record what
// the session handed them.
#include "mta/smtp/smtp_session.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "common/testing/line_client.h"
#include "common/testing/loopback_server.h"
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/net.h"
#include "common/tls.h"

namespace corvus::mta {
namespace {

using namespace std::chrono_literals;

// Local domain: example.com. Users: anyone except unknown@, temp@.
class FakePolicy : public RecipientPolicy {
 public:
  Task<RcptVerdict> CheckRecipient(const SessionInfo& session,
                                   std::string_view address) override {
    std::string a(address);
    if (a.starts_with("unknown@")) co_return RcptVerdict::UnknownUser();
    if (a.starts_with("temp@")) co_return RcptVerdict::TryLater("busy");
    if (!a.ends_with("@example.com") && !session.relay_allowed()) {
      co_return RcptVerdict::RelayDenied();
    }
    co_return RcptVerdict::Accept();
  }
};

struct Stored {
  Envelope envelope;
  std::string data;
};

class FakeSink : public MessageSink {
 public:
  Task<Result<std::string>> Accept(const Envelope& envelope,
                                   std::string data) override {
    std::lock_guard lock(mu_);
    stored_.push_back({envelope, std::move(data)});
    co_return envelope.queue_id;
  }
  std::vector<Stored> stored() {
    std::lock_guard lock(mu_);
    return stored_;
  }

 private:
  std::mutex mu_;
  std::vector<Stored> stored_;
};

// full@ is over quota; everyone else gets 250.
class FakeLmtp : public LmtpDelivery {
 public:
  Task<std::vector<SmtpReply>> Deliver(const Envelope& envelope,
                                       std::string data) override {
    std::vector<SmtpReply> replies;
    for (const Recipient& r : envelope.rcpt_to) {
      if (r.address.starts_with("full@")) {
        replies.push_back({552, "5.2.2", "Mailbox full"});
      } else {
        replies.push_back({250, "2.0.0", "Delivered to " + r.address});
      }
    }
    std::lock_guard lock(mu_);
    stored_.push_back({envelope, std::move(data)});
    co_return replies;
  }
  // The LMTP session only ever calls Deliver().
  Task<std::vector<std::vector<SmtpReply>>> DeliverMany(
      std::span<const Envelope> envelopes,
      std::span<const std::string_view>) override {
    ADD_FAILURE() << "DeliverMany from an LMTP session";
    co_return std::vector<std::vector<SmtpReply>>(envelopes.size());
  }
  std::vector<Stored> stored() {
    std::lock_guard lock(mu_);
    return stored_;
  }

 private:
  std::mutex mu_;
  std::vector<Stored> stored_;
};

class FakeAuthenticator : public Authenticator {
 public:
  Task<Result<std::string>> Authenticate(const SessionInfo&, std::string_view,
                                         std::string_view username,
                                         std::string_view password) override {
    if (username == "alice" && password == "secret") {
      co_return std::string("alice@example.com");
    }
    co_return Fail(ErrorCode::kPermanent, "bad credentials");
  }
};

// The SMTP handler for `options` and `deps`, or a test failure.
Handler SmtpHandler(SmtpSessionOptions options, SmtpDependencies deps) {
  auto handler = MakeSmtpHandler(std::move(options), std::move(deps));
  EXPECT_TRUE(handler.has_value()) << handler.error().ToString();
  return handler ? *handler : Handler{};
}

// A Server on 127.0.0.1:0 running one SMTP listener, on its own thread.
class TestServer : public testing::LoopbackServer {
 public:
  TestServer(SmtpSessionOptions options, SmtpDependencies deps,
             std::shared_ptr<TlsContext> tls = nullptr)
      : LoopbackServer("smtp", SmtpHandler(std::move(options), std::move(deps)),
                       std::move(tls)) {}
};

// A raw SMTP client: exact bytes out, whole replies in, optional TLS.
class Client : public testing::LineClient {
 public:
  using LineClient::LineClient;

  // Reads one complete (possibly multi-line) reply; "" on EOF or after
  // 5 s of silence.
  std::string Reply() {
    std::string reply;
    for (int lines = 0; lines < 100; ++lines) {
      std::string line = ReadLine();
      if (line.empty()) return reply;
      reply += line;
      if (line.size() < 4 || line[3] != '-') return reply;
    }
    return reply;
  }
};

#define EXPECT_REPLY(client, prefix)                               \
  do {                                                             \
    std::string got_reply = (client).Reply();                      \
    EXPECT_TRUE(got_reply.starts_with(prefix))                     \
        << "got " << (got_reply.empty() ? "(nothing)" : got_reply) \
        << ", want " << (prefix);                                  \
  } while (false)

// Returns the message without the Received: header the session added, or
// "(no Received header)".
std::string WithoutReceived(const std::string& data) {
  if (!data.starts_with("Received: ")) return "(no Received header)";
  size_t end = data.find("+0000\r\n");
  if (end == std::string::npos) return "(no Received header)";
  return data.substr(end + 7);
}

SmtpSessionOptions TestOptions(SmtpMode mode = SmtpMode::kSmtp) {
  SmtpSessionOptions options;
  options.mode = mode;
  options.hostname = "mx.test";
  options.max_message_size = 10000;
  options.max_recipients = 3;
  options.max_line_length = 512;
  options.command_timeout = 10s;
  options.data_timeout = 10s;
  options.max_errors = 100;
  options.soft_error_limit = 100;
  options.error_delay = 0ms;
  options.trusted_networks = *TrustedNetworks::Parse({"127.0.0.0/8"});
  return options;
}

class SmtpSessionTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakePolicy> policy_ = std::make_shared<FakePolicy>();
  std::shared_ptr<FakeSink> sink_ = std::make_shared<FakeSink>();
  std::shared_ptr<FakeLmtp> lmtp_ = std::make_shared<FakeLmtp>();
  std::shared_ptr<FakeAuthenticator> auth_ =
      std::make_shared<FakeAuthenticator>();

  SmtpDependencies Deps() { return {policy_, sink_, lmtp_, auth_}; }

  // Connects and says EHLO; returns the EHLO reply through `ehlo`.
  std::unique_ptr<Client> Greet(TestServer& server, std::string* ehlo = nullptr,
                                std::string hello = "EHLO client.test\r\n") {
    auto client = std::make_unique<Client>(server.port());
    EXPECT_TRUE(client->connected());
    EXPECT_REPLY(*client, "220 mx.test");
    client->Send(hello);
    std::string reply = client->Reply();
    EXPECT_TRUE(reply.starts_with("250")) << "got " << reply;
    if (ehlo != nullptr) *ehlo = reply;
    return client;
  }
};

TEST_F(SmtpSessionTest, DeliversOneMessageToTheSink) {
  TestServer server(TestOptions(), Deps());
  std::string ehlo;
  auto client = Greet(server, &ehlo);
  for (const char* keyword : {"PIPELINING", "SIZE 10000", "8BITMIME",
                              "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING"}) {
    EXPECT_NE(ehlo.find(keyword), std::string::npos)
        << "EHLO lacks " << keyword << ": " << ehlo;
  }
  EXPECT_EQ(ehlo.find("AUTH"), std::string::npos) << ehlo;
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos) << ehlo;

  client->Send("MAIL FROM:<sender@example.org>\r\n");
  EXPECT_REPLY(*client, "250 2.1.0");
  client->Send("RCPT TO:<rcpt@example.com>\r\n");
  EXPECT_REPLY(*client, "250 2.1.5");
  client->Send("DATA\r\n");
  EXPECT_REPLY(*client, "354 ");
  client->Send("Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n");
  EXPECT_REPLY(*client, "250 2.0.0 Ok: queued as ");
  client->Send("QUIT\r\n");
  EXPECT_REPLY(*client, "221 2.0.0");
  EXPECT_TRUE(client->ReadsEof());

  auto stored = sink_->stored();
  ASSERT_EQ(stored.size(), 1u);
  const Envelope& envelope = stored[0].envelope;
  EXPECT_EQ(envelope.mail_from, "sender@example.org");
  ASSERT_EQ(envelope.rcpt_to.size(), 1u);
  EXPECT_EQ(envelope.rcpt_to[0].address, "rcpt@example.com");
  EXPECT_EQ(envelope.helo, "client.test");
  EXPECT_EQ(envelope.protocol, "ESMTP");
  EXPECT_EQ(WithoutReceived(stored[0].data),
            "Subject: hi\r\n\r\n.dot\r\nbody\r\n");
  std::string want_start =
      "Received: from client.test ([127.0.0.1])\r\n"
      "\tby mx.test with ESMTP id " +
      envelope.queue_id + "\r\n\tfor <rcpt@example.com>; ";
  EXPECT_TRUE(stored[0].data.starts_with(want_start))
      << "got " << stored[0].data;
}

TEST_F(SmtpSessionTest, AnswersPipelinedCommandsInOrder) {
  TestServer server(TestOptions(), Deps());
  auto client = Greet(server);
  client->Send(
      "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
      "RCPT TO:<unknown@example.com>\r\nRCPT TO:<c@example.com>\r\nDATA\r\n");
  EXPECT_REPLY(*client, "250 2.1.0");
  EXPECT_REPLY(*client, "250 2.1.5");
  EXPECT_REPLY(*client, "550 5.1.1");
  EXPECT_REPLY(*client, "250 2.1.5");
  EXPECT_REPLY(*client, "354 ");
  client->Send("x\r\n.\r\nQUIT\r\n");
  EXPECT_REPLY(*client, "250 2.0.0");
  EXPECT_REPLY(*client, "221 ");

  auto stored = sink_->stored();
  ASSERT_EQ(stored.size(), 1u);
  ASSERT_EQ(stored[0].envelope.rcpt_to.size(), 2u);
  EXPECT_EQ(stored[0].envelope.rcpt_to[0].address, "b@example.com");
  EXPECT_EQ(stored[0].envelope.rcpt_to[1].address, "c@example.com");
  // More than one recipient: the Received: header names none.
  EXPECT_EQ(stored[0].data.find("for <"), std::string::npos);
}

TEST_F(SmtpSessionTest, RefusesRelayFromUntrustedClient) {
  SmtpSessionOptions options = TestOptions();
  options.trusted_networks = TrustedNetworks();
  TestServer server(std::move(options), Deps());
  auto client = Greet(server);
  client->Send("MAIL FROM:<a@example.org>\r\n");
  EXPECT_REPLY(*client, "250");
  client->Send("RCPT TO:<someone@elsewhere.example>\r\n");
  EXPECT_REPLY(*client, "550 5.7.1");
  client->Send("RCPT TO:<temp@example.com>\r\n");
  EXPECT_REPLY(*client, "452 4.3.0");
  client->Send("RCPT TO:<local@example.com>\r\n");
  EXPECT_REPLY(*client, "250 2.1.5");
}

TEST_F(SmtpSessionTest, AllowsRelayFromTrustedNetwork) {
  TestServer server(TestOptions(), Deps());
  auto client = Greet(server);
  client->Send(
      "MAIL FROM:<a@example.org>\r\n"
      "RCPT TO:<someone@elsewhere.example>\r\n");
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "250 2.1.5");
}

TEST_F(SmtpSessionTest, EnforcesMessageSizeLimit) {
  TestServer server(TestOptions(), Deps());
  auto client = Greet(server);
  client->Send("MAIL FROM:<a@example.org> SIZE=20000\r\n");
  EXPECT_REPLY(*client, "552 5.3.4");

  client->Send("MAIL FROM:<a@example.org> SIZE=100\r\n");
  EXPECT_REPLY(*client, "250");
  client->Send("RCPT TO:<b@example.com>\r\nDATA\r\n");
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "354");
  std::string line(99, 'x');
  for (int i = 0; i < 200; ++i) client->Send(line + "\r\n");
  client->Send(".\r\n");
  EXPECT_REPLY(*client, "552 5.3.4");
  // The session is in step: the next command gets its own reply.
  client->Send("NOOP\r\n");
  EXPECT_REPLY(*client, "250 2.0.0");
  EXPECT_TRUE(sink_->stored().empty());
}

TEST_F(SmtpSessionTest, LimitsRecipientsPerMessage) {
  TestServer server(TestOptions(), Deps());
  auto client = Greet(server);
  client->Send(
      "MAIL FROM:<a@example.org>\r\nRCPT TO:<1@example.com>\r\n"
      "RCPT TO:<2@example.com>\r\nRCPT TO:<3@example.com>\r\n"
      "RCPT TO:<4@example.com>\r\n");
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "452 4.5.3");
}

TEST_F(SmtpSessionTest, AssemblesBdatChunks) {
  TestServer server(TestOptions(), Deps());
  auto client = Greet(server);
  client->Send("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n");
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "250");
  // A chunk may contain what would end DATA; BDAT counts bytes instead.
  client->Send("BDAT 12\r\nSubject: x\r\n");
  EXPECT_REPLY(*client, "250 2.0.0 12 octets");
  client->Send("BDAT 9\r\n\r\n.\r\nab\r\nBDAT 0 LAST\r\n");
  EXPECT_REPLY(*client, "250 2.0.0 9 octets");
  EXPECT_REPLY(*client, "250 2.0.0 Ok: queued");
  auto stored = sink_->stored();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(WithoutReceived(stored[0].data), "Subject: x\r\n\r\n.\r\nab\r\n");

  // BDAT 0 LAST alone is an empty message.
  client->Send("MAIL FROM:<>\r\nRCPT TO:<b@example.com>\r\nBDAT 0 LAST\r\n");
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "250 2.0.0 Ok: queued");
  stored = sink_->stored();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(WithoutReceived(stored[1].data), "");
  EXPECT_EQ(stored[1].envelope.mail_from, "");
}

TEST_F(SmtpSessionTest, DiscardsRefusedBdatChunk) {
  TestServer server(TestOptions(), Deps());
  auto client = Greet(server);
  // No MAIL yet: the chunk is refused but its bytes, which look like
  // commands, are read and dropped.
  client->Send("BDAT 20\r\nRSET\r\nMAIL FROM:<>\r\nNOOP\r\n");
  EXPECT_REPLY(*client, "503 5.5.1");
  EXPECT_REPLY(*client, "250 2.0.0");
  client->Send(
      "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
      "BDAT 20000 LAST\r\n");
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "250");
  client->Send(std::string(20000, 'z'));
  EXPECT_REPLY(*client, "552 5.3.4");
  client->Send("NOOP\r\n");
  EXPECT_REPLY(*client, "250 2.0.0");
  EXPECT_TRUE(sink_->stored().empty());
}

// SMTP smuggling: a bare CR or LF next to a dot must never end the data.
// Each variant is followed by a would-be second transaction and the real
// end of data.
const std::vector<std::pair<std::string, std::string>> kSmugglingVariants = {
    {"LfDotLf", "\n.\n"}, {"LfDotCrlf", "\n.\r\n"}, {"CrlfDotLf", "\r\n.\n"},
    {"CrDotCr", "\r.\r"}, {"CrDotCrlf", "\r.\r\n"}, {"CrlfDotCr", "\r\n.\r"},
    {"LfDotCr", "\n.\r"}, {"CrDotLf", "\r.\n"},
};
const std::string kSmuggled =
    "MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.com>\r\n"
    "DATA\r\nsmuggled\r\n";

TEST_F(SmtpSessionTest, RejectsEverySmugglingVariant) {
  TestServer server(TestOptions(), Deps());
  auto client = Greet(server);
  for (const auto& [name, variant] : kSmugglingVariants) {
    client->Send(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
        "DATA\r\n");
    EXPECT_REPLY(*client, "250");
    EXPECT_REPLY(*client, "250");
    EXPECT_REPLY(*client, "354");
    client->Send("Subject: t\r\n\r\nhello" + variant + kSmuggled + ".\r\n");
    std::string reply = client->Reply();
    EXPECT_TRUE(reply.starts_with("550 5.6.0")) << name << ": got " << reply;
    // Nothing else is pending: the next reply answers NOOP.
    client->Send("NOOP\r\n");
    reply = client->Reply();
    EXPECT_TRUE(reply.starts_with("250 2.0.0 Ok")) << name << ": got " << reply;
  }
  EXPECT_TRUE(sink_->stored().empty());
}

TEST_F(SmtpSessionTest, NormalizesSmugglingVariantsIntoOneMessage) {
  SmtpSessionOptions options = TestOptions();
  options.bare_line_endings = BareLineEndings::kNormalize;
  TestServer server(std::move(options), Deps());
  auto client = Greet(server);
  size_t want_count = 0;
  for (const auto& [name, variant] : kSmugglingVariants) {
    client->Send(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
        "DATA\r\n");
    EXPECT_REPLY(*client, "250");
    EXPECT_REPLY(*client, "250");
    EXPECT_REPLY(*client, "354");
    client->Send("Subject: t\r\n\r\nhello" + variant + kSmuggled + ".\r\n");
    std::string reply = client->Reply();
    EXPECT_TRUE(reply.starts_with("250 2.0.0 Ok: queued"))
        << name << ": got " << reply;
    client->Send("NOOP\r\n");
    reply = client->Reply();
    EXPECT_TRUE(reply.starts_with("250 2.0.0 Ok")) << name << ": got " << reply;
    ++want_count;
    auto stored = sink_->stored();
    ASSERT_EQ(stored.size(), want_count) << name;
    EXPECT_EQ(WithoutReceived(stored.back().data),
              "Subject: t\r\n\r\nhello\r\n.\r\n" + kSmuggled)
        << name;
    EXPECT_EQ(stored.back().envelope.mail_from, "a@example.org") << name;
  }
}

TEST_F(SmtpSessionTest, RejectsOverlongCommandLine) {
  TestServer server(TestOptions(), Deps());
  auto client = Greet(server);
  client->Send("NOOP " + std::string(2000, 'x') + "\r\nNOOP\r\n");
  EXPECT_REPLY(*client, "500 5.5.6");
  EXPECT_REPLY(*client, "250 2.0.0");
}

TEST_F(SmtpSessionTest, RejectsNulBytesInCommands) {
  TestServer server(TestOptions(), Deps());
  auto client = Greet(server);
  client->Send(std::string("NOOP\0\r\n", 7));
  EXPECT_REPLY(*client, "500 5.5.2");
  client->Send(std::string("MAIL FROM:<a\0@example.org>\r\n", 28));
  EXPECT_REPLY(*client, "500 5.5.2");
  client->Send("NOOP\r\n");
  EXPECT_REPLY(*client, "250");
}

TEST_F(SmtpSessionTest, RefusesTransactionBeforeEhlo) {
  TestServer server(TestOptions(), Deps());
  Client client(server.port());
  EXPECT_REPLY(client, "220 ");
  client.Send(
      "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
      "DATA\r\nNOOP\r\nVRFY root\r\n");
  EXPECT_REPLY(client, "503 5.5.1");
  EXPECT_REPLY(client, "503 5.5.1");
  EXPECT_REPLY(client, "503 5.5.1");
  EXPECT_REPLY(client, "250 2.0.0");
  EXPECT_REPLY(client, "252 2.5.0");
}

TEST_F(SmtpSessionTest, RefusesDataOutOfSequence) {
  TestServer server(TestOptions(), Deps());
  auto client = Greet(server);
  client->Send(
      "DATA\r\nMAIL FROM:<a@example.org>\r\nDATA\r\n"
      "RCPT TO:<unknown@example.com>\r\nDATA\r\n"
      "RCPT TO:<b@example.com>\r\nDATA extra\r\nRSET\r\nDATA\r\n");
  EXPECT_REPLY(*client, "503 5.5.1");  // no MAIL
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "503 5.5.1");  // no RCPT
  EXPECT_REPLY(*client, "550 5.1.1");
  EXPECT_REPLY(*client, "554 5.5.1");  // every RCPT failed
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "501 5.5.4");  // garbage after DATA
  EXPECT_REPLY(*client, "250");        // RSET
  EXPECT_REPLY(*client, "503 5.5.1");  // transaction gone
}

TEST_F(SmtpSessionTest, DropsMessageWhenClientVanishesMidData) {
  TestServer server(TestOptions(), Deps());
  {
    auto client = Greet(server);
    client->Send(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
        "DATA\r\n");
    EXPECT_REPLY(*client, "250");
    EXPECT_REPLY(*client, "250");
    EXPECT_REPLY(*client, "354");
    client->Send("Subject: cut\r\n\r\npartial body\r\n");
  }
  ASSERT_TRUE(server.WaitForSessions(1));
  EXPECT_TRUE(sink_->stored().empty());
}

TEST_F(SmtpSessionTest, HangsUpWhenErrorBudgetIsSpent) {
  SmtpSessionOptions options = TestOptions();
  options.max_errors = 3;
  options.soft_error_limit = 1;
  options.error_delay = 10ms;
  TestServer server(std::move(options), Deps());
  auto client = Greet(server);
  client->Send("BOGUS\r\nBOGUS\r\nBOGUS\r\nNOOP\r\n");
  EXPECT_REPLY(*client, "500 5.5.2");
  EXPECT_REPLY(*client, "500 5.5.2");
  EXPECT_REPLY(*client, "500 5.5.2");
  EXPECT_REPLY(*client, "421 4.7.0");
  EXPECT_TRUE(client->ReadsEof());
}

TEST_F(SmtpSessionTest, LmtpRepliesOncePerRecipient) {
  TestServer server(TestOptions(SmtpMode::kLmtp), Deps());
  Client client(server.port());
  EXPECT_REPLY(client, "220 mx.test LMTP");
  client.Send("EHLO client.test\r\n");
  EXPECT_REPLY(client, "500 5.5.2");  // RFC 2033 §4.1
  client.Send("LHLO client.test\r\n");
  EXPECT_REPLY(client, "250-mx.test");
  client.Send(
      "MAIL FROM:<a@example.org>\r\nRCPT TO:<x@example.com>\r\n"
      "RCPT TO:<unknown@example.com>\r\nRCPT TO:<full@example.com>\r\n"
      "DATA\r\n");
  EXPECT_REPLY(client, "250");
  EXPECT_REPLY(client, "250");
  EXPECT_REPLY(client, "550 5.1.1");
  EXPECT_REPLY(client, "250");
  EXPECT_REPLY(client, "354");
  client.Send("Subject: l\r\n\r\nhi\r\n.\r\nNOOP\r\n");
  EXPECT_REPLY(client, "250 2.0.0 Delivered to x@example.com");
  EXPECT_REPLY(client, "552 5.2.2");
  EXPECT_REPLY(client, "250 2.0.0 Ok");  // NOOP: no third DATA reply

  auto stored = lmtp_->stored();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].envelope.rcpt_to.size(), 2u);
  EXPECT_EQ(stored[0].envelope.protocol, "LMTP");
  EXPECT_EQ(WithoutReceived(stored[0].data), "Subject: l\r\n\r\nhi\r\n");
  EXPECT_TRUE(sink_->stored().empty());

  // BDAT LAST in LMTP also answers per recipient.
  client.Send(
      "MAIL FROM:<>\r\nRCPT TO:<full@example.com>\r\n"
      "RCPT TO:<y@example.com>\r\nBDAT 3 LAST\r\nx\r\n");
  EXPECT_REPLY(client, "250");
  EXPECT_REPLY(client, "250");
  EXPECT_REPLY(client, "250");
  EXPECT_REPLY(client, "552 5.2.2");
  EXPECT_REPLY(client, "250 2.0.0 Delivered to y@example.com");
}

TEST_F(SmtpSessionTest, SubmissionRequiresAuthentication) {
  TestServer server(TestOptions(SmtpMode::kSubmission), Deps());
  std::string ehlo;
  auto client = Greet(server, &ehlo);
  EXPECT_NE(ehlo.find("AUTH PLAIN LOGIN"), std::string::npos) << ehlo;
  client->Send("MAIL FROM:<alice@example.com>\r\n");
  EXPECT_REPLY(*client, "530 5.7.0");
  // "\0alice\0wrong"
  client->Send("AUTH PLAIN AGFsaWNlAHdyb25n\r\n");
  EXPECT_REPLY(*client, "535 5.7.8");
  client->Send("AUTH PLAIN not-base64\r\n");
  EXPECT_REPLY(*client, "501 5.5.2");
  client->Send("AUTH CRAM-MD5\r\n");
  EXPECT_REPLY(*client, "504 5.5.4");
  client->Send("AUTH PLAIN\r\n");
  EXPECT_REPLY(*client, "334 ");
  client->Send("*\r\n");
  EXPECT_REPLY(*client, "501 5.7.0");
  // LOGIN: alice / secret.
  client->Send("AUTH LOGIN\r\n");
  EXPECT_REPLY(*client, "334 VXNlcm5hbWU6");
  client->Send("YWxpY2U=\r\n");
  EXPECT_REPLY(*client, "334 UGFzc3dvcmQ6");
  client->Send("c2VjcmV0\r\n");
  EXPECT_REPLY(*client, "235 2.7.0");
  client->Send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
  EXPECT_REPLY(*client, "503 5.5.1");

  client->Send(
      "MAIL FROM:<alice@example.com>\r\n"
      "RCPT TO:<bob@elsewhere.example>\r\nDATA\r\n");
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "354");
  client->Send("Subject: s\r\n\r\nx\r\n.\r\n");
  EXPECT_REPLY(*client, "250 2.0.0");
  auto stored = sink_->stored();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].envelope.authenticated, "alice@example.com");
  EXPECT_EQ(stored[0].envelope.protocol, "ESMTPA");
}

TEST_F(SmtpSessionTest, SubmissionRefusesPlaintextAuthWhenConfigured) {
  SmtpSessionOptions options = TestOptions(SmtpMode::kSubmission);
  options.plaintext_auth = PlaintextAuth::kNever;
  TestServer server(std::move(options), Deps());
  std::string ehlo;
  auto client = Greet(server, &ehlo);
  EXPECT_EQ(ehlo.find("AUTH"), std::string::npos) << ehlo;
  client->Send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
  EXPECT_REPLY(*client, "538 5.7.11");
}

TEST_F(SmtpSessionTest, HeloDisablesExtensions) {
  TestServer server(TestOptions(), Deps());
  auto client = Greet(server, nullptr, "HELO old.client\r\n");
  client->Send(
      "MAIL FROM:<a@example.org> SIZE=10\r\n"
      "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
      "DATA\r\n");
  EXPECT_REPLY(*client, "555 5.5.4");
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "250");
  EXPECT_REPLY(*client, "354");
  client->Send("x\r\n.\r\n");
  EXPECT_REPLY(*client, "250 2.0.0");
  auto stored = sink_->stored();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].envelope.protocol, "SMTP");
}

class SmtpTlsTest : public SmtpSessionTest {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("corvus-mta-tls-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    auto written = WriteSelfSignedCertificate(dir_ / "cert.pem",
                                              dir_ / "key.pem", "mx.test");
    ASSERT_TRUE(written.has_value()) << written.error().ToString();
    auto tls = TlsContext::Load(dir_ / "cert.pem", dir_ / "key.pem");
    ASSERT_TRUE(tls.has_value()) << tls.error().ToString();
    tls_ = *tls;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::shared_ptr<TlsContext> tls_;
};

TEST_F(SmtpTlsTest, StartTlsDiscardsPipelinedPlaintext) {
  TestServer server(TestOptions(), Deps(), tls_);
  std::string ehlo;
  auto client = Greet(server, &ehlo);
  EXPECT_NE(ehlo.find("STARTTLS"), std::string::npos) << ehlo;

  // The MAIL after STARTTLS arrives in the clear and must be dropped.
  client->Send("STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n");
  EXPECT_REPLY(*client, "220 2.0.0");
  ASSERT_TRUE(client->StartTls());

  // First reply over TLS answers the first command sent over TLS; and the
  // EHLO given before TLS is forgotten (RFC 3207 §4.2).
  client->Send("MAIL FROM:<a@example.org>\r\n");
  EXPECT_REPLY(*client, "503 5.5.1");
  client->Send("EHLO client.test\r\n");
  std::string reply = client->Reply();
  EXPECT_TRUE(reply.starts_with("250-mx.test")) << reply;
  EXPECT_EQ(reply.find("STARTTLS"), std::string::npos) << reply;
  client->Send("STARTTLS\r\n");
  EXPECT_REPLY(*client, "503 5.5.1");

  client->Send(
      "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
      "DATA\r\n");
  EXPECT_REPLY(*client, "250 2.1.0");
  EXPECT_REPLY(*client, "250 2.1.5");
  EXPECT_REPLY(*client, "354");
  client->Send("Subject: tls\r\n\r\nsecret\r\n.\r\n");
  EXPECT_REPLY(*client, "250 2.0.0");
  auto stored = sink_->stored();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].envelope.mail_from, "a@example.org");
  EXPECT_TRUE(stored[0].envelope.tls);
  EXPECT_EQ(stored[0].envelope.protocol, "ESMTPS");
}

TEST(MakeSmtpHandlerTest, RefusesMissingDependencies) {
  SmtpDependencies none;
  EXPECT_FALSE(MakeSmtpHandler(SmtpSessionOptions{}, none).has_value());
  SmtpDependencies no_auth{std::make_shared<FakePolicy>(),
                           std::make_shared<FakeSink>(), nullptr, nullptr};
  SmtpSessionOptions submission;
  submission.mode = SmtpMode::kSubmission;
  auto got = MakeSmtpHandler(submission, no_auth);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, ErrorCode::kConfig);
  EXPECT_TRUE(MakeSmtpHandler(SmtpSessionOptions{}, no_auth).has_value());
}

TEST(ReceivedProtocolTest, Table) {
  struct Case {
    SmtpMode mode;
    bool esmtp, tls, auth, utf8;
    std::string want;
  };
  const std::vector<Case> cases = {
      {SmtpMode::kSmtp, false, false, false, false, "SMTP"},
      {SmtpMode::kSmtp, true, false, false, false, "ESMTP"},
      {SmtpMode::kSmtp, true, true, true, false, "ESMTPSA"},
      {SmtpMode::kSubmission, true, false, true, false, "ESMTPA"},
      {SmtpMode::kSmtp, true, true, false, true, "UTF8SMTPS"},
      {SmtpMode::kLmtp, true, false, false, false, "LMTP"},
      {SmtpMode::kLmtp, true, true, false, true, "UTF8LMTPS"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ReceivedProtocol(c.mode, c.esmtp, c.tls, c.auth, c.utf8), c.want);
  }
}

TEST(NewQueueIdTest, IsUniqueAndHex) {
  std::string a = NewQueueId();
  std::string b = NewQueueId();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 18u);
  EXPECT_EQ(a.find_first_not_of("0123456789ABCDEF"), std::string::npos) << a;
}

}  // namespace
}  // namespace corvus::mta
