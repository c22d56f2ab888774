// Transcript tests: a real corvus::Server on loopback runs POP3 sessions
// over a temporary MessageStore and SqliteDirectory; a raw socket client
// sends exact bytes and reads the replies; a Python poplib script plays a
// real client against the same server.
#include "mailbox/pop3/pop3_session.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "common/testing/line_client.h"
#include "common/testing/loopback_server.h"
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/net.h"
#include "common/tls.h"
#include "directory/password.h"
#include "directory/sqlite_directory.h"
#include "store/store.h"

namespace corvus::pop3 {
namespace {

using namespace std::chrono_literals;

// The messages every test starts with, in INBOX order. The first holds
// lines that must be dot-stuffed.
const std::vector<std::string>& Messages() {
  static const std::vector<std::string> messages = {
      "From: a@example.org\r\nSubject: one\r\n\r\nHello\r\n"
      ".hidden dot line\r\n.\r\nlast\r\n",
      "Subject: two\r\n\r\nsecond body\r\nline2\r\nline3\r\n",
      "Subject: three\r\n\r\nthird\r\n",
  };
  return messages;
}

// A temporary store and directory with alice@example.com (password
// "secret", holding Messages() in INBOX and one message in Sent) and
// bob@example.com (password "hunter2", empty).
class Fixture {
 public:
  Fixture() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "pop3-session-XXXXXX")
            .string();
    EXPECT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    auto store = MessageStore::Open(StoreOptions{root_ / "store"});
    EXPECT_TRUE(store.has_value()) << store.error().ToString();
    store_ = std::move(*store);
    auto directory = SqliteDirectory::Open(root_ / "directory.db");
    EXPECT_TRUE(directory.has_value()) << directory.error().ToString();
    directory_ = std::move(*directory);
    EXPECT_TRUE(directory_->CreateDomain("example.com").has_value());
    alice_ = AddAccount("alice@example.com", "secret");
    bob_ = AddAccount("bob@example.com", "hunter2");
    for (const std::string& message : Messages()) Deliver(alice_, message);
    Deliver(alice_, "Subject: sent\r\n\r\nnot for POP3\r\n", "Sent");
  }
  ~Fixture() {
    store_.reset();
    directory_.reset();
    std::filesystem::remove_all(root_);
  }

  std::string AddAccount(const std::string& address,
                         const std::string& password) {
    Account account;
    account.address = address;
    account.password_hash = *HashPassword(password);
    auto created = directory_->CreateAccount(account);
    EXPECT_TRUE(created.has_value()) << created.error().ToString();
    return created ? created->id : "";
  }

  void Deliver(const std::string& account_id, std::string_view data,
               std::string folder = std::string(kInbox)) {
    Delivery delivery;
    delivery.data = data;
    Recipient recipient;
    recipient.account_id = account_id;
    recipient.folder = std::move(folder);
    delivery.recipients.push_back(recipient);
    auto results = store_->DeliverMessage(delivery);
    ASSERT_TRUE(results.has_value()) << results.error().ToString();
    ASSERT_EQ((*results)[0].status, DeliveryStatus::kOk);
  }

  // INBOX of `account_id` as the store has it now.
  std::vector<MessageInfo> Inbox(const std::string& account_id) {
    auto handle = store_->OpenAccount(account_id, false);
    EXPECT_TRUE(handle.has_value());
    if (!handle) return {};
    auto listed = (*handle)->ListMessages(kInbox);
    return listed ? *listed : std::vector<MessageInfo>{};
  }

  uint32_t InboxUidValidity(const std::string& account_id) {
    auto handle = store_->OpenAccount(account_id, false);
    if (!handle) return 0;
    auto folder = (*handle)->GetFolder(kInbox);
    return folder ? folder->uidvalidity : 0;
  }

  Pop3Dependencies Deps() { return {store_.get(), directory_.get(), locks_}; }

  const std::filesystem::path& root() const { return root_; }
  const std::string& alice() const { return alice_; }

 private:
  std::filesystem::path root_;
  std::unique_ptr<MessageStore> store_;
  std::unique_ptr<Directory> directory_;
  std::shared_ptr<Pop3LockRegistry> locks_ =
      std::make_shared<Pop3LockRegistry>();
  std::string alice_;
  std::string bob_;
};

