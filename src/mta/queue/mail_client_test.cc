#include "mta/queue/mail_client.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>
#include <utility>
// Asio after <utility>; see common/task.h.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "common/net.h"

namespace corvus {
namespace {

TEST(DotStuffTest, DoublesLeadingDotsAndEndsWithCrlf) {
  struct Case {
    std::string in, want;
  } cases[] = {
      {"a\r\n", "a\r\n"},
      {".\r\n", "..\r\n"},
      {"a\r\n.b\r\n..c\r\n", "a\r\n..b\r\n...c\r\n"},
      {"no newline", "no newline\r\n"},
      {"", "\r\n"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DotStuff(c.in), c.want) << "DotStuff(\"" << c.in << "\")";
  }
}

// A scripted LMTP server: rejects RCPT to "bad@...", answers 552 after
// the data for "full@...", and records what it received.
struct ScriptedLmtp {
  std::string mail_line;
  std::string data;
  bool close_after_rcpt = false;

  Task<void> Serve(Connection& conn) {
    std::vector<std::string> accepted;
    co_await conn.Write("220 test LMTP\r\n");
    for (;;) {
      auto line = co_await conn.ReadLine(1000);
      if (!line) co_return;
      std::string cmd = line->substr(0, line->size() - 2);
      if (cmd.starts_with("LHLO")) {
        co_await conn.Write("250-test\r\n250-PIPELINING\r\n250 XQUEUEID\r\n");
      } else if (cmd.starts_with("MAIL")) {
        mail_line = cmd;
        co_await conn.Write("250 2.1.0 ok\r\n");
      } else if (cmd.starts_with("RCPT")) {
        if (close_after_rcpt) co_return;
        if (cmd.find("bad@") != std::string::npos) {
          co_await conn.Write("550 5.1.1 unknown\r\n");
        } else {
          accepted.push_back(cmd);
          co_await conn.Write("250 2.1.5 ok\r\n");
        }
      } else if (cmd == "DATA") {
        co_await conn.Write("354 go\r\n");
        for (;;) {
          auto data_line = co_await conn.ReadLine(100000, false);
          if (!data_line) co_return;
          if (*data_line == ".\r\n") break;
          data += *data_line;
        }
        for (const std::string& rcpt : accepted) {
          co_await conn.Write(rcpt.find("full@") != std::string::npos
                                  ? "552 5.2.2 over quota\r\n"
                                  : "250 2.0.0 delivered\r\n");
        }
      } else if (cmd == "QUIT") {
        co_await conn.Write("221 bye\r\n");
        co_return;
      }
    }
  }
};

class MailClientTest : public ::testing::Test {
 protected:
  void Start() {
    ServerOptions options;
    options.threads = 1;
    server_ = std::make_unique<Server>(options);
    ListenerOptions listener;
    listener.name = "lmtp";
    listener.endpoint = {"127.0.0.1", 0};
    listener.handler = [this](Connection& c) { return script_.Serve(c); };
    ASSERT_TRUE(server_->Listen(listener));
    thread_ = std::thread([this] { server_->Run(); });
  }
  void TearDown() override {
    if (server_) {
      server_->Stop();
      thread_.join();
    }
  }

  std::vector<RecipientReply> Send(const std::vector<std::string>& to,
                                   const std::string& data, uint16_t port) {
    MailClientOptions options;
    options.endpoint = {"127.0.0.1", port};
    options.queue_id = "q123";
    options.timeout = std::chrono::seconds(5);
    boost::asio::io_context io;
    // `data` outlives io.run(), as SendMail requires.
    auto future = boost::asio::co_spawn(
        io, SendMail(options, "s@example.com", to, data),
        boost::asio::use_future);
    io.run();
    return future.get();
  }

  ScriptedLmtp script_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(MailClientTest, GivesOneReplyPerRecipientAndStuffsDots) {
  Start();
  auto replies = Send({"a@x.org", "bad@x.org", "full@x.org"},
                      "Subject: t\r\n\r\n.leading dot\r\n",
                      server_->port("lmtp"));
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0].code, 250) << replies[0].text;
  EXPECT_EQ(replies[1].code, 550) << replies[1].text;
  EXPECT_TRUE(replies[1].permanent());
  EXPECT_EQ(replies[2].code, 552) << replies[2].text;
  EXPECT_EQ(script_.data, "Subject: t\r\n\r\n..leading dot\r\n");
  EXPECT_EQ(script_.mail_line, "MAIL FROM:<s@example.com> XQUEUEID=q123");
}

TEST_F(MailClientTest, LostConnectionIsTemporaryForEveryone) {
  script_.close_after_rcpt = true;
  Start();
  auto replies = Send({"a@x.org", "b@x.org"}, "x\r\n", server_->port("lmtp"));
  ASSERT_EQ(replies.size(), 2u);
  for (const RecipientReply& r : replies) {
    EXPECT_EQ(r.code, 451) << r.text;
    EXPECT_FALSE(r.permanent());
  }
}

TEST_F(MailClientTest, RefusedConnectionIsTemporary) {
  // Port 1 on loopback is closed on any sane test machine.
  auto replies = Send({"a@x.org"}, "x\r\n", 1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].code, 451);
  EXPECT_NE(replies[0].text.find("cannot connect"), std::string::npos)
      << replies[0].text;
}

}  // namespace
}  // namespace corvus
