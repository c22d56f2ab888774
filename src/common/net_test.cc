// Tests of the server skeleton over real loopback sockets: a tiny line
// protocol (ECHO, STARTTLS, QUIT) stands in for the mail protocols.
#include "common/net.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <thread>
#include <utility>
// Asio after <utility>; see task.h.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "common/tls.h"

namespace corvus {
namespace {
namespace asio = boost::asio;
using asio::ip::tcp;

Task<void> EchoHandler(Connection& conn) {
  co_await conn.Write("HELLO\r\n");
  for (;;) {
    auto line = co_await conn.ReadLine(64);
    if (!line && line.error().code == ErrorCode::kProtocol) {
      co_await conn.Write("ERR too long\r\n");
      continue;
    }
    if (!line) {
      if (line.error().code == ErrorCode::kTemporary) {
        co_await conn.Write("BYE " + line.error().message + "\r\n");
      }
      co_return;
    }
    std::string command = *line;
    while (!command.empty() &&
           (command.back() == '\n' || command.back() == '\r')) {
      command.pop_back();
    }
    if (command == "QUIT") {
      co_await conn.Write("BYE\r\n");
      co_return;
    }
    if (command == "STARTTLS") {
      co_await conn.Write("OK\r\n");
      if (!co_await conn.StartTls()) co_return;
      continue;
    }
    co_await conn.Write("ECHO " + command + (conn.is_tls() ? " tls" : "") +
                        "\r\n");
  }
}

// Starts a Server with the echo handler on free ports and stops it at the
// end of the test.
class ServerFixture : public ::testing::Test {
 protected:
  void Start(ListenerOptions plain, bool with_tls = false) {
    ServerOptions options;
    options.threads = 2;
    options.shutdown_grace = std::chrono::seconds(2);
    if (with_tls) {
      dir_ = std::filesystem::temp_directory_path() /
             ("corvus_net_test_" + std::to_string(getpid()));
      std::filesystem::create_directories(dir_);
      ASSERT_TRUE(WriteSelfSignedCertificate(dir_ / "c.pem", dir_ / "k.pem",
                                             "localhost"));
      auto tls = TlsContext::Load(dir_ / "c.pem", dir_ / "k.pem");
      ASSERT_TRUE(tls) << tls.error().ToString();
      options.tls = *tls;
    }
    server_ = std::make_unique<Server>(options);
    plain.name = "plain";
    plain.endpoint = {"127.0.0.1", 0};
    plain.handler = EchoHandler;
    ASSERT_TRUE(server_->Listen(plain));
    if (with_tls) {
      ListenerOptions implicit = plain;
      implicit.name = "implicit";
      implicit.implicit_tls = true;
      ASSERT_TRUE(server_->Listen(implicit));
    }
    thread_ = std::thread([this] { server_->Run(); });
  }

