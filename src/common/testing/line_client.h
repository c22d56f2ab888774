// A blocking loopback client for protocol tests: exact bytes out, lines
// and byte counts in, optional TLS. Every read gives up after a timeout,
// so a test against a stuck server fails instead of hanging.
//
// Each protocol's tests derive from it and add their own reply framing
// (SMTP multi-line replies, POP3 multi-line responses, IMAP literals).
//
// Thread safety: one client per thread.
#ifndef CORVUS_COMMON_TESTING_LINE_CLIENT_H_
#define CORVUS_COMMON_TESTING_LINE_CLIENT_H_

#include <openssl/ssl.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace corvus::testing {

class LineClient {
 public:
  // Connects to 127.0.0.1:`port`; see connected().
  explicit LineClient(uint16_t port);
  ~LineClient();
  LineClient(const LineClient&) = delete;
  LineClient& operator=(const LineClient&) = delete;

  bool connected() const { return connected_; }

  // Writes all of `data` (over TLS once StartTls() succeeded).
  void Send(std::string_view data);

  // One line with its terminator; "" on EOF or after `timeout_ms` of
  // silence.
  std::string ReadLine(int timeout_ms = 5000);
  // Up to `count` bytes; fewer on EOF or silence.
  std::string ReadBytes(size_t count, int timeout_ms = 5000);

  // True if the server closes the connection within 5 s with nothing
  // more to say.
  bool ReadsEof();
  // Reads and drops whatever comes until the server closes or stays
  // silent for `timeout_ms`; false only if it never stops talking.
  bool DiscardUntilClosed(int timeout_ms = 5000);

  // TLS handshake on the open connection (no certificate check).
  bool StartTls();
  // Closes both directions without closing the descriptor.
  void Shutdown();

 private:
  // Reads at least one more byte into buffer_; false on EOF or silence.
  bool Fill(int timeout_ms);

  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

}  // namespace corvus::testing

#endif  // CORVUS_COMMON_TESTING_LINE_CLIENT_H_
