#include "directory/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace corvus {

Status FillRandomBytes(std::span<unsigned char> out) {
  size_t done = 0;
  // getrandom(2) may return fewer bytes than asked for requests above
  // 256 bytes, or be interrupted by a signal; both are retried. The bound
  // only guards against a kernel that keeps returning zero.
  for (int attempt = 0; done < out.size() && attempt < 100; ++attempt) {
    const ssize_t got = getrandom(out.data() + done, out.size() - done, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrorCode::kIo,
                  std::string("getrandom failed: ") + std::strerror(errno));
    }
    done += static_cast<size_t>(got);
  }
  if (done < out.size()) {
    return Fail(ErrorCode::kIo, "getrandom returned too few bytes");
  }
  return {};
}

Result<std::string> RandomHex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (auto status = FillRandomBytes(raw); !status) return Fail(status.error());

  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * bytes);
  for (const unsigned char b : raw) {
    hex.push_back(kDigits[b >> 4]);
    hex.push_back(kDigits[b & 0xF]);
  }
  return hex;
}

}  // namespace corvus
