#include "common/testing/line_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace corvus::testing {

// Bounds on loops so that a misbehaving server cannot hang a test.
constexpr int kMaxReads = 100000;

LineClient::LineClient(uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address),
                       sizeof(address)) == 0;
}

LineClient::~LineClient() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) close(fd_);
}

void LineClient::Send(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ssl_ != nullptr
                    ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                    : write(fd_, data.data(), data.size());
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string LineClient::ReadLine(int timeout_ms) {
  for (int i = 0; i < kMaxReads; ++i) {
    size_t lf = buffer_.find('\n');
    if (lf != std::string::npos) {
      std::string line = buffer_.substr(0, lf + 1);
      buffer_.erase(0, lf + 1);
      return line;
    }
    if (!Fill(timeout_ms)) return "";
  }
  return "";
}

std::string LineClient::ReadBytes(size_t count, int timeout_ms) {
  for (int i = 0; i < kMaxReads && buffer_.size() < count; ++i) {
    if (!Fill(timeout_ms)) break;
  }
  size_t n = std::min(count, buffer_.size());
  std::string out = buffer_.substr(0, n);
  buffer_.erase(0, n);
  return out;
}

bool LineClient::ReadsEof() {
  if (!buffer_.empty()) return false;
  return !Fill(5000) && buffer_.empty();
}

bool LineClient::DiscardUntilClosed(int timeout_ms) {
  for (int i = 0; i < 1000; ++i) {
    buffer_.clear();
    if (!Fill(timeout_ms)) return true;
  }
  return false;
}

bool LineClient::StartTls() {
  ctx_ = SSL_CTX_new(TLS_client_method());
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  return SSL_connect(ssl_) == 1;
}

void LineClient::Shutdown() { shutdown(fd_, SHUT_RDWR); }

bool LineClient::Fill(int timeout_ms) {
  if (ssl_ == nullptr || SSL_pending(ssl_) == 0) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
  }
  char chunk[4096];
  ssize_t n = ssl_ != nullptr ? SSL_read(ssl_, chunk, sizeof(chunk))
                              : read(fd_, chunk, sizeof(chunk));
  if (n <= 0) return false;
  buffer_.append(chunk, static_cast<size_t>(n));
  return true;
}

}  // namespace corvus::testing