  void TearDown() override {
    if (server_) {
      server_->Stop();
      thread_.join();
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  tcp::socket Connect(std::string_view listener = "plain") {
    tcp::socket socket(io_);
    socket.connect({asio::ip::make_address("127.0.0.1"),
                    server_->port(listener)});
    return socket;
  }

  template <typename Stream>
  static std::string ReadLine(Stream& stream, asio::streambuf& buffer) {
    boost::system::error_code ec;
    asio::read_until(stream, buffer, "\r\n", ec);
    if (ec) return "<" + ec.message() + ">";
    std::istream in(&buffer);
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }

  template <typename Stream>
  static void Send(Stream& stream, std::string_view data) {
    asio::write(stream, asio::buffer(data));
  }

  asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::filesystem::path dir_;
};

TEST_F(ServerFixture, EchoesLinesAndPreservesPipelinedOrder) {
  Start({});
  tcp::socket s = Connect();
  asio::streambuf buf;
  EXPECT_EQ(ReadLine(s, buf), "HELLO");
  Send(s, "one\r\ntwo\nthree\r\n");
  EXPECT_EQ(ReadLine(s, buf), "ECHO one");
  EXPECT_EQ(ReadLine(s, buf), "ECHO two");
  EXPECT_EQ(ReadLine(s, buf), "ECHO three");
}

TEST_F(ServerFixture, OverlongLineIsRejectedAndItsTailIsNeverACommand) {
  Start({});
  tcp::socket s = Connect();
  asio::streambuf buf;
  ReadLine(s, buf);
  // 200 bytes, then a tail that would look like a command if the
  // server resynchronised in the middle of the line.
  Send(s, std::string(200, 'x') + "QUIT\r\nnext\r\n");
  EXPECT_EQ(ReadLine(s, buf), "ERR too long");
  EXPECT_EQ(ReadLine(s, buf), "ECHO next");
}

TEST_F(ServerFixture, IdleClientIsTimedOut) {
  ListenerOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  Start(options);
  tcp::socket s = Connect();
  asio::streambuf buf;
  ReadLine(s, buf);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ReadLine(s, buf), "BYE idle timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(ServerFixture, ConnectionsOverThePerAddressLimitGetTheBusyReply) {
  ListenerOptions options;
  options.max_connections_per_ip = 1;
  options.busy_reply = "BUSY\r\n";
  Start(options);
  tcp::socket first = Connect();
  asio::streambuf buf1;
  EXPECT_EQ(ReadLine(first, buf1), "HELLO");
  tcp::socket second = Connect();
  asio::streambuf buf2;
  EXPECT_EQ(ReadLine(second, buf2), "BUSY");

  // Once the first leaves, a new connection is admitted again.
  Send(first, "QUIT\r\n");
  EXPECT_EQ(ReadLine(first, buf1), "BYE");
  first.close();
  std::string got;
  for (int attempt = 0; attempt < 50; ++attempt) {
    tcp::socket third = Connect();
    asio::streambuf buf3;
    got = ReadLine(third, buf3);
    if (got == "HELLO") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(got, "HELLO");
}

TEST_F(ServerFixture, StartTlsDiscardsPlaintextPipelinedAfterIt) {
  Start({}, /*with_tls=*/true);
  tcp::socket s = Connect();
  asio::streambuf buf;
  ReadLine(s, buf);
  Send(s, "STARTTLS\r\nINJECTED\r\n");
  EXPECT_EQ(ReadLine(s, buf), "OK");

  asio::ssl::context client(asio::ssl::context::tls_client);
  asio::ssl::stream<tcp::socket&> tls(s, client);
  tls.handshake(asio::ssl::stream_base::client);
  asio::streambuf tls_buf;
  Send(tls, "after\r\n");
  EXPECT_EQ(ReadLine(tls, tls_buf), "ECHO after tls");
}

TEST_F(ServerFixture, ImplicitTlsListenerSpeaksTlsFromTheFirstByte) {
  Start({}, /*with_tls=*/true);
  tcp::socket s = Connect("implicit");
  asio::ssl::context client(asio::ssl::context::tls_client);
  asio::ssl::stream<tcp::socket&> tls(s, client);
  tls.handshake(asio::ssl::stream_base::client);
  asio::streambuf buf;
  EXPECT_EQ(ReadLine(tls, buf), "HELLO");
  Send(tls, "hi\r\n");
  EXPECT_EQ(ReadLine(tls, buf), "ECHO hi tls");
}

TEST_F(ServerFixture, ShutdownWakesIdleSessionsAndRunReturns) {
  Start({});
  tcp::socket s = Connect();
  asio::streambuf buf;
  ReadLine(s, buf);
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_EQ(ReadLine(s, buf), "BYE server shutting down");
  thread_.join();
  server_.reset();
  // Idle sessions leave at once; the 2 s grace is for busy ones.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // New connections are refused once the listener is closed.
  tcp::socket again(io_);
  boost::system::error_code ec;
  again.connect({asio::ip::make_address("127.0.0.1"), s.remote_endpoint().port()},
                ec);
  EXPECT_TRUE(ec) << "want connection refused after shutdown";
}

TEST_F(ServerFixture, PortInUseIsAStartupError) {
  Start({});
  Server other(ServerOptions{});
  ListenerOptions clash;
  clash.name = "clash";
  clash.endpoint = {"127.0.0.1", server_->port("plain")};
  clash.handler = EchoHandler;
  auto status = other.Listen(clash);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kConfig);
}

}  // namespace
}  // namespace corvus

namespace corvus {
namespace {

// Offload() must run the work off the event loop (a blocking call there
// would stall every session on that loop) and come back to the loop.
TEST(OffloadTest, RunsWorkOnThePoolAndResumesOnTheLoop) {
  boost::asio::io_context loop;
  std::thread::id loop_thread, work_thread, after_thread;
  bool failed_inside = false;
  boost::asio::co_spawn(
      loop,
      [&]() -> Task<void> {
        loop_thread = std::this_thread::get_id();
        co_await Offload([&] { work_thread = std::this_thread::get_id(); });
        after_thread = std::this_thread::get_id();
        try {
          co_await Offload([] { throw std::runtime_error("inside"); });
        } catch (const std::runtime_error&) {
          failed_inside = true;
        }
      },
      boost::asio::detached);
  loop.run();
  EXPECT_NE(work_thread, std::thread::id());
  EXPECT_NE(work_thread, loop_thread);
  EXPECT_EQ(after_thread, loop_thread);
  EXPECT_TRUE(failed_inside) << "an exception in the work reaches the caller";
}

}  // namespace
}  // namespace corvus
