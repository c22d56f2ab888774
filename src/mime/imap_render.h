// IMAP renderings of a parsed message: ENVELOPE, BODY and BODYSTRUCTURE
// (RFC 3501 §7.4.2, RFC 9051 §7.5.2), ready to be placed in a FETCH
// response as they are.
//
// Strings are written as NIL, as quoted strings, or as {n} literals when
// they hold 8-bit bytes, CR or LF (which a quoted string cannot carry).
// NUL cannot appear in either form and is written as a space.
//
// Thread safety: pure functions.
#ifndef CORVUS_MIME_IMAP_RENDER_H_
#define CORVUS_MIME_IMAP_RENDER_H_

#include <optional>
#include <string>
#include <string_view>

#include "mime/message.h"

namespace corvus::mime {

// Appends `value` to `out` as an IMAP nstring: NIL when absent.
void AppendImapString(std::string& out, std::optional<std::string_view> value);

// Returns the ENVELOPE list, e.g. ("date" "subject" ((...)) ... "<id>").
std::string ImapEnvelope(const Envelope& envelope);

// Returns the body structure of the message whose root part is `root`
// (Message::root). `extended` selects the BODYSTRUCTURE form (with
// extension data: MD5, disposition, language, location, multipart
// parameters); false gives the BODY form.
std::string ImapBodyStructure(const Part& root, bool extended);

}  // namespace corvus::mime

#endif  // CORVUS_MIME_IMAP_RENDER_H_
