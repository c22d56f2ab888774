// Transcript tests: a real corvus::Server on loopback runs IMAP sessions
// over a temporary MessageStore and SqliteDirectory; a raw socket client
// sends exact bytes and reads whole responses (literals included).
#include "mailbox/imap/imap_session.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "common/testing/line_client.h"
#include "common/testing/loopback_server.h"
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "common/net.h"
#include "common/tls.h"
#include "directory/password.h"
#include "directory/sqlite_directory.h"
#include "mailbox/imap/account_events.h"
#include "mailbox/imap/session.h"
#include "store/store.h"

namespace corvus::imap {
namespace {

using namespace std::chrono_literals;

// A raw IMAP client: exact bytes out, responses in (literal-aware).
class Client : public testing::LineClient {
 public:
  using LineClient::LineClient;

  // One response line, with any literals it announces and the rest of
  // the line after them; "" on EOF or after 5 s of silence.
  std::string ReadResponse(int timeout_ms = 5000) {
    std::string out;
    for (int parts = 0; parts < 1000; ++parts) {
      std::string line = ReadLine(timeout_ms);
      if (line.empty()) return out;
      out += line;
      static const std::regex kLiteral(R"(\{(\d+)\}\r\n$)");
      std::smatch match;
      if (!std::regex_search(line, match, kLiteral)) return out;
      size_t count = std::stoul(match[1]);
      std::string data = ReadBytes(count, timeout_ms);
      out += data;
      if (data.size() < count) return out;
    }
    return out;
  }

  // Every response up to and including the tagged one for `tag`.
  std::string ReadTagged(std::string_view tag) {
    std::string out;
    std::string prefix = std::string(tag) + " ";
    for (int i = 0; i < 100000; ++i) {
      std::string response = ReadResponse();
      if (response.empty()) return out + "(eof)";
      out += response;
      if (response.starts_with(prefix)) return out;
    }
    return out;
  }

  std::string Command(std::string_view tag, std::string_view text) {
    Send(std::string(tag) + " " + std::string(text) + "\r\n");
    return ReadTagged(tag);
  }

  // True if the server closes the connection within 5 s.
  bool ReadsEof() { return DiscardUntilClosed(5000); }
};

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

#define EXPECT_HAS(text, needle)                                               \
  EXPECT_TRUE(Contains((text), (needle))) << "want " << (needle) << "\ngot:\n" \
                                          << (text)
#define EXPECT_LACKS(text, needle)             \
  EXPECT_FALSE(Contains((text), (needle)))     \
      << "unwanted " << (needle) << "\ngot:\n" \
      << (text)

const std::string kSimple =
    "From: Alice <alice@example.com>\r\n"
    "To: bob@example.com\r\n"
    "Subject: hello there\r\n"
    "Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
    "\r\n"
    "Hello, world!\r\n";

const std::string kMultipart =
    "From: a@b\r\n"
    "Subject: multi\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "hi\r\n"
    "--b\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>x</p>\r\n"
    "--b--\r\n";

class ImapSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/corvus-imap-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    auto store = MessageStore::Open(StoreOptions{dir_ / "store"});
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
    auto directory = SqliteDirectory::Open(dir_ / "directory.db");
    ASSERT_TRUE(directory) << directory.error().ToString();
    directory_ = std::move(*directory);
    ASSERT_TRUE(directory_->CreateDomain("example.com"));
    alice_ = CreateAccount("alice@example.com", 0);
    small_ = CreateAccount("small@example.com", 2000);
  }

