#include "common/net.h"

#include <atomic>
#include <exception>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <openssl/crypto.h>
// Asio after <utility>; see task.h.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/tls.h"

namespace corvus {
namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr size_t kReadChunk = 16 * 1024;
std::atomic<uint64_t> g_next_connection_id{1};

auto Redirect(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

// Counts connections per listener and per client address.
class ConnectionLimiter {
 public:
  ConnectionLimiter(int max_total, int max_per_address)
      : max_total_(max_total), max_per_address_(max_per_address) {}

  // Returns false if admitting one more from `address` breaks a limit.
  bool TryAdmit(const std::string& address) {
    std::lock_guard lock(mu_);
    if (total_ >= max_total_) return false;
    int& count = per_address_[address];
    if (count >= max_per_address_) return false;
    ++count;
    ++total_;
    return true;
  }

  void Release(const std::string& address) {
    std::lock_guard lock(mu_);
    --total_;
    if (--per_address_[address] <= 0) per_address_.erase(address);
  }

 private:
  std::mutex mu_;
  int max_total_;
  int max_per_address_;
  int total_ = 0;  // guarded by mu_
  std::map<std::string, int> per_address_;  // guarded by mu_
};

// OpenSSL sets itself up on first use, and the thread that happens to do
// so keeps error state that is freed at exit only if it is the main
// thread. Blocking-pool threads hash and encrypt, so set it up here, on
// the main thread, before any of them runs.
[[maybe_unused]] const bool kOpenSslInitialised =
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr) == 1;

// Offload() calls between their start and their return to the caller's
// loop. A loop must not be stopped and destroyed while one of them still
// holds it as its way home.
std::atomic<int>& OffloadsInFlight() {
  static std::atomic<int> count{0};
  return count;
}

}  // namespace

Task<Status> Connection::Write(std::string data) {
  Queue(data);
  co_return co_await Flush();
}

