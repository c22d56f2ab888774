#include "mta/queue/mail_client.h"

#include <memory>
#include <utility>
// Asio after <utility>; see common/task.h.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace corvus {
namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr size_t kMaxReplyLine = 4096;
constexpr int kMaxReplyLines = 100;

// A parsed server reply: the code and its last line, for logs and DSNs.
struct Reply {
  int code = 0;
  std::string text;
  std::vector<std::string> lines;  // every line's text after "NNN-"
};

// A connection to one SMTP or LMTP server with a timeout on every step.
class ClientConnection
    : public std::enable_shared_from_this<ClientConnection> {
 public:
  ClientConnection(asio::any_io_executor executor,
                   std::chrono::seconds timeout)
      : socket_(executor), timer_(executor), timeout_(timeout) {}

  Task<error_code> Connect(const Endpoint& endpoint) {
    error_code ec;
    tcp::resolver resolver(socket_.get_executor());
    auto results = co_await resolver.async_resolve(
        endpoint.host, std::to_string(endpoint.port),
        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return ec;
    Arm();
    co_await asio::async_connect(
        socket_, results, asio::redirect_error(asio::use_awaitable, ec));
    timer_.cancel();
    co_return ec;
  }

  // Reads one possibly multi-line reply. Returns code 0 on failure.
  Task<Reply> ReadReply() {
    Reply reply;
    for (int i = 0; i < kMaxReplyLines; ++i) {
      error_code ec;
      Arm();
      size_t n = co_await asio::async_read_until(
          socket_, asio::dynamic_buffer(in_, kMaxReplyLine), "\n",
          asio::redirect_error(asio::use_awaitable, ec));
      timer_.cancel();
      if (ec) {
        reply.code = 0;
        reply.text = timed_out_ ? "timeout" : ec.message();
        co_return reply;
      }
      std::string line = in_.substr(0, n);
      in_.erase(0, n);
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
        line.pop_back();
      }
      if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(
                                 line[0]))) {
        reply.code = 0;
        reply.text = "malformed reply";
        co_return reply;
      }
      reply.code = std::stoi(line.substr(0, 3));
      reply.text = line;
      reply.lines.push_back(line.size() > 4 ? line.substr(4) : "");
      if (line.size() == 3 || line[3] != '-') co_return reply;
    }
    reply.code = 0;
    reply.text = "reply too long";
    co_return reply;
  }

  Task<bool> Send(const std::string& data) {
    error_code ec;
    Arm();
    co_await asio::async_write(socket_, asio::buffer(data),
                               asio::redirect_error(asio::use_awaitable, ec));
    timer_.cancel();
    co_return !ec;
  }

  void Close() {
    error_code ignored;
    socket_.close(ignored);
  }

 private:
  void Arm() {
    timer_.expires_after(timeout_);
    // The handler may run after the connection is gone; hold it weakly.
    std::weak_ptr<ClientConnection> weak = weak_from_this();
    timer_.async_wait([weak](const error_code& ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      self->timed_out_ = true;
      error_code ignored;
      self->socket_.cancel(ignored);
    });
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  std::chrono::seconds timeout_;
  bool timed_out_ = false;
  std::string in_;
};

RecipientReply Temporary(const std::string& why) {
  return {451, "451 4.4.1 " + why};
}

}  // namespace

std::string DotStuff(std::string_view data) {
  std::string out;
  out.reserve(data.size() + data.size() / 64 + 4);
  bool line_start = true;
  for (char c : data) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = (c == '\n');
  }
  if (!out.ends_with("\r\n")) out += "\r\n";
  return out;
}

Task<std::vector<RecipientReply>> SendMail(MailClientOptions options,
                                           std::string sender,
                                           std::vector<std::string> recipients,
                                           const std::string& data) {
  std::vector<RecipientReply> replies(recipients.size());
  auto fail_all = [&](const std::string& why) {
    for (RecipientReply& r : replies) {
      if (r.code == 0) r = Temporary(why);
    }
    return replies;
  };

  auto conn_ptr = std::make_shared<ClientConnection>(
      co_await asio::this_coro::executor, options.timeout);
  ClientConnection& conn = *conn_ptr;
  if (error_code ec = co_await conn.Connect(options.endpoint); ec) {
    co_return fail_all("cannot connect to " + options.endpoint.ToString() +
                       ": " + ec.message());
  }
  Reply greeting = co_await conn.ReadReply();
  if (greeting.code != 220) {
    conn.Close();
    co_return fail_all("greeting: " + greeting.text);
  }

  std::string hello = (options.lmtp ? "LHLO " : "EHLO ") + options.helo;
  co_await conn.Send(hello + "\r\n");
  Reply ehlo = co_await conn.ReadReply();
  if (ehlo.code != 250) {
    conn.Close();
    co_return fail_all("hello: " + ehlo.text);
  }
  bool queue_id_supported = false;
  for (const std::string& line : ehlo.lines) {
    if (line == "XQUEUEID") queue_id_supported = true;
  }

  // MAIL and the RCPTs, one round trip each: simple, and the LMTP hop is
  // local. TODO(corvus): pipeline MAIL/RCPT/DATA when the server offers
  // PIPELINING; each saved round trip is latency on every delivery.
  std::string mail = "MAIL FROM:<" + sender + ">";
  if (queue_id_supported && !options.queue_id.empty()) {
    mail += " XQUEUEID=" + options.queue_id;
  }
  co_await conn.Send(mail + "\r\n");
  Reply mail_reply = co_await conn.ReadReply();
  if (mail_reply.code != 250) {
    conn.Close();
    for (RecipientReply& r : replies) {
      r = {mail_reply.code == 0 ? 451 : mail_reply.code,
           mail_reply.code == 0 ? "451 4.4.2 " + mail_reply.text
                                : mail_reply.text};
    }
    co_return replies;
  }

  std::vector<size_t> accepted;
  for (size_t i = 0; i < recipients.size(); ++i) {
    co_await conn.Send("RCPT TO:<" + recipients[i] + ">\r\n");
    Reply rcpt = co_await conn.ReadReply();
    if (rcpt.code == 0) {
      conn.Close();
      co_return fail_all("lost connection after RCPT: " + rcpt.text);
    }
    if (rcpt.code >= 200 && rcpt.code < 300) {
      accepted.push_back(i);
    } else {
      replies[i] = {rcpt.code, rcpt.text};
    }
  }
  if (accepted.empty()) {
    co_await conn.Send("QUIT\r\n");
    conn.Close();
    co_return replies;
  }

  co_await conn.Send("DATA\r\n");
  Reply data_reply = co_await conn.ReadReply();
  if (data_reply.code != 354) {
    conn.Close();
    co_return fail_all("DATA refused: " + data_reply.text);
  }
  if (!co_await conn.Send(DotStuff(data) + ".\r\n")) {
    conn.Close();
    co_return fail_all("lost connection during data");
  }

  // RFC 2033 §4.2: one reply per accepted recipient, in RCPT order.
  size_t expected = options.lmtp ? accepted.size() : 1;
  for (size_t k = 0; k < expected; ++k) {
    Reply final_reply = co_await conn.ReadReply();
    if (final_reply.code == 0) {
      conn.Close();
      co_return fail_all("no reply after data: " + final_reply.text);
    }
    if (options.lmtp) {
      replies[accepted[k]] = {final_reply.code, final_reply.text};
    } else {
      for (size_t i : accepted) replies[i] = {final_reply.code,
                                              final_reply.text};
    }
  }
  co_await conn.Send("QUIT\r\n");
  co_await conn.ReadReply();
  conn.Close();
  co_return replies;
}

}  // namespace corvus
