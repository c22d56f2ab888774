// Human-readable decodings of header text, for search indexing, the HTTP
// API and logs (never for IMAP, which returns header bytes as written):
// RFC 2047 encoded words and RFC 2231 parameter continuations/charsets,
// converted to UTF-8.
//
// Backed by GMime; its and glib's headers stay inside decode.cc.
//
// Thread safety: all functions may be called from any thread. GMime is
// initialised once, on first use.
#ifndef CORVUS_MIME_DECODE_H_
#define CORVUS_MIME_DECODE_H_

#include <optional>
#include <string>
#include <string_view>

#include "mime/message.h"

namespace corvus::mime {

// Returns unstructured header text (Subject, a display name) unfolded
// and with RFC 2047 encoded words decoded to UTF-8. Undecodable words
// are kept as written. Text after a NUL byte is dropped.
std::string DecodeHeaderText(std::string_view text);

// Returns the decoded value of parameter `name` in a Content-Type or
// Content-Disposition header value (`is_disposition` selects which), with
// RFC 2231 continuations and charsets and RFC 2047 words decoded; nullopt
// if the parameter is absent.
std::optional<std::string> DecodeParam(std::string_view header_value,
                                       std::string_view name,
                                       bool is_disposition);

// Returns the file name of `part` of the message `raw`: the
// Content-Disposition filename, else the Content-Type name, decoded;
// nullopt if neither is present.
std::optional<std::string> PartFilename(std::string_view raw, const Part& part);

}  // namespace corvus::mime

#endif  // CORVUS_MIME_DECODE_H_
