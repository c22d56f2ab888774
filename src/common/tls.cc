#include "common/tls.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <utility>
// Asio after <utility>; see task.h.
#include <boost/asio/ssl/context.hpp>

namespace corvus {

struct TlsContext::Impl {
  boost::asio::ssl::context ssl{boost::asio::ssl::context::tls_server};
};

TlsContext::TlsContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;

void* TlsContext::native() { return &impl_->ssl; }

Result<std::shared_ptr<TlsContext>> TlsContext::Load(
    const std::filesystem::path& certificate,
    const std::filesystem::path& private_key) {
  auto impl = std::make_unique<Impl>();
  boost::system::error_code ec;
  // TLS 1.2 is the oldest version any maintained mail client needs.
  impl->ssl.set_options(boost::asio::ssl::context::default_workarounds |
                        boost::asio::ssl::context::no_sslv2 |
                        boost::asio::ssl::context::no_sslv3 |
                        boost::asio::ssl::context::no_tlsv1 |
                        boost::asio::ssl::context::no_tlsv1_1 |
                        boost::asio::ssl::context::single_dh_use);
  // Idle TLS sessions give their record buffers back to the allocator.
  SSL_CTX_set_mode(impl->ssl.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  impl->ssl.use_certificate_chain_file(certificate.string(), ec);
  if (ec) {
    return Fail(Error{ErrorCode::kConfig,
                      "cannot load TLS certificate: " + ec.message(),
                      {{"file", certificate.string()}}});
  }
  impl->ssl.use_private_key_file(private_key.string(),
                                 boost::asio::ssl::context::pem, ec);
  if (ec) {
    return Fail(Error{ErrorCode::kConfig,
                      "cannot load TLS private key: " + ec.message(),
                      {{"file", private_key.string()}}});
  }
  if (SSL_CTX_check_private_key(impl->ssl.native_handle()) != 1) {
    return Fail(Error{ErrorCode::kConfig,
                      "TLS private key does not match the certificate",
                      {{"file", private_key.string()}}});
  }
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(impl)));
}

namespace {

struct FileCloser {
  void operator()(FILE* f) const { fclose(f); }
};
using UniqueFile = std::unique_ptr<FILE, FileCloser>;

// Opens `path` for writing with the given mode, replacing any old file.
UniqueFile OpenForWrite(const std::filesystem::path& path, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return nullptr;
  fchmod(fd, mode);
  return UniqueFile(fdopen(fd, "w"));
}

Status OpenSslFailure(const std::string& what) {
  return Fail(ErrorCode::kIo, "cannot create certificate: " + what);
}

}  // namespace

Status WriteSelfSignedCertificate(const std::filesystem::path& certificate,
                                  const std::filesystem::path& private_key,
                                  const std::string& hostname) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) return OpenSslFailure("key generation failed");
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!cert) return OpenSslFailure("out of memory");

  // Version 3 with a random positive serial, valid for ten years.
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());

  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_UTF8,
      reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(
      name, "O", MBSTRING_UTF8,
      reinterpret_cast<const unsigned char*>("Corvus self-signed"), -1, -1,
      0);
  X509_set_issuer_name(cert.get(), name);

  // Clients check the subjectAltName, not the CN.
  std::string san = "DNS:" + hostname + ",DNS:localhost,IP:127.0.0.1,IP:::1";
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(
      nullptr, &ctx, NID_subject_alt_name, san.c_str());
  if (ext == nullptr) return OpenSslFailure("bad subjectAltName");
  X509_add_ext(cert.get(), ext, -1);
  X509_EXTENSION_free(ext);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return OpenSslFailure("signing failed");
  }

  UniqueFile key_file = OpenForWrite(private_key, 0600);
  if (!key_file || PEM_write_PrivateKey(key_file.get(), key.get(), nullptr,
                                        nullptr, 0, nullptr, nullptr) != 1) {
    return Fail(Error{ErrorCode::kIo, "cannot write private key",
                      {{"file", private_key.string()}}});
  }
  UniqueFile cert_file = OpenForWrite(certificate, 0644);
  if (!cert_file || PEM_write_X509(cert_file.get(), cert.get()) != 1) {
    return Fail(Error{ErrorCode::kIo, "cannot write certificate",
                      {{"file", certificate.string()}}});
  }
  return {};
}

}  // namespace corvus