// The POP3 handler for `options` and `deps`, or a test failure.
Handler Pop3Handler(Pop3Options options, Pop3Dependencies deps) {
  auto handler = MakePop3Handler(std::move(options), std::move(deps));
  EXPECT_TRUE(handler.has_value()) << handler.error().ToString();
  return handler ? *handler : Handler{};
}

// A Server on 127.0.0.1:0 running one POP3 listener, on its own thread.
class TestServer : public testing::LoopbackServer {
 public:
  TestServer(Pop3Options options, Pop3Dependencies deps,
             std::shared_ptr<TlsContext> tls = nullptr)
      : LoopbackServer("pop3", Pop3Handler(std::move(options), std::move(deps)),
                       std::move(tls)) {}
};

// A raw POP3 client: exact bytes out, lines and multi-line responses in,
// optional TLS.
class Client : public testing::LineClient {
 public:
  using LineClient::LineClient;

  // One line with its CRLF; "" on EOF or after 5 s of silence.
  std::string Line() { return ReadLine(); }

  // A whole multi-line response as sent: the status line and, if it is
  // +OK, every line up to and including ".\r\n".
  std::string Multi() {
    std::string out = Line();
    if (!out.starts_with("+OK")) return out;
    for (int i = 0; i < 100000; ++i) {
      std::string line = Line();
      if (line.empty()) return out + "(eof)";
      out += line;
      if (line == ".\r\n") return out;
    }
    return out;
  }
};

#define EXPECT_LINE(client, prefix)                                           \
  do {                                                                        \
    std::string got_line = (client).Line();                                   \
    EXPECT_TRUE(got_line.starts_with(prefix))                                 \
        << "got " << (got_line.empty() ? "(nothing)" : got_line) << ", want " \
        << (prefix);                                                          \
  } while (false)

Pop3Options TestOptions() {
  Pop3Options options;
  options.hostname = "pop.test";
  options.max_line_length = 512;
  options.auth_timeout = 10s;
  options.transaction_timeout = 10s;
  options.max_errors = 100;
  options.soft_error_limit = 100;
  options.error_delay = 0ms;
  return options;
}

// Connects and logs in with USER/PASS.
std::unique_ptr<Client> LogIn(TestServer& server,
                              std::string user = "alice@example.com",
                              std::string password = "secret") {
  auto client = std::make_unique<Client>(server.port());
  EXPECT_TRUE(client->connected());
  EXPECT_LINE(*client, "+OK pop.test");
  client->Send("USER " + user + "\r\n");
  EXPECT_LINE(*client, "+OK");
  client->Send("PASS " + password + "\r\n");
  EXPECT_LINE(*client, "+OK Logged in");
  return client;
}

TEST(Pop3SessionTest, TranscriptOfAReadingSession) {
  Fixture fixture;
  TestServer server(TestOptions(), fixture.Deps());
  auto client = LogIn(server);
  const auto& m = Messages();
  std::string uv = std::to_string(fixture.InboxUidValidity(fixture.alice()));
  std::string total = std::to_string(m[0].size() + m[1].size() + m[2].size());

  struct Step {
    std::string send;
    std::string want;
    bool multiline = false;
  };
  const std::vector<Step> steps = {
      {"STAT\r\n", "+OK 3 " + total + "\r\n"},
      {"LIST\r\n",
       "+OK 3 messages (" + total + " octets)\r\n1 " +
           std::to_string(m[0].size()) + "\r\n2 " +
           std::to_string(m[1].size()) + "\r\n3 " +
           std::to_string(m[2].size()) + "\r\n.\r\n",
       true},
      {"LIST 2\r\n", "+OK 2 " + std::to_string(m[1].size()) + "\r\n"},
      {"UIDL\r\n",
       "+OK Unique-ID listing follows\r\n1 " + uv + ".1\r\n2 " + uv +
           ".2\r\n3 " + uv + ".3\r\n.\r\n",
       true},
      {"UIDL 3\r\n", "+OK 3 " + uv + ".3\r\n"},
      {"TOP 2 1\r\n",
       "+OK Top of message follows\r\nSubject: two\r\n\r\nsecond body\r\n"
       ".\r\n",
       true},
      {"TOP 1 0\r\n",
       "+OK Top of message follows\r\nFrom: a@example.org\r\n"
       "Subject: one\r\n\r\n.\r\n",
       true},
      {"RETR 1\r\n",
       "+OK " + std::to_string(m[0].size()) +
           " octets\r\nFrom: a@example.org\r\nSubject: one\r\n"
           "\r\nHello\r\n..hidden dot line\r\n..\r\nlast\r\n"
           ".\r\n",
       true},
      {"RETR 3\r\n",
       "+OK " + std::to_string(m[2].size()) + " octets\r\n" + m[2] + ".\r\n",
       true},
      {"LIST 4\r\n", "-ERR No such message\r\n"},
      {"RETR 0\r\n", "-ERR Invalid message number\r\n"},
      {"TOP 1\r\n", "-ERR Syntax: TOP message lines\r\n"},
      {"NOOP\r\n", "+OK\r\n"},
      {"QUIT\r\n", "+OK pop.test POP3 signing off (3 messages left)\r\n"},
  };
  for (const Step& step : steps) {
    client->Send(step.send);
    std::string got = step.multiline ? client->Multi() : client->Line();
    EXPECT_EQ(got, step.want) << "after " << step.send;
  }
  EXPECT_TRUE(client->ReadsEof());
  ASSERT_TRUE(server.WaitForSessions(1));

  // RETR marks \Seen at QUIT; TOP does not.
  auto inbox = fixture.Inbox(fixture.alice());
  ASSERT_EQ(inbox.size(), 3u);
  EXPECT_EQ(inbox[0].flags, std::vector<std::string>{"\\Seen"});
  EXPECT_TRUE(inbox[1].flags.empty()) << "TOP must not mark \\Seen";
  EXPECT_EQ(inbox[2].flags, std::vector<std::string>{"\\Seen"});
}