  void TearDown() override {
    StopServer();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Account CreateAccount(const std::string& address, int64_t quota) {
    Account account;
    account.address = address;
    account.password_hash = *HashPassword("secret");
    account.quota_bytes = quota;
    auto created = directory_->CreateAccount(account);
    EXPECT_TRUE(created) << created.error().ToString();
    return created ? *created : Account{};
  }

  void StartServer(ImapOptions options = {},
                   std::shared_ptr<TlsContext> tls = nullptr) {
    options.error_delay = 0ms;
    ImapDependencies deps{*store_, *directory_, events_};
    auto handler = MakeImapHandler(std::move(options), deps);
    ASSERT_TRUE(handler) << handler.error().ToString();
    server_ = std::make_unique<testing::LoopbackServer>("imap", *handler,
                                                        std::move(tls), 2);
  }

  void StopServer() { server_.reset(); }

  uint16_t port() const { return server_->port(); }

  // A connected client past the greeting, logged in as alice unless
  // `login` is false.
  std::unique_ptr<Client> Connect(
      bool login = true, const std::string& user = "alice@example.com") {
    auto client = std::make_unique<Client>(port());
    EXPECT_TRUE(client->connected());
    std::string greeting = client->ReadResponse();
    EXPECT_TRUE(greeting.starts_with("* OK [CAPABILITY IMAP4rev1")) << greeting;
    if (login) {
      std::string reply = client->Command("L", "LOGIN " + user + " secret");
      EXPECT_HAS(reply, "L OK");
    }
    return client;
  }

  // Delivers `data` to alice's INBOX as LMTP would, and notifies.
  void Deliver(const std::string& data) {
    Recipient recipient;
    recipient.account_id = alice_.id;
    Delivery delivery;
    delivery.data = data;
    delivery.recipients.push_back(recipient);
    auto result = store_->DeliverMessage(delivery);
    ASSERT_TRUE(result) << result.error().ToString();
    ASSERT_EQ((*result)[0].status, DeliveryStatus::kOk);
    events_.Notify(alice_.id);
  }

  std::string Append(Client& client, const std::string& tag,
                     const std::string& mailbox, const std::string& data) {
    client.Send(tag + " APPEND " + mailbox + " {" +
                std::to_string(data.size()) + "+}\r\n" + data + "\r\n");
    return client.ReadTagged(tag);
  }

  std::filesystem::path dir_;
  std::unique_ptr<MessageStore> store_;
  std::unique_ptr<Directory> directory_;
  AccountEvents events_;
  Account alice_;
  Account small_;
  std::unique_ptr<testing::LoopbackServer> server_;
};

TEST_F(ImapSessionTest, LoginSucceedsAndCapabilitiesGrow) {
  StartServer();
  auto client = Connect(/*login=*/false);
  std::string caps = client->Command("a", "CAPABILITY");
  EXPECT_HAS(caps, "AUTH=PLAIN");
  EXPECT_LACKS(caps, "LOGINDISABLED");
  EXPECT_HAS(caps, "a OK");

  std::string select = client->Command("b", "SELECT INBOX");
  EXPECT_HAS(select, "b BAD");

  std::string login = client->Command("c", "LOGIN alice@example.com secret");
  EXPECT_HAS(login, "c OK [CAPABILITY IMAP4rev1");
  EXPECT_HAS(login, "UIDPLUS");
  EXPECT_HAS(client->Command("d", "LOGIN alice@example.com secret"), "d BAD");
  std::string logout = client->Command("e", "LOGOUT");
  EXPECT_HAS(logout, "* BYE");
  EXPECT_HAS(logout, "e OK");
  EXPECT_TRUE(client->ReadsEof());
}

TEST_F(ImapSessionTest, LoginWithWrongPasswordFails) {
  StartServer();
  auto client = Connect(false);
  std::string reply = client->Command("a", "LOGIN alice@example.com wrong");
  EXPECT_HAS(reply, "a NO [AUTHENTICATIONFAILED]");
  reply = client->Command("b", "LOGIN nobody@example.com secret");
  EXPECT_HAS(reply, "b NO [AUTHENTICATIONFAILED]");
  EXPECT_HAS(client->Command("c", "SELECT INBOX"), "c BAD");
}

TEST_F(ImapSessionTest, PlaintextLoginRefusedWhenPolicyIsNever) {
  ImapOptions options;
  options.plaintext_auth = PlaintextAuth::kNever;
  StartServer(options);
  auto client = Connect(false);
  std::string caps = client->Command("a", "CAPABILITY");
  EXPECT_HAS(caps, "LOGINDISABLED");
  EXPECT_LACKS(caps, "AUTH=PLAIN");
  EXPECT_HAS(client->Command("b", "LOGIN alice@example.com secret"),
             "b NO [PRIVACYREQUIRED]");
  EXPECT_HAS(client->Command("c",
                             "AUTHENTICATE PLAIN "
                             "AGFsaWNlQGV4YW1wbGUuY29tAHNlY3JldA=="),
             "c NO [PRIVACYREQUIRED]");
}

TEST_F(ImapSessionTest, AuthenticatePlainWithInitialResponseAndContinuation) {
  StartServer();
  auto client = Connect(false);
  // "\0alice@example.com\0secret"
  const std::string response = "AGFsaWNlQGV4YW1wbGUuY29tAHNlY3JldA==";
  EXPECT_HAS(client->Command("a", "AUTHENTICATE PLAIN " + response), "a OK");

  auto second = Connect(false);
  second->Send("b AUTHENTICATE PLAIN\r\n");
  EXPECT_EQ(second->ReadResponse(), "+ \r\n");
  second->Send(response + "\r\n");
  EXPECT_HAS(second->ReadTagged("b"), "b OK");

  auto third = Connect(false);
  third->Send("c AUTHENTICATE PLAIN\r\n");
  EXPECT_EQ(third->ReadResponse(), "+ \r\n");
  third->Send("*\r\n");
  EXPECT_HAS(third->ReadTagged("c"), "c BAD");
}

TEST_F(ImapSessionTest, SynchronisingAndNonSynchronisingLiterals) {
  StartServer();
  auto client = Connect(false);
  client->Send("a LOGIN {17}\r\n");
  EXPECT_TRUE(client->ReadResponse().starts_with("+ "));
  client->Send("alice@example.com {6}\r\n");
  EXPECT_TRUE(client->ReadResponse().starts_with("+ "));
  client->Send("secret\r\n");
  EXPECT_HAS(client->ReadTagged("a"), "a OK");

  auto plus = Connect(false);
  plus->Send("b LOGIN {17+}\r\nalice@example.com {6+}\r\nsecret\r\n");
  std::string reply = plus->ReadTagged("b");
  EXPECT_TRUE(reply.starts_with("b OK")) << "no continuation, got " << reply;
}

TEST_F(ImapSessionTest, AppendThenFetchReturnsTheSameBytes) {
  StartServer();
  auto client = Connect();
  std::string appended = Append(*client, "a", "INBOX", kSimple);
  EXPECT_HAS(appended, "a OK [APPENDUID ");
  std::string select = client->Command("b", "SELECT INBOX");
  EXPECT_HAS(select, "* 1 EXISTS");
  EXPECT_HAS(select, "b OK [READ-WRITE]");

  std::string fetch = client->Command("c", "FETCH 1 BODY.PEEK[]");
  EXPECT_HAS(fetch, "* 1 FETCH (BODY[] {" + std::to_string(kSimple.size()) +
                        "}\r\n" + kSimple + ")\r\n");
  EXPECT_LACKS(fetch, "\\Seen");

  std::string partial = client->Command("d", "FETCH 1 BODY.PEEK[]<6.5>");
  EXPECT_HAS(partial, "BODY[]<6> {5}\r\nAlice)");
  std::string beyond = client->Command("e", "FETCH 1 BODY.PEEK[]<9999.5>");
  EXPECT_HAS(beyond, "BODY[]<9999> {0}\r\n)");

  std::string fields = client->Command(
      "f", "FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)] RFC822.SIZE UID)");
  EXPECT_HAS(fields, "Subject: hello there\r\n\r\n");
  EXPECT_HAS(fields, "RFC822.SIZE " + std::to_string(kSimple.size()));

  // A non-peek BODY[] sets \Seen and says so.
  std::string seen = client->Command("g", "FETCH 1 BODY[TEXT]");
  EXPECT_HAS(seen, "BODY[TEXT] {15}\r\nHello, world!\r\n");
  EXPECT_HAS(seen, "FLAGS (\\Seen)");
  std::string envelope = client->Command("h", "UID FETCH 1:* ENVELOPE");
  EXPECT_HAS(envelope,
             "UID 1 ENVELOPE (\"Tue, 1 Jul 2003 10:52:37 +0200\" "
             "\"hello there\"");
}

TEST_F(ImapSessionTest, MultiappendAddsAllMessagesOrNone) {
  StartServer();
  auto client = Connect();
  client->Send("a APPEND INBOX (\\Seen) {5+}\r\nfirst {6+}\r\nsecond\r\n");
  std::string reply = client->ReadTagged("a");
  EXPECT_HAS(reply, " 1:2] APPEND completed");
  client->Send(std::string("b APPEND INBOX ~{3+}\r\nx\0y\r\n", 27));
  EXPECT_HAS(client->ReadTagged("b"), "b OK [APPENDUID");
  client->Send("c APPEND Nowhere {1+}\r\nx {1+}\r\ny\r\n");
  EXPECT_HAS(client->ReadTagged("c"), "c NO [TRYCREATE]");
  std::string status = client->Command("d", "STATUS INBOX (MESSAGES UNSEEN)");
  EXPECT_HAS(status, "(MESSAGES 3 UNSEEN 2)");

  auto small = Connect(true, "small@example.com");
  const std::string half(1200, 'x');
  small->Send("e APPEND INBOX {1200+}\r\n" + half + " {1200+}\r\n" + half +
              "\r\n");
  EXPECT_HAS(small->ReadTagged("e"), "e NO [OVERQUOTA]");
  EXPECT_HAS(small->Command("f", "STATUS INBOX (MESSAGES)"), "MESSAGES 0");
}

TEST_F(ImapSessionTest, BodyStructureOfAMultipart) {
  StartServer();
  auto client = Connect();
  Append(*client, "a", "INBOX", kMultipart);
  client->Command("b", "SELECT INBOX");
  std::string reply = client->Command("c", "FETCH 1 (BODYSTRUCTURE BODY[2])");
  EXPECT_HAS(reply,
             "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL "
             "NIL \"7bit\" 2 1 NIL NIL NIL NIL)(\"text\" \"html\"");
  EXPECT_HAS(reply, "\"mixed\" (\"boundary\" \"b\")");
  EXPECT_HAS(reply, "BODY[2] {8}\r\n<p>x</p>");
  EXPECT_HAS(client->Command("d", "FETCH 1 BODY[1.BOGUS]"), "d BAD");
}

TEST_F(ImapSessionTest, BinaryFetchDecodesTransferEncodings) {
  StartServer();
  auto client = Connect();
  const std::string message =
      "Subject: bin\r\n"
      "Content-Type: application/octet-stream\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n"
      "aGVs\r\nbG8A\r\n";
  Append(*client, "a", "INBOX", message);
  client->Command("b", "SELECT INBOX");
  std::string reply =
      client->Command("c", "FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1]<1.3>)");
  EXPECT_HAS(reply, "BINARY.SIZE[1] 6");
  EXPECT_HAS(reply, "BINARY[1]<1> {3}\r\nell");
  std::string whole = client->Command("d", "FETCH 1 BINARY.PEEK[1]");
  EXPECT_HAS(whole, std::string("BINARY[1] ~{6}\r\nhello\0)", 23));
  EXPECT_HAS(client->Command("e", "FETCH 1 BINARY[1.MIME]"), "e BAD");
}

TEST_F(ImapSessionTest, StoreFlagsAndSearch) {
  StartServer();
  auto client = Connect();
  for (int i = 0; i < 3; ++i) Append(*client, "a", "INBOX", kSimple);
  Append(*client, "a", "INBOX", kMultipart);
  client->Command("b", "SELECT INBOX");

  std::string store = client->Command("c", "STORE 2:3 +FLAGS (\\Flagged)");
  EXPECT_HAS(store, "* 2 FETCH (FLAGS (\\Flagged))");
  EXPECT_HAS(store, "* 3 FETCH (FLAGS (\\Flagged))");
  EXPECT_HAS(client->Command("d", "STORE 3 -FLAGS.SILENT (\\Flagged)"), "d OK");
  client->Command("d2", "STORE 4 +FLAGS.SILENT (project-x)");
  EXPECT_HAS(client->Command("d3", "EXAMINE INBOX"),
             "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft "
             "project-x)");
  client->Command("d4", "SELECT INBOX");
  EXPECT_HAS(client->Command("d5", "SEARCH KEYWORD project-x"),
             "* SEARCH 4\r\n");

  EXPECT_HAS(client->Command("e", "SEARCH FLAGGED"), "* SEARCH 2\r\n");
  EXPECT_HAS(client->Command("f", "SEARCH UNFLAGGED"), "* SEARCH 1 3 4\r\n");
  EXPECT_HAS(client->Command("g", "UID SEARCH SUBJECT multi"),
             "* SEARCH 4\r\n");
  EXPECT_HAS(client->Command("h", "SEARCH OR FLAGGED BODY \"<p>x\""),
             "* SEARCH 2 4\r\n");
  const std::string encoded =
      "Subject: enc\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "c2VjcmV0IHdvcmQ=\r\n";  // "secret word"
  // Appending to the selected mailbox announces it before the tagged OK.
  EXPECT_HAS(Append(*client, "h2", "INBOX", encoded), "* 5 EXISTS");
  EXPECT_HAS(client->Command("h3", "SEARCH BODY \"SECRET wo\""),
             "* SEARCH 5\r\n");
  EXPECT_HAS(client->Command("h4", "SEARCH TEXT enc NOT BODY c2Vj"),
             "* SEARCH 5\r\n");
  EXPECT_HAS(client->Command("i", "SEARCH SENTON 1-Jul-2003 NOT 1"),
             "* SEARCH 2 3\r\n");
  EXPECT_HAS(client->Command("j", "SEARCH RETURN (MIN MAX COUNT) ALL"),
             "* ESEARCH (TAG \"j\") MIN 1 MAX 5 COUNT 5");
  EXPECT_HAS(client->Command("k", "SEARCH CHARSET KOI8-R ALL"),
             "k NO [BADCHARSET");
  // SEARCHRES: save, then use "$".
  client->Command("l", "SEARCH RETURN (SAVE) FLAGGED");
  EXPECT_HAS(client->Command("m", "FETCH $ UID"), "* 2 FETCH (UID 2)");
}

// SEARCH reads header fields from the store's header cache when a message
// has one (APPEND writes it) and from the blob when not (this Deliver()
// leaves it out, as a message stored before the cache existed), filling
// the cache; both must answer alike.
TEST_F(ImapSessionTest, HeaderSearchAgreesWithAndWithoutCachedHeaders) {
  StartServer();
  auto client = Connect();
  const std::string encoded =
      "From: Carol <carol@example.com>\r\n"
      "Subject: =?UTF-8?Q?caf=C3=A9_Agenda?=\r\n"
      " for Monday\r\n"
      "Date: Wed, 2 Jul 2003 09:00:00 +0000\r\n"
      "\r\n"
      "Body text mentions Subject: nothing\r\n";
  Append(*client, "a1", "INBOX", kSimple);  // 1, cached
  Deliver(kSimple);                         // 2, not cached
  Append(*client, "a2", "INBOX", encoded);  // 3, cached
  Deliver(encoded);                         // 4, not cached
  client->Command("b", "SELECT INBOX");

  struct Case {
    const char* query;
    const char* want;
  };
  const Case cases[] = {
      {"SEARCH HEADER Subject \"HELLO th\"", "* SEARCH 1 2\r\n"},
      {"SEARCH SUBJECT \"Agenda FOR mon\"", "* SEARCH 3 4\r\n"},
      {"SEARCH HEADER From carol", "* SEARCH 3 4\r\n"},
      {"SEARCH HEADER X-Missing \"\"", "* SEARCH\r\n"},
      {"SEARCH HEADER Subject nothing", "* SEARCH\r\n"},
      {"SEARCH SENTON 2-Jul-2003", "* SEARCH 3 4\r\n"},
      {"SEARCH TEXT \"Subject: nothing\"", "* SEARCH 3 4\r\n"},
      {"SEARCH NOT HEADER Subject hello", "* SEARCH 3 4\r\n"},
      {"SEARCH OR SUBJECT hello BODY mentions", "* SEARCH 1 2 3 4\r\n"},
      {"SEARCH SUBJECT hello BODY world", "* SEARCH 1 2\r\n"},
  };
  for (const Case& c : cases) {
    std::string got = client->Command("s", c.query);
    EXPECT_HAS(got, c.want) << c.query;
  }

  // The searches filled the cache of the two delivered without one.
  {
    auto account = store_->OpenAccount(alice_.id, false);
    ASSERT_TRUE(account);
    auto headers = (*account)->ListHeaders("INBOX");
    ASSERT_TRUE(headers);
    ASSERT_EQ(headers->size(), 4u);
    EXPECT_EQ((*headers)[1].header,
              kSimple.substr(0, kSimple.find("\r\n\r\n") + 4));
  }

  // A copy keeps answering from its cached header.
  EXPECT_HAS(client->Command("c", "COPY 1:4 Archive"), "c OK");
  client->Command("d", "SELECT Archive");
  EXPECT_HAS(client->Command("e", "SEARCH SUBJECT hello"), "* SEARCH 1 2\r\n");
}

// Header search skips messages whose raw header block cannot hold the
// text; a word on a folded continuation line, or one inside an encoded
// word, must still be found.
TEST_F(ImapSessionTest, HeaderSearchFindsFoldedAndEncodedWords) {
  StartServer();
  auto client = Connect();
  Append(*client, "a1", "INBOX",
         "From: dave@example.com\r\n"
         "Subject: Quarterly\r\n"
         " report-FINAL\r\n"
         "\r\n"
         "x\r\n");
  Append(*client, "a2", "INBOX",
         "From: erin@example.com\r\n"
         "Subject: =?UTF-8?B?cmVwb3J0LWZpbmFs?=\r\n"
         "\r\n"
         "x\r\n");
  client->Command("b", "SELECT INBOX");
  EXPECT_HAS(client->Command("s1", "SEARCH HEADER Subject report-final"),
             "* SEARCH 1 2\r\n");
  EXPECT_HAS(client->Command("s2", "SEARCH SUBJECT \"quarterly report\""),
             "* SEARCH 1\r\n");
  EXPECT_HAS(client->Command("s3", "SEARCH HEADER Subject nowhere"),
             "* SEARCH\r\n");
}

TEST_F(ImapSessionTest, CopyMoveAndExpungeWithUidplus) {
  StartServer();
  auto client = Connect();
  for (int i = 0; i < 3; ++i) Append(*client, "a", "INBOX", kSimple);
  EXPECT_HAS(client->Command("b", "CREATE Saved"), "b OK");
  client->Command("c", "SELECT INBOX");

  std::string copy = client->Command("d", "COPY 1:2 Saved");
  EXPECT_HAS(copy, "d OK [COPYUID ");
  EXPECT_HAS(copy, " 1:2 1:2]");
  EXPECT_HAS(client->Command("e", "COPY 1 Nowhere"), "e NO [TRYCREATE]");

  std::string move = client->Command("f", "UID MOVE 2 Saved");
  EXPECT_HAS(move, "* OK [COPYUID ");
  EXPECT_HAS(move, " 2 3]");
  EXPECT_HAS(move, "* 2 EXPUNGE");
  EXPECT_HAS(move, "f OK");

  client->Command("g", "STORE 1 +FLAGS.SILENT (\\Deleted)");
  std::string expunge = client->Command("h", "EXPUNGE");
  EXPECT_HAS(expunge, "* 1 EXPUNGE");
  std::string status = client->Command("i", "STATUS Saved (MESSAGES UIDNEXT)");
  EXPECT_HAS(status, "* STATUS \"Saved\" (MESSAGES 3 UIDNEXT 4)");
  std::string inbox = client->Command("j", "FETCH 1:* UID");
  EXPECT_HAS(inbox, "* 1 FETCH (UID 3)");
  EXPECT_LACKS(inbox, "* 2 FETCH");
}

TEST_F(ImapSessionTest, ExpungeReachesOtherSessionOnlyAtAllowedMoments) {
  StartServer();
  auto a = Connect();
  for (int i = 0; i < 3; ++i) Append(*a, "x", "INBOX", kSimple);
  a->Command("s", "SELECT INBOX");
  auto b = Connect();
  b->Command("s", "SELECT INBOX");

  a->Command("t", "STORE 2 +FLAGS.SILENT (\\Deleted)");
  EXPECT_HAS(a->Command("u", "EXPUNGE"), "* 2 EXPUNGE");

  // RFC 3501 §7.4.1: not during FETCH, STORE or SEARCH; numbers stay.
  std::string fetch = b->Command("f", "FETCH 1:3 UID");
  EXPECT_LACKS(fetch, "EXPUNGE");
  EXPECT_HAS(fetch, "* 1 FETCH (UID 1)");
  EXPECT_HAS(fetch, "* 3 FETCH (UID 3)");
  EXPECT_HAS(fetch, "f OK");
  EXPECT_LACKS(b->Command("g", "SEARCH ALL"), "EXPUNGE");
  EXPECT_LACKS(b->Command("h", "STORE 3 +FLAGS (\\Seen)"), "EXPUNGE");

  std::string noop = b->Command("n", "NOOP");
  EXPECT_HAS(noop, "* 2 EXPUNGE");
  EXPECT_HAS(b->Command("o", "FETCH 2 UID"), "* 2 FETCH (UID 3)");
  // The \Seen set by b reached a as an unsolicited FETCH.
  EXPECT_HAS(a->Command("p", "NOOP"), "FETCH (FLAGS (\\Seen))");
}

TEST_F(ImapSessionTest, OwnFlagChangesAreNotReportedAgainButOthersAre) {
  StartServer();
  auto a = Connect();
  for (int i = 0; i < 3; ++i) Append(*a, "x", "INBOX", kSimple);
  a->Command("s", "SELECT INBOX");
  auto b = Connect();
  b->Command("s", "SELECT INBOX");

  // a's own changes show once, in the command that made them.
  EXPECT_HAS(a->Command("t", "STORE 1 +FLAGS (\\Flagged)"),
             "* 1 FETCH (FLAGS (\\Flagged))");
  EXPECT_HAS(a->Command("t2", "STORE 1 +FLAGS (\\Flagged)"),
             "* 1 FETCH (FLAGS (\\Flagged))");
  EXPECT_HAS(a->Command("f", "FETCH 2 (BODY[TEXT])"), "FLAGS (\\Seen)");
  a->Command("u", "STORE 3 +FLAGS.SILENT (\\Answered)");
  std::string noop = a->Command("n", "NOOP");
  EXPECT_LACKS(noop, "FETCH");
  EXPECT_HAS(noop, "n OK");

  // b is told of each, once.
  std::string told = b->Command("n", "NOOP");
  EXPECT_HAS(told, "* 1 FETCH (FLAGS (\\Flagged))");
  EXPECT_HAS(told, "* 2 FETCH (FLAGS (\\Seen))");
  EXPECT_HAS(told, "* 3 FETCH (FLAGS (\\Answered))");
  EXPECT_LACKS(b->Command("o", "NOOP"), "FETCH");

  // A change by b on top of a's own reaches a.
  b->Command("v", "STORE 1 +FLAGS.SILENT (\\Seen)");
  EXPECT_HAS(a->Command("p", "NOOP"), "* 1 FETCH (FLAGS (\\Flagged \\Seen))");
}

TEST_F(ImapSessionTest, SequenceNumbersHoldAcrossUidGapsAndPendingExpunges) {
  StartServer();
  auto a = Connect();
  for (int i = 0; i < 6; ++i) Append(*a, "x", "INBOX", kSimple);
  EXPECT_HAS(a->Command("c", "CREATE Saved"), "c OK");
  a->Command("s", "SELECT INBOX");
  a->Command("t", "STORE 1:3 +FLAGS.SILENT (\\Seen)");
  a->Command("u", "STORE 2,4 +FLAGS.SILENT (\\Deleted)");
  a->Command("v", "EXPUNGE");

  // UIDs 1 3 5 6 are sequence numbers 1 to 4; UID 5 is the first unseen.
  auto b = Connect();
  std::string select = b->Command("s", "SELECT INBOX");
  EXPECT_HAS(select, "* 4 EXISTS");
  EXPECT_HAS(select, "[UNSEEN 3]");
  std::string fetch = b->Command("f", "FETCH 2:3 UID");
  EXPECT_HAS(fetch, "* 2 FETCH (UID 3)");
  EXPECT_HAS(fetch, "* 3 FETCH (UID 5)");
  std::string uid_fetch = b->Command("g", "UID FETCH 4:* UID");
  EXPECT_HAS(uid_fetch, "* 3 FETCH (UID 5)");
  EXPECT_HAS(uid_fetch, "* 4 FETCH (UID 6)");
  EXPECT_LACKS(uid_fetch, "* 2 FETCH");
  EXPECT_HAS(b->Command("h", "FETCH 5 UID"), "h BAD");

  // a expunges UIDs 1 and 6; b keeps their numbers until it may be told.
  a->Command("w", "UID STORE 1,6 +FLAGS.SILENT (\\Deleted)");
  a->Command("x", "EXPUNGE");
  std::string kept = b->Command("i", "FETCH 1:4 UID");
  EXPECT_LACKS(kept, "EXPUNGE");
  EXPECT_HAS(kept, "* 2 FETCH (UID 3)");
  EXPECT_HAS(kept, "* 3 FETCH (UID 5)");
  EXPECT_HAS(b->Command("j", "SEARCH ALL"), "* SEARCH 2 3\r\n");
  EXPECT_HAS(b->Command("k", "UID SEARCH ALL"), "* SEARCH 3 5\r\n");

  // Told from the highest number down, so each number is still valid.
  std::string noop = b->Command("n", "NOOP");
  EXPECT_HAS(noop, "* 4 EXPUNGE\r\n* 1 EXPUNGE\r\n");
  std::string after = b->Command("l", "FETCH 1:* UID");
  EXPECT_HAS(after, "* 1 FETCH (UID 3)");
  EXPECT_HAS(after, "* 2 FETCH (UID 5)");
  EXPECT_LACKS(after, "* 3 FETCH");

  // MOVE from the middle of the gaps: numbers shift for both sessions.
  EXPECT_HAS(b->Command("m", "UID MOVE 3 Saved"), "* 1 EXPUNGE");
  EXPECT_HAS(b->Command("o", "FETCH 1 UID"), "* 1 FETCH (UID 5)");
  EXPECT_HAS(a->Command("y", "NOOP"), "* 1 EXPUNGE");
  EXPECT_HAS(a->Command("z", "FETCH 1:* UID"), "* 1 FETCH (UID 5)");
}

TEST_F(ImapSessionTest, IdleIsWokenByNotifyWithinASecond) {
  StartServer();
  auto client = Connect();
  client->Command("s", "SELECT INBOX");
  client->Send("i IDLE\r\n");
  EXPECT_EQ(client->ReadResponse(), "+ idling\r\n");

  auto start = std::chrono::steady_clock::now();
  Deliver(kSimple);
  std::string exists = client->ReadResponse(/*timeout_ms=*/3000);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(exists, "* 1 EXISTS\r\n");
  EXPECT_LT(elapsed, 1s);
  EXPECT_EQ(client->ReadResponse(), "* 1 RECENT\r\n");

  // A flag change by another session arrives too.
  auto other = Connect();
  other->Command("s", "SELECT INBOX");
  other->Command("t", "STORE 1 +FLAGS (\\Answered)");
  EXPECT_HAS(client->ReadResponse(3000), "* 1 FETCH (FLAGS (\\Answered))");

  // So does an expunge: IDLE is a moment where EXPUNGE is allowed.
  other->Command("u", "STORE 1 +FLAGS.SILENT (\\Deleted)");
  other->Command("v", "EXPUNGE");
  std::string expunge;
  for (int i = 0; i < 5 && !Contains(expunge, "EXPUNGE"); ++i) {
    expunge += client->ReadResponse(3000);
  }
  EXPECT_HAS(expunge, "* 1 EXPUNGE");

  client->Send("DONE\r\n");
  EXPECT_HAS(client->ReadTagged("i"), "i OK");
  EXPECT_HAS(client->Command("n", "NOOP"), "n OK");
}

TEST_F(ImapSessionTest, CondstoreAndQresyncBasics) {
  StartServer();
  auto client = Connect();
  for (int i = 0; i < 3; ++i) Append(*client, "a", "INBOX", kSimple);
  std::string select = client->Command("b", "SELECT INBOX (CONDSTORE)");
  std::smatch match;
  ASSERT_TRUE(
      std::regex_search(select, match, std::regex(R"(HIGHESTMODSEQ (\d+)\])")))
      << select;
  uint64_t modseq = std::stoull(match[1]);
  ASSERT_TRUE(
      std::regex_search(select, match, std::regex(R"(UIDVALIDITY (\d+)\])")));
  std::string uidvalidity = match[1];

  std::string store =
      client->Command("c", "STORE 1 (UNCHANGEDSINCE " + std::to_string(modseq) +
                               ") +FLAGS (\\Seen)");
  EXPECT_HAS(store, "MODSEQ (");
  std::string stale =
      client->Command("d", "STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Flagged)");
  EXPECT_HAS(stale, "d OK [MODIFIED 1]");
  std::string changed = client->Command(
      "e", "FETCH 1:* (FLAGS) (CHANGEDSINCE " + std::to_string(modseq) + ")");
  EXPECT_HAS(changed, "* 1 FETCH (FLAGS (\\Seen) MODSEQ (");
  EXPECT_LACKS(changed, "* 2 FETCH");

  client->Command("f", "STORE 2 +FLAGS.SILENT (\\Deleted)");
  client->Command("g", "EXPUNGE");
  client->Command("h", "UNSELECT");

  EXPECT_HAS(client->Command("i", "ENABLE QRESYNC"), "* ENABLED QRESYNC");
  std::string resync =
      client->Command("j", "SELECT INBOX (QRESYNC (" + uidvalidity + " " +
                               std::to_string(modseq) + " 1:3))");
  EXPECT_HAS(resync, "* VANISHED (EARLIER) 2");
  EXPECT_HAS(resync, "* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (");
  EXPECT_HAS(resync, "j OK");

  client->Command("k", "STORE 2 +FLAGS.SILENT (\\Deleted)");
  std::string vanished = client->Command("l", "EXPUNGE");
  EXPECT_HAS(vanished, "* VANISHED 3");
  EXPECT_LACKS(vanished, "EXPUNGE\r\n");
  std::string earlier =
      client->Command("m", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE " +
                               std::to_string(modseq) + " VANISHED)");
  EXPECT_HAS(earlier, "* VANISHED (EARLIER) 2:3");
  EXPECT_HAS(earlier, "m OK");
  EXPECT_HAS(client->Command("n", "FETCH 1 (FLAGS) (VANISHED)"), "n BAD");
  EXPECT_HAS(client->Command("o", "UID SEARCH RETURN (ALL COUNT) 1:*"),
             "* ESEARCH (TAG \"o\") UID COUNT 1 ALL 1");
}

TEST_F(ImapSessionTest, QuotaRefusesAppendAndCopy) {
  StartServer();
  auto client = Connect(true, "small@example.com");
  std::string root = client->Command("a", "GETQUOTAROOT INBOX");
  EXPECT_HAS(root, "* QUOTAROOT \"INBOX\" \"\"");
  EXPECT_HAS(root, "* QUOTA \"\" (STORAGE 0 1)");

  const std::string big(1500, 'x');
  const std::string message = "Subject: big\r\n\r\n" + big + "\r\n";
  EXPECT_HAS(Append(*client, "b", "INBOX", message), "b OK");
  EXPECT_HAS(Append(*client, "c", "INBOX", message), "c NO [OVERQUOTA]");
  client->Command("d", "SELECT INBOX");
  EXPECT_HAS(client->Command("e", "COPY 1 Trash"), "e NO [OVERQUOTA]");
  EXPECT_HAS(client->Command("f", "STATUS INBOX (MESSAGES)"), "MESSAGES 1");
}

TEST_F(ImapSessionTest, MailboxesListRenameAndUtf7) {
  StartServer();
  auto client = Connect();
  EXPECT_HAS(client->Command("a", "CREATE Entw&APw-rfe/Alt"), "a OK");
  std::string list = client->Command("b", "LIST \"\" *");
  EXPECT_HAS(list, "* LIST (\\HasNoChildren) \"/\" \"INBOX\"");
  EXPECT_HAS(list, "* LIST (\\HasChildren) \"/\" \"Entw&APw-rfe\"");
  EXPECT_HAS(list, "\"Entw&APw-rfe/Alt\"");
  EXPECT_HAS(list, "\\Sent");
  EXPECT_HAS(client->Command("c", "LIST \"\" %/%"), "Entw&APw-rfe/Alt");
  EXPECT_LACKS(client->Command("d", "LIST \"\" %"), "Entw&APw-rfe/Alt");
  EXPECT_HAS(client->Command("e", "CREATE &AGE-"), "e NO [CANNOT]");
  EXPECT_HAS(client->Command("f", "RENAME Entw&APw-rfe Old"), "f OK");
  EXPECT_HAS(client->Command("g", "LIST \"\" Old*"), "\"Old/Alt\"");
  EXPECT_HAS(client->Command("h", "DELETE INBOX"), "h NO");
  EXPECT_HAS(client->Command("i", "SELECT Nowhere"), "i NO [NONEXISTENT]");
  EXPECT_HAS(client->Command("j", "ENABLE UTF8=ACCEPT"), "ENABLED UTF8=ACCEPT");
  EXPECT_HAS(client->Command("k", "LIST \"\" Old/*"), "\"Old/Alt\"");
  EXPECT_HAS(client->Command("l", "CREATE \"Entwürfe\""), "l OK");
  EXPECT_HAS(client->Command("m", "LIST \"\" Entw*"), "\"Entwürfe\"");
  EXPECT_HAS(client->Command("n", "NAMESPACE"), "* NAMESPACE ((\"\" \"/\"))");
  client->Command("n2", "SELECT Old/Alt");
  EXPECT_HAS(client->Command("n3", "DELETE Old/Alt"), "n3 OK");
  EXPECT_HAS(client->Command("n4", "FETCH 1 UID"), "n4 BAD");
  EXPECT_HAS(client->Command("n5", "NOOP"), "n5 OK");
  EXPECT_HAS(client->Command("o", "UNSUBSCRIBE Trash"), "o OK");
  std::string subscribed = client->Command("p", "LSUB \"\" *");
  EXPECT_HAS(subscribed, "* LSUB () \"/\" \"INBOX\"");
  EXPECT_LACKS(subscribed, "Trash");
  std::string extended = client->Command(
      "q",
      "LIST (SPECIAL-USE) \"\" (* INBOX) RETURN (SUBSCRIBED STATUS "
      "(MESSAGES UIDNEXT))");
  EXPECT_HAS(extended,
             "\\Trash) \"/\" \"Trash\"\r\n* STATUS \"Trash\" "
             "(MESSAGES 0 UIDNEXT 1)");
  EXPECT_HAS(extended, "\\Sent \\Subscribed) \"/\" \"Sent\"");
  EXPECT_LACKS(extended, "\"Old\"");
  EXPECT_HAS(client->Command("r", "LIST (BOGUS) \"\" *"), "r BAD");
}

TEST_F(ImapSessionTest, HostileInputGetsErrorsNotCrashes) {
  ImapOptions options;
  options.max_line_length = 1024;
  options.max_literal_size = 10000;
  StartServer(options);
  auto client = Connect();

  client->Send("a " + std::string(5000, 'x') + "\r\n");
  EXPECT_HAS(client->ReadResponse(), "* BAD Line too long");
  EXPECT_HAS(client->Command("b", "NOOP"), "b OK");

  client->Send("c APPEND INBOX {999999}\r\n");
  EXPECT_HAS(client->ReadResponse(), "c NO [TOOBIG]");
  client->Send("d LOGIN {999999}\r\n");
  EXPECT_HAS(client->ReadResponse(), "d NO [TOOBIG]");
  EXPECT_HAS(client->Command("e", "NOOP"), "e OK");

  client->Command("f", "SELECT INBOX");
  EXPECT_HAS(client->Command("g", "SEARCH " + std::string(200, '(') + "ALL" +
                                      std::string(200, ')')),
             "g BAD");
  EXPECT_HAS(client->Command("h", "CREATE &Jjo"), "h NO");
  EXPECT_HAS(client->Command("i", "FROBNICATE"), "i BAD Unknown command");
  client->Send(std::string("j NO\0OP\r\n", 9));
  EXPECT_HAS(client->ReadTagged("j"), "j BAD");
  EXPECT_HAS(client->Command("k", "FETCH 99 UID"), "k BAD");
  EXPECT_HAS(client->Command("l", "NOOP"), "l OK");

  // A non-synchronising literal beyond the limit cannot be refused in
  // step: BYE and hang up.
  client->Send("m APPEND INBOX {999999+}\r\n");
  EXPECT_HAS(client->ReadResponse(), "* BYE [TOOBIG]");
  EXPECT_TRUE(client->ReadsEof());
}

TEST_F(ImapSessionTest, ManySmallLiteralsCannotAddUpToABigCommand) {
  StartServer();
  auto client = Connect();
  std::string command = "a ID (";
  const std::string chunk(1000, 'x');
  for (int i = 0; i < 200; ++i) {
    command += "{1000+}\r\n" + chunk + " ";
  }
  client->Send(command);
  EXPECT_HAS(client->ReadResponse(), "* BYE [TOOBIG]");
  EXPECT_TRUE(client->ReadsEof());
}

TEST_F(ImapSessionTest, UidExpungeAndCloseExpungeOnlyWhatTheyShould) {
  StartServer();
  auto client = Connect();
  for (int i = 0; i < 4; ++i) Append(*client, "a", "INBOX", kSimple);
  client->Command("b", "SELECT INBOX");
  client->Command("c", "STORE 1:3 +FLAGS.SILENT (\\Deleted)");
  std::string uid_expunge = client->Command("d", "UID EXPUNGE 2");
  EXPECT_HAS(uid_expunge, "* 2 EXPUNGE");
  EXPECT_LACKS(uid_expunge, "* 1 EXPUNGE");
  EXPECT_HAS(client->Command("e", "UID EXPUNGE"), "e BAD");

  // CLOSE expunges the rest without telling (RFC 3501 §6.4.2).
  std::string close = client->Command("f", "CLOSE");
  EXPECT_LACKS(close, "EXPUNGE");
  EXPECT_HAS(close, "f OK");
  EXPECT_HAS(client->Command("g", "STATUS INBOX (MESSAGES)"), "MESSAGES 1");
  EXPECT_HAS(client->Command("h", "FETCH 1 UID"), "h BAD");

  // EXAMINE is read-only: no \Seen from BODY[], no STORE, no EXPUNGE.
  client->Command("i", "EXAMINE INBOX");
  EXPECT_LACKS(client->Command("j", "FETCH 1 BODY[]"), "\\Seen");
  EXPECT_HAS(client->Command("k", "STORE 1 +FLAGS (\\Seen)"), "k NO");
  EXPECT_HAS(client->Command("l", "EXPUNGE"), "l NO");
}

TEST_F(ImapSessionTest, PipelinedCommandsAnswerInOrder) {
  StartServer();
  auto client = Connect();
  client->Send(
      "a SELECT INBOX\r\nb APPEND INBOX {3+}\r\nxyz\r\nc FETCH 1 "
      "RFC822.SIZE\r\nd LOGOUT\r\n");
  std::string all = client->ReadTagged("d");
  size_t a = all.find("a OK"), b = all.find("b OK"), c = all.find("c OK"),
         d = all.find("d OK");
  ASSERT_NE(d, std::string::npos) << all;
  EXPECT_TRUE(a < b && b < c && c < d) << all;
  EXPECT_HAS(all, "* 1 FETCH (RFC822.SIZE 3)");
  EXPECT_TRUE(client->ReadsEof());
}

TEST_F(ImapSessionTest, IdleClientIsLoggedOutBeforeLogin) {
  ImapOptions options;
  options.login_timeout = 1s;
  StartServer(options);
  auto client = Connect(false);
  auto start = std::chrono::steady_clock::now();
  EXPECT_HAS(client->ReadResponse(), "* BYE Autologout");
  EXPECT_TRUE(client->ReadsEof());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);