// A TCP connection that can be upgraded to TLS in place.
class TcpConnection final : public Connection,
                            public std::enable_shared_from_this<TcpConnection> {
 public:
  TcpConnection(tcp::socket socket, asio::ssl::context* tls,
                const std::string& listener, const Logger& server_log,
                const std::atomic<bool>* stopping)
      : tls_context_(tls),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        stopping_(stopping),
        started_(std::chrono::steady_clock::now()) {
    id_ = g_next_connection_id++;
    listener_ = listener;
    error_code ec;
    tcp::endpoint peer = socket_.remote_endpoint(ec);
    if (!ec) {
      asio::ip::address address = peer.address();
      if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        address = asio::ip::make_address_v4(asio::ip::v4_mapped,
                                            address.to_v6());
      }
      peer_address_ = address.to_string();
      peer_port_ = peer.port();
      peer_is_loopback_ = address.is_loopback();
    }
    // Output is already gathered into whole replies by Queue()/Flush().
    // Nagle's algorithm would hold back the short last segment of a reply
    // (an IMAP tagged OK after a long FETCH) until the peer acknowledges
    // the rest, which a delayed ACK puts off by up to 40 ms.
    socket_.set_option(tcp::no_delay(true), ec);
    log_ = server_log.With("listener", listener)
               .With("conn", std::to_string(id_))
               .With("peer", FormatPeer("", peer_address_));
  }

  bool is_tls() const override { return tls_ != nullptr; }
  bool tls_available() const override { return tls_context_ != nullptr; }
  bool stopping() const override { return stopping_->load(); }

  void SetTimeout(std::chrono::seconds timeout) override { timeout_ = timeout; }

  bool HasBufferedInput() const override { return in_pos_ < in_.size(); }

  Task<Result<std::string>> ReadLine(size_t max_length,
                                     bool interruptible) override {
    size_t scanned = 0;
    bool too_long = false;
    for (;;) {
      size_t lf = in_.find('\n', in_pos_ + scanned);
      if (lf != std::string::npos) {
        size_t length = lf + 1 - in_pos_;
        if (too_long || length > max_length) {
          Consume(length);
          co_return Fail(ErrorCode::kProtocol, "line too long");
        }
        std::string line = in_.substr(in_pos_, length);
        Consume(length);
        co_return line;
      }
      // No LF yet. Past the limit, drop what we hold but keep reading to
      // the end of the line, so its tail is never parsed as a command.
      if (in_.size() - in_pos_ > max_length) {
        too_long = true;
        in_.clear();
        in_pos_ = 0;
      }
      scanned = in_.size() - in_pos_;
      if (auto filled = co_await Fill(interruptible && !too_long); !filled) {
        co_return Fail(filled.error());
      }
    }
  }

  Task<Result<std::string>> ReadExactly(size_t count) override {
    while (in_.size() - in_pos_ < count) {
      if (auto filled = co_await Fill(false); !filled) {
        co_return Fail(filled.error());
      }
    }
    std::string data = in_.substr(in_pos_, count);
    Consume(count);
    co_return data;
  }

  void Queue(std::string_view data) override { out_.append(data); }

  Task<Status> Flush() override {
    if (out_.empty()) co_return Status{};
    std::string data;
    data.swap(out_);
    error_code ec;
    ArmTimer();
    if (tls_) {
      co_await asio::async_write(*tls_, asio::buffer(data), Redirect(ec));
    } else {
      co_await asio::async_write(socket_, asio::buffer(data), Redirect(ec));
    }
    timer_.cancel();
    bytes_out_ += data.size();
    if (ec) co_return Fail(IoError(ec));
    co_return Status{};
  }

  Task<Status> StartTls() override {
    if (tls_context_ == nullptr || tls_) {
      co_return Fail(ErrorCode::kProtocol, "TLS not available");
    }
    // RFC 3207 §4: anything pipelined after STARTTLS arrived in the clear
    // and must not be acted on once TLS is up.
    in_.clear();
    in_pos_ = 0;
    // The TLS stream and its record buffers exist only from here on, so a
    // plaintext session never pays for them.
    auto tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(
        socket_, *tls_context_);
    error_code ec;
    ArmTimer();
    co_await tls->async_handshake(asio::ssl::stream_base::server,
                                  Redirect(ec));
    timer_.cancel();
    if (ec) {
      co_return Fail(ErrorCode::kProtocol,
                     "TLS handshake failed: " + ec.message());
    }
    tls_ = std::move(tls);
    AddLogContext("tls", SSL_get_version(tls_->native_handle()));
    co_return Status{};
  }

  void Close() override {
    error_code ec;
    timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  // Called on this connection's loop when the server begins shutting
  // down: a session waiting for its next command is woken at once.
  void InterruptIfIdle() {
    if (waiting_interruptibly_) {
      interrupted_ = true;
      error_code ec;
      socket_.cancel(ec);
    }
  }

  void LogClose() const {
    auto elapsed = std::chrono::steady_clock::now() - started_;
    log_.Info("disconnect",
              {{"reason", close_reason_.empty() ? "done" : close_reason_},
               {"last_command", last_command_},
               {"duration_ms",
                static_cast<int64_t>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        elapsed)
                        .count())},
               {"bytes_in", bytes_in_},
               {"bytes_out", bytes_out_}});
  }

  asio::any_io_executor executor() { return socket_.get_executor(); }

 private:
  Error IoError(const error_code& ec) const {
    if (timed_out_) return Error{ErrorCode::kTemporary, "idle timeout", {}};
    if (interrupted_) {
      return Error{ErrorCode::kTemporary, "server shutting down", {}};
    }
    if (ec == asio::error::eof) {
      return Error{ErrorCode::kIo, "connection closed", {}};
    }
    return Error{ErrorCode::kIo, ec.message(), {}};
  }

  // Closes the socket if the next operation outlives the idle timeout.
  void ArmTimer() {
    timer_.expires_after(timeout_);
    std::weak_ptr<TcpConnection> weak = weak_from_this();
    timer_.async_wait([weak](const error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        self->timed_out_ = true;
        error_code ignored;
        self->socket_.cancel(ignored);
      }
    });
  }

  // Reads at least one more byte into in_.
  Task<Status> Fill(bool interruptible) {
    if (interruptible && stopping_->load()) {
      interrupted_ = true;
      co_return Fail(ErrorCode::kTemporary, "server shutting down");
    }
    if (in_pos_ > 0 && in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    }
    error_code ec;
    size_t n = 0;
    waiting_interruptibly_ = interruptible;
    ArmTimer();
    if (!tls_) {
      // An idle plaintext session waits for readability holding no read
      // buffer at all; most of a mail server's sessions are idle.
      if (in_.empty()) std::string().swap(in_);
      co_await socket_.async_wait(tcp::socket::wait_read, Redirect(ec));
    }
    size_t old_size = in_.size();
    if (!ec) {
      in_.resize(old_size + kReadChunk);
      auto buffer = asio::buffer(in_.data() + old_size, kReadChunk);
      if (tls_) {
        n = co_await tls_->async_read_some(buffer, Redirect(ec));
      } else {
        n = socket_.read_some(buffer, ec);
      }
    }
    timer_.cancel();
    waiting_interruptibly_ = false;
    in_.resize(old_size + n);
    bytes_in_ += n;
    if (ec) co_return Fail(IoError(ec));
    co_return Status{};
  }

  void Consume(size_t count) {
    in_pos_ += count;
    if (in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    } else if (in_pos_ > 64 * 1024) {
      in_.erase(0, in_pos_);
      in_pos_ = 0;
    }
  }

  asio::ssl::context* tls_context_;
  tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;  // after StartTls
  asio::steady_timer timer_;
  const std::atomic<bool>* stopping_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::seconds timeout_{300};
  bool timed_out_ = false;
  bool interrupted_ = false;
  bool waiting_interruptibly_ = false;
  std::string in_;
  size_t in_pos_ = 0;
  std::string out_;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
};