TEST(Pop3SessionTest, CapaOffersWhatCanBeUsedNow) {
  Fixture fixture;
  TestServer server(TestOptions(), fixture.Deps());
  Client client(server.port());
  EXPECT_LINE(client, "+OK");
  client.Send("CAPA\r\n");
  std::string capa = client.Multi();
  for (const char* want :
       {"TOP\r\n", "UIDL\r\n", "RESP-CODES\r\n", "AUTH-RESP-CODE\r\n",
        "PIPELINING\r\n", "USER\r\n", "SASL PLAIN\r\n"}) {
    EXPECT_NE(capa.find(want), std::string::npos)
        << "CAPA lacks " << want << ": " << capa;
  }
  EXPECT_EQ(capa.find("STLS"), std::string::npos)
      << "STLS offered without a certificate: " << capa;
  EXPECT_TRUE(capa.ends_with("\r\n.\r\n"));
}

TEST(Pop3SessionTest, RefusesBadCredentialsWithAuthCode) {
  Fixture fixture;
  TestServer server(TestOptions(), fixture.Deps());
  Client client(server.port());
  EXPECT_LINE(client, "+OK");

  struct Step {
    std::string send;
    std::string want;
  };
  const std::vector<Step> steps = {
      {"PASS secret\r\n", "-ERR Send USER first"},
      {"USER alice@example.com\r\n", "+OK"},
      {"PASS wrong\r\n", "-ERR [AUTH] Authentication failed"},
      {"PASS secret\r\n", "-ERR Send USER first"},
      {"USER nobody@example.com\r\n", "+OK"},
      {"PASS secret\r\n", "-ERR [AUTH] Authentication failed"},
      {"USER alice@example.com\r\n", "+OK"},
      {"NOOP\r\n", "-ERR NOOP not valid in the authorization state"},
      {"PASS secret\r\n", "-ERR Send USER first"},
      {"STAT\r\n", "-ERR STAT not valid in the authorization state"},
      {"USER alice@example.com\r\n", "+OK"},
      {"PASS secret\r\n", "+OK Logged in, 3 messages"},
      {"USER alice@example.com\r\n",
       "-ERR USER not valid in the transaction state"},
      {"STLS\r\n", "-ERR STLS not valid in the transaction state"},
  };
  for (const Step& step : steps) {
    client.Send(step.send);
    std::string got = client.Line();
    EXPECT_TRUE(got.starts_with(step.want))
        << "after " << step.send << "got " << got << ", want " << step.want;
  }
}

