#include "directory/password.h"

#include <crypt.h>
#include <string.h>

#include <array>
#include <memory>

#include "directory/random.h"

namespace corvus {
namespace {

static_assert(kMaxPasswordLength < CRYPT_MAX_PASSPHRASE_SIZE);

constexpr char kYescryptPrefix[] = "$y$";
constexpr size_t kSaltBytes = 16;  // libxcrypt's own default for yescrypt

// A yescrypt hash of a random string nobody knows, at the default cost,
// used by VerifyPasswordDecoy.
constexpr char kDecoyHash[] =
    "$y$j9T$dZ.4QZwjYxL2qkbIRez8a0$"
    "KkEPFCnm.McZugU23NLLofMUUJNIEpx1V9Ta8DlhJ04";

// Scratch space for crypt_rn(), wiped on destruction because it holds the
// password and intermediate state derived from it.
class CryptScratch {
 public:
  CryptScratch() : data_(std::make_unique<crypt_data>()) {
    memset(data_.get(), 0, sizeof(crypt_data));
  }
  ~CryptScratch() { explicit_bzero(data_.get(), sizeof(crypt_data)); }
  CryptScratch(const CryptScratch&) = delete;
  CryptScratch& operator=(const CryptScratch&) = delete;

  crypt_data* get() { return data_.get(); }

 private:
  // crypt_data is about 32 KiB: too large for a coroutine's stack.
  std::unique_ptr<crypt_data> data_;
};

bool AcceptablePassword(std::string_view password) {
  return !password.empty() && password.size() <= kMaxPasswordLength &&
         password.find('\0') == std::string_view::npos;
}

// Compares without an early exit, so the time taken does not reveal the
// length of the matching prefix.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

// Runs crypt_rn() and returns whether `hash` was reproduced. `password`
// must already be acceptable.
bool CryptMatches(std::string_view password, const std::string& hash) {
  std::string phrase(password);
  CryptScratch scratch;
  const char* out =
      crypt_rn(phrase.c_str(), hash.c_str(), scratch.get(), sizeof(crypt_data));
  const bool match =
      out != nullptr && out[0] != '*' && ConstantTimeEquals(out, hash);
  explicit_bzero(phrase.data(), phrase.size());
  return match;
}

}  // namespace

Result<std::string> HashPassword(std::string_view password) {
  if (password.empty()) return Fail(ErrorCode::kInvalid, "empty password");
  if (password.size() > kMaxPasswordLength) {
    return Fail(ErrorCode::kInvalid, "password too long");
  }
  if (password.find('\0') != std::string_view::npos) {
    return Fail(ErrorCode::kInvalid, "password contains a NUL byte");
  }

  std::array<unsigned char, kSaltBytes> salt_bytes;
  if (auto status = FillRandomBytes(salt_bytes); !status) {
    return Fail(status.error());
  }
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting;
  // Count 0 picks libxcrypt's default cost, which distributions raise
  // over time without a change here.
  if (crypt_gensalt_rn(
          kYescryptPrefix, 0, reinterpret_cast<const char*>(salt_bytes.data()),
          salt_bytes.size(), setting.data(), setting.size()) == nullptr) {
    return Fail(ErrorCode::kPermanent, "yescrypt salt generation failed");
  }

  std::string phrase(password);
  CryptScratch scratch;
  const char* out = crypt_rn(phrase.c_str(), setting.data(), scratch.get(),
                             sizeof(crypt_data));
  std::string hash = (out != nullptr && out[0] != '*') ? out : "";
  explicit_bzero(phrase.data(), phrase.size());
  if (hash.empty()) {
    return Fail(ErrorCode::kPermanent, "yescrypt hashing failed");
  }
  return hash;
}

bool VerifyPassword(std::string_view password, std::string_view hash) {
  if (!AcceptablePassword(password) || hash.empty()) return false;
  // A hash with a NUL would be cut by crypt_rn() and could then match a
  // different, shorter setting.
  if (hash.find('\0') != std::string_view::npos) return false;
  return CryptMatches(password, std::string(hash));
}

void VerifyPasswordDecoy(std::string_view password) {
  if (!AcceptablePassword(password)) return;
  (void)CryptMatches(password, kDecoyHash);
}

}  // namespace corvus
