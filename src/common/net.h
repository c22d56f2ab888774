// The coroutine server skeleton every Corvus protocol runs on.
//
// A Server owns one event loop per core, the listening sockets, and the
// life of every connection: per-listener and per-address connection
// limits, idle timeouts, implicit TLS and STARTTLS, bounded line reads, and
// graceful shutdown on SIGTERM (stop accepting, let sessions that are
// between commands go at once, cut the rest after a grace period).
//
// A protocol supplies a Handler: a coroutine that gets a Connection and
// returns when the session is over. Handlers see only the Connection
// interface below, so they never include Asio beyond Task.
//
// Thread safety: a Connection belongs to the one event loop that runs its
// handler and must only be used from that handler. Server's public methods
// may be called from any thread.
#ifndef CORVUS_COMMON_NET_H_
#define CORVUS_COMMON_NET_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/config.h"
#include "common/log.h"
#include "common/result.h"
#include "common/task.h"

namespace corvus {

class TlsContext;

// One client connection, plain or TLS.
class Connection {
 public:
  virtual ~Connection() = default;

  uint64_t id() const { return id_; }
  const std::string& listener() const { return listener_; }
  const std::string& peer_address() const { return peer_address_; }
  uint16_t peer_port() const { return peer_port_; }
  bool peer_is_loopback() const { return peer_is_loopback_; }
  // The context every line about this connection carries (conn, peer).
  const Logger& log() const { return log_; }
  // Adds key=value to every later log line of this connection.
  void AddLogContext(std::string_view key, std::string_view value) {
    log_ = log_.With(key, value);
  }

  virtual bool is_tls() const = 0;
  // True if StartTls() can succeed (a certificate is configured).
  virtual bool tls_available() const = 0;
  // True once the server has begun shutting down.
  virtual bool stopping() const = 0;

  // Reads one line, returned with its terminator as received ("\r\n" or a
  // bare "\n"). Errors: kProtocol "line too long" when more than
  // `max_length` bytes arrive without LF (the rest of that line is
  // discarded, so the next read starts at the next line); kIo when the
  // peer closes; kTemporary on idle timeout, or when `interruptible` and
  // the server starts shutting down while waiting.
  virtual Task<Result<std::string>> ReadLine(size_t max_length,
                                             bool interruptible = true) = 0;
  // Reads exactly `count` bytes (a BDAT chunk, an IMAP literal).
  virtual Task<Result<std::string>> ReadExactly(size_t count) = 0;
  // True if bytes already received are waiting to be read; a pipelining
  // server flushes replies only when this is false.
  virtual bool HasBufferedInput() const = 0;
  // Sets the idle timeout for each later read and write.
  virtual void SetTimeout(std::chrono::seconds timeout) = 0;

  // Appends to the output buffer; nothing is sent until Flush().
  virtual void Queue(std::string_view data) = 0;
  virtual Task<Status> Flush() = 0;
  // Queue() then Flush().
  Task<Status> Write(std::string data);

  // Upgrades to TLS. Bytes the client sent after the STARTTLS command are
  // discarded first, never read as if they came over TLS (RFC 3207 §4).
  // Returns kProtocol if the handshake fails; the connection is then
  // unusable.
  virtual Task<Status> StartTls() = 0;
  virtual void Close() = 0;

  // Recorded for the closing log line.
  void NoteCommand(std::string_view verb) { last_command_ = verb; }
  void NoteCloseReason(std::string_view reason) { close_reason_ = reason; }

 protected:
  uint64_t id_ = 0;
  std::string listener_;
  std::string peer_address_;
  uint16_t peer_port_ = 0;
  bool peer_is_loopback_ = false;
  Logger log_;
  std::string last_command_;
  std::string close_reason_;
};

using Handler = std::function<Task<void>(Connection&)>;

struct ListenerOptions {
  std::string name;  // "smtp", "imap", ...; appears in logs
  Endpoint endpoint;
  bool implicit_tls = false;
  int max_connections = 2000;
  int max_connections_per_ip = 100;
  std::chrono::seconds idle_timeout{300};
  // Written to a connection refused for being over a limit, then closed.
  std::string busy_reply;
  Handler handler;
};

struct ServerOptions {
  int threads = 0;  // 0: one event loop per core
  std::chrono::seconds shutdown_grace{10};
  std::shared_ptr<TlsContext> tls;  // may be null: no TLS
  Logger log;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds a listening socket now, so that a port in use is a start-up
  // error (kConfig). Port 0 picks a free port; see port().
  Status Listen(ListenerOptions options);

  // The bound port of listener `name`, or 0 if there is none.
  uint16_t port(std::string_view name) const;

  // Runs `task` on one of the event loops. Long-running tasks should
  // watch stopping() and return once it is true.
  void Spawn(std::function<Task<void>()> task);

  // Serves until Stop() or SIGTERM/SIGINT, then shuts down gracefully.
  void Run();
  // Begins graceful shutdown. Safe from any thread and from handlers.
  void Stop();
  bool stopping() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Suspends the calling coroutine for `duration` without blocking its loop.
Task<void> SleepFor(std::chrono::milliseconds duration);

// Runs `work` on a pool of threads meant for blocking calls (fsync,
// SQLite), then resumes the caller on its own event loop.
Task<void> Offload(std::function<void()> work);

}  // namespace corvus

#endif  // CORVUS_COMMON_NET_H_