TEST(Pop3SessionTest, AuthPlainWithInitialResponseAndContinuation) {
  Fixture fixture;
  TestServer server(TestOptions(), fixture.Deps());

  // "\0alice@example.com\0secret" and variants, base64.
  const std::string good = "AGFsaWNlQGV4YW1wbGUuY29tAHNlY3JldA==";
  struct Step {
    std::string send;
    std::string want;
  };
  const std::vector<Step> steps = {
      {"AUTH\r\n", "+OK Supported mechanisms follow"},
      {"", "PLAIN"},
      {"", "."},
      {"AUTH CRAM-MD5\r\n", "-ERR Unsupported authentication mechanism"},
      {"AUTH PLAIN !!notbase64\r\n", "-ERR Invalid base64"},
      {"AUTH PLAIN YWxpY2U=\r\n", "-ERR Malformed PLAIN"},
      {"AUTH PLAIN =\r\n", "-ERR Malformed PLAIN"},
      {"AUTH PLAIN\r\n", "+ "},
      {"*\r\n", "-ERR Authentication canceled"},
      {"AUTH PLAIN\r\n", "+ "},
      {"%%%%\r\n", "-ERR Invalid base64"},
      // authzid bob, authcid alice: no proxy authorization.
      {"AUTH PLAIN "
       "Ym9iQGV4YW1wbGUuY29tAGFsaWNlQGV4YW1wbGUuY29tAHNlY3JldA==\r\n",
       "-ERR [AUTH] Authentication failed"},
      // "\0alice@example.com\0wrong"
      {"AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHdyb25n\r\n",
       "-ERR [AUTH] Authentication failed"},
      {"AUTH PLAIN\r\n", "+ "},
      {good + "\r\n", "+OK Logged in, 3 messages"},
  };
  Client client(server.port());
  EXPECT_LINE(client, "+OK");
  for (const Step& step : steps) {
    if (!step.send.empty()) client.Send(step.send);
    std::string got = client.Line();
    EXPECT_TRUE(got.starts_with(step.want))
        << "after " << step.send << "got " << got << ", want " << step.want;
  }

  // Initial response on the AUTH line, in a second session.
  client.Send("QUIT\r\n");
  EXPECT_LINE(client, "+OK");
  ASSERT_TRUE(server.WaitForSessions(1));
  Client second(server.port());
  EXPECT_LINE(second, "+OK");
  second.Send("auth plain " + good + "\r\n");
  EXPECT_LINE(second, "+OK Logged in");
}

TEST(Pop3SessionTest, DeleThenQuitRemovesTheMessages) {
  Fixture fixture;
  TestServer server(TestOptions(), fixture.Deps());
  auto client = LogIn(server);
  client->Send("DELE 1\r\n");
  EXPECT_LINE(*client, "+OK Message 1 deleted");
  client->Send("DELE 1\r\n");
  EXPECT_LINE(*client, "-ERR Message 1 already deleted");
  client->Send("RETR 1\r\n");
  EXPECT_LINE(*client, "-ERR Message 1 already deleted");
  client->Send("DELE 3\r\n");
  EXPECT_LINE(*client, "+OK");
  client->Send("STAT\r\n");
  std::string want = "+OK 1 " + std::to_string(Messages()[1].size());
  EXPECT_LINE(*client, want);
  client->Send("LIST\r\n");
  std::string list = client->Multi();
  EXPECT_EQ(list, "+OK 1 messages (" + std::to_string(Messages()[1].size()) +
                      " octets)\r\n2 " + std::to_string(Messages()[1].size()) +
                      "\r\n.\r\n");
  client->Send("QUIT\r\n");
  EXPECT_LINE(*client, "+OK pop.test POP3 signing off (1 messages left)");
  ASSERT_TRUE(server.WaitForSessions(1));

  auto inbox = fixture.Inbox(fixture.alice());
  ASSERT_EQ(inbox.size(), 1u) << "got " << inbox.size() << " messages, want 1";
  EXPECT_EQ(inbox[0].uid, 2u);

  // The next session numbers what is left from 1 again.
  auto next = LogIn(server);
  next->Send("UIDL\r\n");
  std::string uidl = next->Multi();
  EXPECT_NE(uidl.find("\r\n1 "), std::string::npos) << uidl;
  EXPECT_NE(uidl.find(".2\r\n"), std::string::npos) << uidl;
}

