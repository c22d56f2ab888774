// The wire format of SASL as mail protocols carry it: strict base64
// (RFC 4648) and the PLAIN message (RFC 4616). SMTP AUTH, IMAP
// AUTHENTICATE and POP3 AUTH all decode client responses with these.
//
// Pure functions with no dependencies, so that fuzz targets of the
// protocol parsers can link them alone.
//
// Thread safety: stateless.
#ifndef CORVUS_COMMON_SASL_H_
#define CORVUS_COMMON_SASL_H_

#include <optional>
#include <string>
#include <string_view>

namespace corvus {

// Decodes strict RFC 4648 base64: padding required, no white space, no
// characters outside the alphabet. nullopt on anything else.
std::optional<std::string> DecodeBase64(std::string_view text);

struct PlainCredentials {
  std::string authzid;  // empty: act as authcid
  std::string authcid;
  std::string password;
};

// RFC 4616 §2: message = [authzid] NUL authcid NUL passwd, with a
// non-empty authcid and password and no further NUL. nullopt otherwise.
std::optional<PlainCredentials> ParseSaslPlain(std::string_view decoded);

}  // namespace corvus

#endif  // CORVUS_COMMON_SASL_H_
