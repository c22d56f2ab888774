// Password hashing for account logins.
//
// Hashes are crypt(3) strings made with yescrypt ("$y$...", libxcrypt's
// default and Debian's since 11), so that the same hashes work in
// /etc/shadow-style tools and can be imported from other mail systems.
// Verification accepts any scheme libxcrypt knows, so hashes imported
// from an older system keep working until the user's next password
// change.
//
// Passwords are never logged, never put into an Error, and the scratch
// buffers that held them are wiped before they are released.
//
// Thread safety: safe from any thread; crypt_rn() works on a caller-owned
// buffer and keeps no global state.
#ifndef CORVUS_DIRECTORY_PASSWORD_H_
#define CORVUS_DIRECTORY_PASSWORD_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace corvus {

// Longest password accepted, in bytes: libxcrypt's limit
// (CRYPT_MAX_PASSPHRASE_SIZE, 512, counting the terminating NUL). Longer
// ones are refused rather than pre-hashed, so that stored hashes stay
// plain crypt(3) strings any tool can check.
inline constexpr size_t kMaxPasswordLength = 511;

// Returns a fresh yescrypt hash of `password` with a 16-byte salt from
// the operating system's random source; two calls never return the same
// string. Errors: kInvalid if the password is empty, longer than
// kMaxPasswordLength or holds a NUL byte (crypt(3) would silently cut it
// there); kIo if no random bytes could be read; kPermanent if libxcrypt
// refuses (not expected on a supported system).
Result<std::string> HashPassword(std::string_view password);

// True if `password` matches the crypt(3) string `hash`. False for an
// empty or malformed hash, and for a password HashPassword would refuse.
// The final comparison takes the same time wherever the strings differ.
bool VerifyPassword(std::string_view password, std::string_view hash);

// Spends about the time VerifyPassword spends on a yescrypt hash and
// returns nothing. Authentication calls it when there is no hash to check
// (unknown or locked account) so that response times do not tell a
// client which addresses exist.
void VerifyPasswordDecoy(std::string_view password);

}  // namespace corvus

#endif  // CORVUS_DIRECTORY_PASSWORD_H_