struct Listener {
  ListenerOptions options;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<ConnectionLimiter> limiter;
};

struct Server::Impl {
  ServerOptions options;
  std::vector<std::unique_ptr<asio::io_context>> loops;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      guards;
  std::list<Listener> listeners;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> next_loop{0};

  std::mutex mu;
  // Live connections, for shutdown. Guarded by mu.
  std::map<uint64_t, std::weak_ptr<TcpConnection>> live;

  asio::io_context& NextLoop() {
    return *loops[next_loop++ % loops.size()];
  }

  Task<void> AcceptLoop(Listener& listener);
  Task<void> Session(std::shared_ptr<TcpConnection> conn, Listener& listener);
  Task<void> Shutdown();
  void BeginShutdown();
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  int threads = impl_->options.threads;
  if (threads <= 0) {
    threads = std::max(1u, std::thread::hardware_concurrency());
  }
  for (int i = 0; i < threads; ++i) {
    impl_->loops.push_back(std::make_unique<asio::io_context>(1));
    impl_->guards.push_back(asio::make_work_guard(*impl_->loops.back()));
  }
}

Server::~Server() = default;

Status Server::Listen(ListenerOptions options) {
  error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address(options.endpoint.host, ec),
                         options.endpoint.port);
  if (ec) {
    return Fail(Error{ErrorCode::kConfig, "bad listen address",
                      {{"listener", options.name},
                       {"address", options.endpoint.host}}});
  }
  if (options.implicit_tls && !impl_->options.tls) {
    return Fail(Error{ErrorCode::kConfig,
                      "implicit TLS listener needs [tls] certificate",
                      {{"listener", options.name}}});
  }
  auto acceptor = std::make_unique<tcp::acceptor>(*impl_->loops[0]);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Fail(Error{ErrorCode::kConfig, "cannot listen: " + ec.message(),
                      {{"listener", options.name},
                       {"address", options.endpoint.ToString()}}});
  }
  Listener& listener = impl_->listeners.emplace_back();
  listener.limiter = std::make_unique<ConnectionLimiter>(
      options.max_connections, options.max_connections_per_ip);
  listener.options = std::move(options);
  listener.acceptor = std::move(acceptor);
  return {};
}

