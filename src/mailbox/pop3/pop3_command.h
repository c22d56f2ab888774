// The POP3 wire format without the network: command lines (RFC 1939
// section 3), message-number arguments, dot-stuffed multi-line bodies,
// TOP's cut of a message, and the SASL PLAIN response (RFC 4616) with
// its base64 (RFC 4648). Pure functions, so that the session stays about
// state and the fuzzer (pop3_command_fuzz.cc) can reach every parser.
//
// Thread safety: no shared state.
#ifndef CORVUS_MAILBOX_POP3_POP3_COMMAND_H_
#define CORVUS_MAILBOX_POP3_POP3_COMMAND_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/sasl.h"

namespace corvus::pop3 {

enum class Pop3Verb {
  kUnknown,
  kCapa,
  kStls,
  kUser,
  kPass,
  kAuth,
  kStat,
  kList,
  kRetr,
  kDele,
  kNoop,
  kRset,
  kQuit,
  kTop,
  kUidl,
};

struct Pop3Command {
  Pop3Verb verb = Pop3Verb::kUnknown;
  // The keyword in upper case, at most kMaxKeywordLength characters, for
  // logs and NoteCommand; "?" if it was longer or not alphabetic.
  std::string name;
  // Everything after the first space, as sent (PASS keeps spaces inside
  // a password).
  std::string argument;
};

// RFC 2449 section 4: keywords are 3 or 4 characters; we allow 1 to 4 so
// that an unknown short keyword still gets "-ERR Unknown command".
inline constexpr size_t kMaxKeywordLength = 4;

// Parses one command line. `line` may still carry its CRLF or LF, which
// is dropped. Errors (kProtocol, message fit for "-ERR "): an empty line,
// a NUL or other control byte, a byte above 0x7e, a keyword that is not
// 1 to 4 letters. An unknown but well-formed keyword is not an error: it
// parses as kUnknown, so the caller can say which command it refuses.
Result<Pop3Command> ParsePop3Command(std::string_view line);

// A message number (RFC 1939 section 3: "msg"): 1 to 10 decimal digits,
// no sign, no leading or trailing space, value 1 to 2^32-1. nullopt
// otherwise.
std::optional<uint32_t> ParseMessageNumber(std::string_view text);

// A non-negative line count for TOP: decimal digits only, 0 to 2^32-1.
std::optional<uint32_t> ParseLineCount(std::string_view text);

// Splits "a b" into "a" and "b" at the first single space. nullopt unless
// there is exactly one space, with text on both sides.
std::optional<std::pair<std::string_view, std::string_view>> SplitTwoArguments(
    std::string_view text);

// Appends `data` to `out` as the body of a multi-line response (RFC 1939
// section 3): every line that starts with "." gets one more ".", the body
// ends in CRLF even if `data` does not, and the ".\r\n" terminator
// follows. A line is anything after LF, so that a stored bare LF can
// never line a client up to see an early terminator.
void AppendMultiline(std::string& out, std::string_view data);

// TOP (RFC 1939 section 7): the header section, the empty line that ends
// it, and the first `lines` lines of the body, each with its own
// terminator as stored. A message with no empty line is all header and
// is returned whole.
std::string_view TopOfMessage(std::string_view message, uint32_t lines);

// True if `a` and `b` are equal ignoring ASCII case.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace corvus::pop3

#endif  // CORVUS_MAILBOX_POP3_POP3_COMMAND_H_
