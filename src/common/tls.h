// TLS server contexts and self-signed certificates.
//
// A TlsContext holds one certificate chain and key, loaded once at start-up
// and shared by every listener. Only net.cc looks inside it.
//
// Thread safety: a loaded TlsContext is read-only and may be shared.
#ifndef CORVUS_COMMON_TLS_H_
#define CORVUS_COMMON_TLS_H_

#include <filesystem>
#include <memory>
#include <string>

#include "common/result.h"

namespace corvus {

class TlsContext {
 public:
  // Loads a PEM certificate chain and private key. Returns kConfig if
  // either is missing, unreadable, or they do not match.
  static Result<std::shared_ptr<TlsContext>> Load(
      const std::filesystem::path& certificate,
      const std::filesystem::path& private_key);

  ~TlsContext();
  void* native();  // the boost::asio::ssl::context, for net.cc

 private:
  struct Impl;
  explicit TlsContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Writes a new EC P-256 key and a self-signed certificate for `hostname`
// (also valid for localhost, 127.0.0.1 and ::1), valid for ten years. The
// key file is created with mode 0600. Returns kIo on write failure.
Status WriteSelfSignedCertificate(const std::filesystem::path& certificate,
                                  const std::filesystem::path& private_key,
                                  const std::string& hostname);

}  // namespace corvus

#endif  // CORVUS_COMMON_TLS_H_