uint16_t Server::port(std::string_view name) const {
  for (const Listener& listener : impl_->listeners) {
    if (listener.options.name == name) {
      error_code ec;
      return listener.acceptor->local_endpoint(ec).port();
    }
  }
  return 0;
}

void Server::Spawn(std::function<Task<void>()> task) {
  Logger log = impl_->options.log;
  asio::co_spawn(impl_->NextLoop(), std::move(task),
                 [log](std::exception_ptr e) {
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     log.Error("task_failed", {{"error", ex.what()}});
                   }
                 });
}

Task<void> Server::Impl::AcceptLoop(Listener& listener) {
  const ListenerOptions& opts = listener.options;
  asio::ssl::context* tls =
      options.tls ? static_cast<asio::ssl::context*>(options.tls->native())
                  : nullptr;
  for (;;) {
    error_code ec;
    tcp::socket socket =
        co_await listener.acceptor->async_accept(NextLoop(), Redirect(ec));
    if (stopping) co_return;
    if (ec) {
      // EMFILE and friends: log, back off a little, keep serving.
      options.log.Warning("accept_failed", {{"listener", opts.name},
                                            {"error", ec.message()}});
      co_await SleepFor(std::chrono::milliseconds(100));
      continue;
    }
    auto conn = std::make_shared<TcpConnection>(std::move(socket), tls,
                                                opts.name, options.log,
                                                &stopping);
    conn->SetTimeout(opts.idle_timeout);
    if (!listener.limiter->TryAdmit(conn->peer_address())) {
      conn->log().Notice("reject_connection",
                         {{"reason", "connection limit"}});
      asio::co_spawn(
          conn->executor(),
          [conn, reply = opts.busy_reply]() -> Task<void> {
            if (!reply.empty()) co_await conn->Write(reply);
            conn->Close();
          },
          asio::detached);
      continue;
    }
    {
      std::lock_guard lock(mu);
      live[conn->id()] = conn;
    }
    asio::co_spawn(conn->executor(), Session(conn, listener), asio::detached);
  }
}

Task<void> Server::Impl::Session(std::shared_ptr<TcpConnection> conn,
                                 Listener& listener) {
  conn->log().Info("connect");
  bool ready = true;
  if (listener.options.implicit_tls) {
    if (auto status = co_await conn->StartTls(); !status) {
      conn->log().Notice("tls_failed", {{"error", status.error().message}});
      conn->NoteCloseReason("tls handshake failed");
      ready = false;
    }
  }
  if (ready) {
    try {
      co_await listener.options.handler(*conn);
    } catch (const std::exception& e) {
      conn->log().Error("session_failed", {{"error", e.what()}});
      conn->NoteCloseReason("internal error");
    }
  }
  conn->Close();
  conn->LogClose();
  listener.limiter->Release(conn->peer_address());
  std::lock_guard lock(mu);
  live.erase(conn->id());
}

void Server::Impl::BeginShutdown() {
  if (stopping.exchange(true)) return;
  options.log.Notice("shutdown_begin");
  asio::co_spawn(*loops[0], Shutdown(), asio::detached);
}