  // Logged-in sessions get the long timer.
  auto logged_in = Connect();
  std::this_thread::sleep_for(1500ms);
  EXPECT_HAS(logged_in->Command("a", "NOOP"), "a OK");
}

TEST_F(ImapSessionTest, ErrorBudgetEndsTheSession) {
  ImapOptions options;
  options.max_errors = 5;
  StartServer(options);
  auto client = Connect(false);
  std::string all;
  for (int i = 0; i < 5; ++i) all += client->Command("t", "BOGUS");
  all += client->ReadResponse();
  EXPECT_HAS(all, "* BYE Too many errors");
  EXPECT_TRUE(client->ReadsEof());
}

TEST_F(ImapSessionTest, SessionsPerAccountAreBounded) {
  StartServer();
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 20; ++i) clients.push_back(Connect());
  auto extra = Connect(false);
  EXPECT_HAS(extra->Command("a", "LOGIN alice@example.com secret"),
             "a NO [LIMIT]");
  clients.back()->Command("z", "LOGOUT");
  clients.pop_back();
  // The session ends asynchronously after LOGOUT; retry briefly.
  std::string reply;
  for (int i = 0; i < 50; ++i) {
    reply = extra->Command("b", "LOGIN alice@example.com secret");
    if (Contains(reply, "b OK")) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_HAS(reply, "b OK");
}

