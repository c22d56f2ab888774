// Modified UTF-7 mailbox names (RFC 3501 §5.1.3).
//
// IMAP4rev1 clients send and receive mailbox names in modified UTF-7;
// the store keeps them as UTF-8. A client that ENABLEs UTF8=ACCEPT
// (RFC 6855) uses UTF-8 directly, and these functions are not used for it.
//
// Decoding is strict, because a name that decodes two ways would let two
// clients see two different folders: printable ASCII must appear as
// itself, "&" only as "&-", shifts must end in "-", padding bits must be
// zero, UTF-16 surrogates must pair, and adjacent shifted runs are
// refused (a canonical encoder never writes them).
//
// Thread safety: pure functions.
#ifndef CORVUS_MAILBOX_IMAP_IMAP_UTF7_H_
#define CORVUS_MAILBOX_IMAP_IMAP_UTF7_H_

#include <string>
#include <string_view>

#include "common/result.h"

namespace corvus::imap {

// Returns the modified UTF-7 form of UTF-8 `utf8`. kInvalid if `utf8` is
// not valid UTF-8 or holds a control character.
Result<std::string> EncodeMailboxName(std::string_view utf8);

// Returns the UTF-8 form of modified UTF-7 `mutf7`. kInvalid for any
// malformed input (see above) or a control character.
Result<std::string> DecodeMailboxName(std::string_view mutf7);

// True if `text` is valid UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view text);

}  // namespace corvus::imap

#endif  // CORVUS_MAILBOX_IMAP_IMAP_UTF7_H_