Task<void> Server::Impl::Shutdown() {
  for (Listener& listener : listeners) {
    error_code ec;
    listener.acceptor->close(ec);
  }

  // Wake sessions that wait for their next command, so they can say
  // goodbye in their protocol's words (421, * BYE) and go.
  auto for_each_live = [this](auto fn) {
    std::lock_guard lock(mu);
    for (auto& [id, weak] : live) {
      if (auto conn = weak.lock()) {
        asio::post(conn->executor(), [conn, fn] { fn(*conn); });
      }
    }
  };
  for_each_live([](TcpConnection& c) { c.InterruptIfIdle(); });

  // Give sessions in the middle of a transfer the grace period to finish.
  auto deadline = std::chrono::steady_clock::now() + options.shutdown_grace;
  auto live_count = [this] {
    std::lock_guard lock(mu);
    return live.size();
  };
  while (live_count() > 0 && std::chrono::steady_clock::now() < deadline) {
    co_await SleepFor(std::chrono::milliseconds(20));
  }
  size_t cut = live_count();
  if (cut > 0) {
    for_each_live([](TcpConnection& c) {
      c.NoteCloseReason("shutdown");
      c.Close();
    });
    for (int i = 0; i < 50 && live_count() > 0; ++i) {
      co_await SleepFor(std::chrono::milliseconds(20));
    }
  }
  // Blocking work still out on the pool comes back to its loop: let it,
  // for a while, before the loops stop for good.
  for (int i = 0; i < 250 && OffloadsInFlight() > 0; ++i) {
    co_await SleepFor(std::chrono::milliseconds(20));
  }
  options.log.Notice("shutdown_done",
                     {{"sessions_cut", static_cast<uint64_t>(cut)}});
  for (auto& guard : guards) guard.reset();
  for (auto& loop : loops) loop->stop();
}

void Server::Run() {
  asio::signal_set signals(*impl_->loops[0], SIGTERM, SIGINT);
  signals.async_wait([this](const error_code& ec, int signal) {
    if (ec) return;
    impl_->options.log.Notice("signal", {{"signal", signal}});
    impl_->BeginShutdown();
  });
  for (Listener& listener : impl_->listeners) {
    impl_->options.log.Notice(
        "listen", {{"listener", listener.options.name},
                   {"address", listener.options.endpoint.ToString()},
                   {"port", static_cast<unsigned>(port(listener.options.name))},
                   {"tls", listener.options.implicit_tls ? "implicit" : "no"}});
    asio::co_spawn(*impl_->loops[0], impl_->AcceptLoop(listener),
                   asio::detached);
  }
  std::vector<std::thread> threads;
  for (size_t i = 1; i < impl_->loops.size(); ++i) {
    threads.emplace_back([this, i] { impl_->loops[i]->run(); });
  }
  impl_->loops[0]->run();
  for (std::thread& thread : threads) thread.join();
  signals.cancel();
  // The loops outlive every pool job that may still post to them.
  for (int i = 0; i < 1500 && OffloadsInFlight() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void Server::Stop() {
  asio::post(*impl_->loops[0], [this] { impl_->BeginShutdown(); });
}

bool Server::stopping() const { return impl_->stopping.load(); }

Task<void> SleepFor(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  error_code ec;
  co_await timer.async_wait(Redirect(ec));
}

namespace {
// Threads here mostly wait: on fsync, or for a group commit that another
// of them leads. Their number bounds how many callers one group commit
// can gather, so it is generous rather than one per core.
asio::thread_pool& BlockingPool() {
  static asio::thread_pool pool(
      std::max(32u, 4 * std::thread::hardware_concurrency()));
  return pool;
}
}  // namespace

Task<void> Offload(std::function<void()> work) {
  auto home = co_await asio::this_coro::executor;
  // The pool job keeps no work-tracking reference to `home` (whose loop
  // may be gone by the time such a reference is dropped); the count tells
  // the Server when no job can post back any more.
  std::exception_ptr failure;
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [&work, &failure, home](auto handler) {
        ++OffloadsInFlight();
        asio::post(BlockingPool(), [&work, &failure, home,
                                    handler = std::move(handler)]() mutable {
          try {
            work();
          } catch (...) {
            failure = std::current_exception();
          }
          asio::post(home, std::move(handler));
          --OffloadsInFlight();
        });
      },
      asio::use_awaitable);
  if (failure) std::rethrow_exception(failure);
}

}  // namespace corvus
