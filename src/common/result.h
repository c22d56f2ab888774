// Errors as values.
//
// Every module boundary in Corvus returns Result<T>: either a T or an Error
// that carries a category, a message for humans, and optional key=value
// context. Exceptions never cross a module boundary; code that calls a
// throwing library converts at the call site.
//
// Thread safety: plain values, no shared state.
#ifndef CORVUS_COMMON_RESULT_H_
#define CORVUS_COMMON_RESULT_H_

#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corvus {

// What went wrong, coarsely enough that callers can choose a reaction
// (retry, reply 4xx vs 5xx, exit with a config error).
enum class ErrorCode {
  kNotFound,     // the named thing does not exist
  kExists,       // creating something that is already there
  kInvalid,      // the caller's input is malformed or out of range
  kTemporary,    // try again later (backend down, lock busy)
  kPermanent,    // will fail the same way every time
  kCorruption,   // stored data violates an invariant
  kIo,           // the operating system refused a read, write or flush
  kProtocol,     // a peer broke the protocol
  kConfig,       // configuration is wrong; fatal at start-up
};

// Returns the lower-case name of `code`, e.g. "not_found".
std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;
  // Key/value pairs that locate the error (file, key, account, ...).
  std::vector<std::pair<std::string, std::string>> context;

  // Returns a copy with one more context pair.
  Error With(std::string key, std::string value) const&;
  Error With(std::string key, std::string value) &&;

  // "message (key=value, ...)"; what the CLI prints and logs carry.
  std::string ToString() const;
};

template <typename T>
using Result = std::expected<T, Error>;

// Result of an operation that yields nothing on success.
using Status = std::expected<void, Error>;

// Shorthand for `return Fail(ErrorCode::kInvalid, "bad address");`.
inline std::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message), {}});
}

inline std::unexpected<Error> Fail(Error error) {
  return std::unexpected<Error>(std::move(error));
}

}  // namespace corvus

#endif  // CORVUS_COMMON_RESULT_H_