TEST_F(ImapSessionTest, StartTlsDiscardsPipelinedPlaintextThenAllowsLogin) {
  ASSERT_TRUE(WriteSelfSignedCertificate(dir_ / "cert.pem", dir_ / "key.pem",
                                         "imap.test"));
  auto tls = TlsContext::Load(dir_ / "cert.pem", dir_ / "key.pem");
  ASSERT_TRUE(tls) << tls.error().ToString();
  ImapOptions options;
  options.plaintext_auth = PlaintextAuth::kNever;
  StartServer(options, *tls);
  auto client = Connect(false);
  std::string caps = client->Command("a", "CAPABILITY");
  EXPECT_HAS(caps, "STARTTLS");
  EXPECT_HAS(caps, "LOGINDISABLED");

  // The LOGIN pipelined after STARTTLS came in the clear: dropped.
  client->Send("b STARTTLS\r\nc LOGIN alice@example.com secret\r\n");
  EXPECT_EQ(client->ReadResponse(), "b OK Begin TLS negotiation now\r\n");
  ASSERT_TRUE(client->StartTls());
  caps = client->Command("d", "CAPABILITY");
  EXPECT_LACKS(caps, "c OK");
  EXPECT_LACKS(caps, "STARTTLS");
  EXPECT_HAS(caps, "AUTH=PLAIN");
  EXPECT_HAS(client->Command("e", "STARTTLS"), "e BAD");
  EXPECT_HAS(client->Command("f", "LOGIN alice@example.com secret"), "f OK");
  EXPECT_HAS(client->Command("g", "SELECT INBOX"), "g OK");

  // IDLE over TLS: the watcher writes while the DONE read is pending.
  client->Send("h IDLE\r\n");
  EXPECT_EQ(client->ReadResponse(), "+ idling\r\n");
  Deliver(kSimple);
  EXPECT_EQ(client->ReadResponse(3000), "* 1 EXISTS\r\n");
  client->Send("DONE\r\n");
  EXPECT_HAS(client->ReadTagged("h"), "h OK");
  EXPECT_HAS(client->Command("i", "FETCH 1 BODY.PEEK[]"), kSimple);
}

