// BINARY[section] (RFC 3516): a leaf part's body with its
// Content-Transfer-Encoding undone, for FETCH BINARY and BINARY.SIZE.
//
// Thread safety: pure functions.
#ifndef CORVUS_MAILBOX_IMAP_BINARY_SECTION_H_
#define CORVUS_MAILBOX_IMAP_BINARY_SECTION_H_

#include <string>
#include <string_view>

#include "common/result.h"
#include "mime/message.h"

namespace corvus::imap {

// Returns the decoded body of the part named by `section` ("", "1",
// "2.1"; no HEADER/TEXT/MIME suffixes). An empty section is the whole
// message, unchanged. Errors: kInvalid for bad section syntax or a
// multipart (RFC 3516 §4.2 applies BINARY to leaves), kNotFound for a
// part the message lacks, kPermanent for an unknown or undecodable
// encoding (IMAP [UNKNOWN-CTE]).
Result<std::string> DecodeBinarySection(std::string_view raw,
                                        const mime::Message& message,
                                        std::string_view section);

// The body of `part` (of the message `raw`) with its
// Content-Transfer-Encoding undone. kPermanent for an unknown encoding or
// bad base64.
Result<std::string> DecodePartBody(std::string_view raw,
                                   const mime::Part& part);

// Base64 as found in mail: line breaks and spaces ignored, padding
// optional. kPermanent on any other byte outside the alphabet.
Result<std::string> DecodeMailBase64(std::string_view text);

// Quoted-printable (RFC 2045 §6.7): soft line breaks removed, =XX
// decoded; a malformed escape is kept as written, as most readers do.
std::string DecodeQuotedPrintable(std::string_view text);

}  // namespace corvus::imap

#endif  // CORVUS_MAILBOX_IMAP_BINARY_SECTION_H_