TEST(Pop3SessionTest, DeleThenRsetKeepsEverything) {
  Fixture fixture;
  TestServer server(TestOptions(), fixture.Deps());
  auto client = LogIn(server);
  client->Send("DELE 1\r\nDELE 2\r\n");
  EXPECT_LINE(*client, "+OK");
  EXPECT_LINE(*client, "+OK");
  client->Send("RSET\r\n");
  EXPECT_LINE(*client, "+OK maildrop has 3 messages");
  client->Send("QUIT\r\n");
  EXPECT_LINE(*client, "+OK");
  ASSERT_TRUE(server.WaitForSessions(1));
  EXPECT_EQ(fixture.Inbox(fixture.alice()).size(), 3u);
}

TEST(Pop3SessionTest, DroppedConnectionChangesNothing) {
  Fixture fixture;
  TestServer server(TestOptions(), fixture.Deps());
  {
    auto client = LogIn(server);
    client->Send("RETR 1\r\n");
    EXPECT_TRUE(client->Multi().ends_with("\r\n.\r\n"));
    client->Send("DELE 1\r\nDELE 2\r\n");
    EXPECT_LINE(*client, "+OK");
    EXPECT_LINE(*client, "+OK");
  }  // closed without QUIT
  ASSERT_TRUE(server.WaitForSessions(1));

  auto inbox = fixture.Inbox(fixture.alice());
  ASSERT_EQ(inbox.size(), 3u) << "RFC 1939 section 6: no UPDATE without QUIT";
  EXPECT_TRUE(inbox[0].flags.empty()) << "got \\Seen without QUIT";

  // And the lock went with the session.
  auto again = LogIn(server);
  again->Send("STAT\r\n");
  EXPECT_LINE(*again, "+OK 3 ");
}

TEST(Pop3SessionTest, SecondSessionOfAnAccountIsInUse) {
  Fixture fixture;
  TestServer server(TestOptions(), fixture.Deps());
  auto first = LogIn(server);

  Client second(server.port());
  EXPECT_LINE(second, "+OK");
  second.Send("USER alice@example.com\r\nPASS secret\r\n");
  EXPECT_LINE(second, "+OK");
  EXPECT_LINE(second, "-ERR [IN-USE] ");
  // Another account is not blocked.
  auto bob = LogIn(server, "bob@example.com", "hunter2");
  bob->Send("STAT\r\n");
  EXPECT_LINE(*bob, "+OK 0 0");

  first->Send("QUIT\r\n");
  EXPECT_LINE(*first, "+OK");
  ASSERT_TRUE(server.WaitForSessions(1));
  second.Send("USER alice@example.com\r\nPASS secret\r\n");
  EXPECT_LINE(second, "+OK");
  EXPECT_LINE(second, "+OK Logged in, 3 messages");
}

TEST(Pop3SessionTest, SessionSeesTheSnapshotTakenAtLogin) {
  Fixture fixture;
  TestServer server(TestOptions(), fixture.Deps());
  auto client = LogIn(server);
  fixture.Deliver(fixture.alice(), "Subject: late\r\n\r\nlate\r\n");
  client->Send("STAT\r\nLIST 4\r\n");
  EXPECT_LINE(*client, "+OK 3 ");
  EXPECT_LINE(*client, "-ERR No such message");
  client->Send("DELE 1\r\nQUIT\r\n");
  EXPECT_LINE(*client, "+OK");
  EXPECT_LINE(*client, "+OK");
  ASSERT_TRUE(server.WaitForSessions(1));

  auto next = LogIn(server);
  next->Send("STAT\r\n");
  EXPECT_LINE(*next, "+OK 3 ");
  EXPECT_EQ(fixture.Inbox(fixture.alice()).size(), 3u)
      << "the late message must survive the first session's UPDATE";
}

TEST(Pop3SessionTest, HostileInputGetsErrorsAndNeverACrash) {
  Fixture fixture;
  TestServer server(TestOptions(), fixture.Deps());
  Client client(server.port());
  EXPECT_LINE(client, "+OK");

  struct Step {
    std::string label;
    std::string send;
    std::string want;
  };
  const std::vector<Step> steps = {
      {"overlong line", std::string(2000, 'A') + "\r\n", "-ERR Line too long"},
      {"NUL in command", std::string("US\0ER alice\r\n", 13),
       "-ERR Invalid characters"},
      {"unknown command", "XYZZ\r\n", "-ERR Unknown command"},
      {"long keyword", "HELLO\r\n", "-ERR Unknown command"},
      {"empty line", "\r\n", "-ERR Empty command"},
      {"eight-bit", "USER \xff\xfe\r\n", "-ERR Invalid characters"},
      {"AUTH garbage", "AUTH PLAIN \x01\x02\r\n", "-ERR Invalid characters"},
      {"AUTH bad base64", "AUTH PLAIN ====\r\n", "-ERR Invalid base64"},
      {"overlong SASL response", "AUTH PLAIN\r\n", "+ "},
      {"", std::string(3000, 'Q') + "\r\n", "-ERR Authentication exchange"},
      {"still alive", "CAPA\r\n", "+OK Capability list follows"},
  };
  for (const Step& step : steps) {
    client.Send(step.send);
    std::string got = client.Line();
    EXPECT_TRUE(got.starts_with(step.want))
        << step.label << ": got " << (got.empty() ? "(nothing)" : got)
        << ", want " << step.want;
  }
}