TEST_F(ImapSessionTest, ClientVanishingDuringIdleEndsTheSessionCleanly) {
  StartServer();
  {
    auto client = Connect();
    client->Command("s", "SELECT INBOX");
    client->Send("i IDLE\r\n");
    EXPECT_EQ(client->ReadResponse(), "+ idling\r\n");
    EXPECT_EQ(events_.SessionCount(alice_.id), 1u);
  }
  Deliver(kSimple);
  bool gone = false;
  for (int i = 0; i < 250 && !gone; ++i) {
    gone = events_.SessionCount(alice_.id) == 0;
    if (!gone) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(gone) << "the session's subscription outlived its connection";
}

TEST(ImapCommandTableTest, NamesAreUniqueUpperCaseAndHandled) {
  std::set<std::string_view> seen;
  for (const ImapSession::CommandSpec& spec : ImapCommandTable()) {
    EXPECT_TRUE(seen.insert(spec.name).second) << "duplicate " << spec.name;
    EXPECT_NE(spec.handler, nullptr) << spec.name;
    EXPECT_NE(spec.flags & ImapSession::kAnyState, 0u) << spec.name;
    for (char c : spec.name) {
      EXPECT_FALSE(c >= 'a' && c <= 'z') << spec.name;
    }
  }
  // RFC 3501 §7.4.1: these three must never be followed by EXPUNGE.
  for (const ImapSession::CommandSpec& spec : ImapCommandTable()) {
    if (spec.name == "FETCH" || spec.name == "STORE" || spec.name == "SEARCH") {
      EXPECT_EQ(spec.flags & ImapSession::kExpungeOk, 0u) << spec.name;
    }
  }
}

TEST(ImapOptionsTest, FromConfigMapsPlaintextPolicyAndLimits) {
  struct Case {
    PlaintextAuth plaintext;
    bool ok;
    PlaintextAuth want;
  };
  const std::vector<Case> cases = {
      {PlaintextAuth::kNever, true, PlaintextAuth::kNever},
      {PlaintextAuth::kLoopback, true, PlaintextAuth::kLoopback},
      {PlaintextAuth::kAlways, true, PlaintextAuth::kAlways},
  };
  for (const Case& c : cases) {
    Config config;
    config.server.hostname = "imap.example.com";
    config.limits.max_line_length = 4096;
    config.smtp.max_message_size = 1234567;
    config.auth.plaintext = c.plaintext;
    auto got = ImapOptionsFromConfig(config);
    ASSERT_EQ(got.has_value(), c.ok);
    if (!c.ok) {
      EXPECT_EQ(got.error().code, ErrorCode::kConfig);
      continue;
    }
    EXPECT_EQ(got->plaintext_auth, c.want);
    EXPECT_EQ(got->hostname, "imap.example.com");
    EXPECT_EQ(got->max_line_length, 4096u);
    EXPECT_EQ(got->max_literal_size, 1234567u);
  }
}

// Runs `command` through the shell; returns its exit status and output.
std::pair<int, std::string> RunShell(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  char chunk[4096];
  size_t n = 0;
  while ((n = fread(chunk, 1, sizeof chunk, pipe)) > 0) output.append(chunk, n);
  return {pclose(pipe), output};
}

// curl's IMAP client fetches a message by UID.
TEST_F(ImapSessionTest, CurlFetchesAMessage) {
  if (RunShell("command -v curl").first != 0) GTEST_SKIP() << "no curl";
  StartServer();
  auto client = Connect();
  Append(*client, "a", "INBOX", kSimple);
  auto [status, output] = RunShell(
      "timeout 30 curl -s --url 'imap://127.0.0.1:" + std::to_string(port()) +
      "/INBOX;UID=1' --user 'alice@example.com:secret'");
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, kSimple);
}

// mbsync (isync) mirrors the account into a Maildir and back.
TEST_F(ImapSessionTest, MbsyncMirrorsTheMailbox) {
  if (RunShell("command -v mbsync").first != 0) GTEST_SKIP() << "no mbsync";
  StartServer();
  auto client = Connect();
  Append(*client, "a", "INBOX", kSimple);
  Append(*client, "b", "Sent", kMultipart);

  std::filesystem::path maildir = dir_ / "maildir";
  std::filesystem::create_directories(maildir);
  std::filesystem::path config = dir_ / "mbsyncrc";
  {
    FILE* f = fopen(config.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::string text = "IMAPAccount corvus\nHost 127.0.0.1\nPort " +
                       std::to_string(port()) +
                       "\nUser alice@example.com\nPass secret\nSSLType None\n"
                       "AuthMechs LOGIN\n\n"
                       "IMAPStore remote\nAccount corvus\n\n"
                       "MaildirStore local\nPath " +
                       maildir.string() + "/\nInbox " + maildir.string() +
                       "/INBOX\nSubFolders Verbatim\n\n"
                       "Channel sync\nFar :remote:\nNear :local:\nPatterns *\n"
                       "Create Both\nSyncState *\n";
    fwrite(text.data(), 1, text.size(), f);
    fclose(f);
  }
  auto [status, output] =
      RunShell("timeout 60 mbsync -c " + config.string() + " -a");
  ASSERT_EQ(status, 0) << output;

  auto count_files = [](const std::filesystem::path& folder) {
    size_t n = 0;
    for (const char* sub : {"cur", "new"}) {
      std::error_code ec;
      for (const auto& entry :
           std::filesystem::directory_iterator(folder / sub, ec)) {
        (void)entry;
        ++n;
      }
    }
    return n;
  };
  EXPECT_EQ(count_files(maildir / "INBOX"), 1u) << output;
  EXPECT_EQ(count_files(maildir / "Sent"), 1u) << output;

  // A message added locally goes up on the next run.
  std::filesystem::path local = maildir / "INBOX" / "new" / "1.local:2,";
  {
    FILE* f = fopen(local.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::string text = "Subject: from maildir\n\nup we go\n";
    fwrite(text.data(), 1, text.size(), f);
    fclose(f);
  }
  std::tie(status, output) =
      RunShell("timeout 60 mbsync -c " + config.string() + " -a");
  ASSERT_EQ(status, 0) << output;
  EXPECT_HAS(client->Command("c", "STATUS INBOX (MESSAGES)"), "MESSAGES 2");
}

// Python's imaplib, a client people really use, against the server.
TEST_F(ImapSessionTest, PythonImaplibSessionWorks) {
  if (std::system("python3 -c 'import imaplib' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 with imaplib not available";
  }
  StartServer();
  std::filesystem::path script =
      std::filesystem::path(CORVUS_IMAP_CLIENT_CHECK);
  std::string command = "timeout 60 python3 " + script.string() + " " +
                        std::to_string(port()) + " alice@example.com secret";
  int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << "got exit status " << status << " from " << command;
}

}  // namespace
}  // namespace corvus::imap