TEST(Pop3SessionTest, ErrorBudgetHangsUp) {
  Fixture fixture;
  Pop3Options options = TestOptions();
  options.max_errors = 3;
  TestServer server(options, fixture.Deps());
  Client client(server.port());
  EXPECT_LINE(client, "+OK");
  client.Send("X\r\nY\r\nZ\r\n");
  EXPECT_LINE(client, "-ERR Unknown command");
  EXPECT_LINE(client, "-ERR Unknown command");
  EXPECT_LINE(client, "-ERR Unknown command");
  EXPECT_LINE(client, "-ERR Too many errors");
  EXPECT_TRUE(client.ReadsEof());
}

TEST(Pop3SessionTest, IdleClientIsLoggedOutWithoutUpdate) {
  Fixture fixture;
  Pop3Options options = TestOptions();
  options.transaction_timeout = 1s;
  TestServer server(options, fixture.Deps());
  auto client = LogIn(server);
  client->Send("DELE 1\r\n");
  EXPECT_LINE(*client, "+OK");
  EXPECT_LINE(*client, "-ERR Autologout");
  EXPECT_TRUE(client->ReadsEof());
  ASSERT_TRUE(server.WaitForSessions(1));
  EXPECT_EQ(fixture.Inbox(fixture.alice()).size(), 3u);
}

TEST(Pop3SessionTest, ShutdownSaysSysTempAndSkipsUpdate) {
  Fixture fixture;
  TestServer server(TestOptions(), fixture.Deps());
  auto client = LogIn(server);
  client->Send("DELE 1\r\n");
  EXPECT_LINE(*client, "+OK");
  server.Stop();
  EXPECT_LINE(*client, "-ERR [SYS/TEMP] Server shutting down");
  EXPECT_TRUE(client->ReadsEof());
  ASSERT_TRUE(server.WaitForSessions(1));
  EXPECT_EQ(fixture.Inbox(fixture.alice()).size(), 3u);
}

TEST(Pop3SessionTest, PlaintextLoginRefusedWhenPolicyIsNever) {
  Fixture fixture;
  Pop3Options options = TestOptions();
  options.plaintext_auth = PlaintextAuth::kNever;
  TestServer server(options, fixture.Deps());
  Client client(server.port());
  EXPECT_LINE(client, "+OK");
  client.Send("CAPA\r\n");
  std::string capa = client.Multi();
  EXPECT_EQ(capa.find("USER"), std::string::npos) << capa;
  EXPECT_EQ(capa.find("SASL"), std::string::npos) << capa;
  client.Send("USER alice@example.com\r\n");
  EXPECT_LINE(client, "-ERR [AUTH] Plaintext authentication disallowed");
  client.Send("AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHNlY3JldA==\r\n");
  EXPECT_LINE(client, "-ERR [AUTH] Plaintext authentication disallowed");
}

// A TLS context from a fresh self-signed certificate under `dir`.
std::shared_ptr<TlsContext> MakeTls(const std::filesystem::path& dir) {
  auto cert = dir / "cert.pem";
  auto key = dir / "key.pem";
  auto written = WriteSelfSignedCertificate(cert, key, "pop.test");
  EXPECT_TRUE(written.has_value()) << written.error().ToString();
  auto tls = TlsContext::Load(cert, key);
  EXPECT_TRUE(tls.has_value()) << tls.error().ToString();
  return tls ? *tls : nullptr;
}

TEST(Pop3SessionTest, StlsUpgradesAndDiscardsPipelinedPlaintext) {
  Fixture fixture;
  Pop3Options options = TestOptions();
  options.plaintext_auth = PlaintextAuth::kNever;
  TestServer server(options, fixture.Deps(), MakeTls(fixture.root()));
  Client client(server.port());
  EXPECT_LINE(client, "+OK");
  client.Send("CAPA\r\n");
  std::string capa = client.Multi();
  EXPECT_NE(capa.find("STLS\r\n"), std::string::npos) << capa;

  // An attacker's injected command rides in the same packet as STLS; it
  // must be dropped, never run after the handshake.
  client.Send("STLS\r\nUSER alice@example.com\r\n");
  EXPECT_LINE(client, "+OK Begin TLS");
  ASSERT_TRUE(client.StartTls());
  client.Send("PASS secret\r\n");
  EXPECT_LINE(client, "-ERR Send USER first");

  client.Send("CAPA\r\n");
  capa = client.Multi();
  EXPECT_EQ(capa.find("STLS"), std::string::npos) << capa;
  EXPECT_NE(capa.find("USER\r\n"), std::string::npos) << capa;
  client.Send("STLS\r\n");
  EXPECT_LINE(client, "-ERR TLS already active");
  client.Send("USER alice@example.com\r\nPASS secret\r\nRETR 1\r\n");
  EXPECT_LINE(client, "+OK");
  EXPECT_LINE(client, "+OK Logged in");
  std::string retr = client.Multi();
  EXPECT_NE(retr.find("..hidden dot line\r\n"), std::string::npos) << retr;
}

// Runs pop3_poplib_test.py, Python's poplib against this server; the
// expected messages go to files it compares RETR output with.
TEST(Pop3SessionTest, PythonPoplibClientPasses) {
  Fixture fixture;
  TestServer server(TestOptions(), fixture.Deps(), MakeTls(fixture.root()));
  auto expected = fixture.root() / "expected";
  std::filesystem::create_directory(expected);
  for (size_t i = 0; i < Messages().size(); ++i) {
    std::ofstream out(expected / (std::to_string(i + 1) + ".eml"),
                      std::ios::binary);
    out << Messages()[i];
  }

  std::string command =
      "/usr/bin/python3 " + std::string(CORVUS_POP3_POPLIB_SCRIPT) + " " +
      std::to_string(server.port()) + " " + expected.string() + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char chunk[4096];
  for (size_t n; (n = fread(chunk, 1, sizeof(chunk), pipe)) > 0;) {
    output.append(chunk, n);
  }
  int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "poplib script failed:\n"
      << output;
}

TEST(Pop3OptionsTest, ReadsAuthAndLimitsFromConfig) {
  struct Case {
    std::string label;
    PlaintextAuth plaintext;
    int idle_timeout;
    bool ok;
    PlaintextAuth want_auth;
    int want_transaction_timeout;
  };
  const std::vector<Case> cases = {
      {"default loopback", PlaintextAuth::kLoopback, 300, true,
       PlaintextAuth::kLoopback, 600},
      {"never", PlaintextAuth::kNever, 300, true, PlaintextAuth::kNever, 600},
      {"always with a long idle timeout", PlaintextAuth::kAlways, 900, true,
       PlaintextAuth::kAlways, 900},
  };
  for (const Case& c : cases) {
    Config config;
    config.server.hostname = "pop.example";
    config.auth.plaintext = c.plaintext;
    config.limits.idle_timeout_seconds = c.idle_timeout;
    config.limits.max_line_length = 1000;
    auto got = Pop3OptionsFromConfig(config);
    ASSERT_EQ(got.has_value(), c.ok) << c.label;
    if (!c.ok) {
      EXPECT_EQ(got.error().code, ErrorCode::kConfig) << c.label;
      continue;
    }
    EXPECT_EQ(got->hostname, "pop.example") << c.label;
    EXPECT_EQ(got->plaintext_auth, c.want_auth) << c.label;
    EXPECT_EQ(got->max_line_length, 1000u) << c.label;
    EXPECT_EQ(got->auth_timeout.count(), c.idle_timeout) << c.label;
    EXPECT_EQ(got->transaction_timeout.count(), c.want_transaction_timeout)
        << c.label << ": RFC 1939 wants at least 10 minutes";
  }
}

TEST(Pop3OptionsTest, HandlerNeedsStoreAndDirectory) {
  auto got = MakePop3Handler(Pop3Options{}, Pop3Dependencies{});
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, ErrorCode::kConfig);
}

}  // namespace
}  // namespace corvus::pop3
