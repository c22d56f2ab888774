// IMAP BODY[section] extraction (RFC 3501 §6.4.5, RFC 9051 §6.4.5).
//
// Sections are served from the stored bytes: a SectionData is a byte
// range into the raw message, except for HEADER.FIELDS and
// HEADER.FIELDS.NOT, whose selected lines are copied (still verbatim)
// into a new string. Partial fetches (<origin.count>) slice View().
//
// Thread safety: pure functions.
#ifndef CORVUS_MIME_SECTION_H_
#define CORVUS_MIME_SECTION_H_

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "mime/message.h"

namespace corvus::mime {

struct SectionData {
  ByteRange range;                   // used when `built` is empty
  std::optional<std::string> built;  // HEADER.FIELDS[.NOT] output

  // The section's bytes; valid while `raw` and this object live.
  std::string_view View(std::string_view raw) const {
    return built ? std::string_view(*built) : range.Of(raw);
  }
};

// Extracts `section`, the text between the brackets of BODY[...], e.g.
// "", "TEXT", "1.2", "1.2.MIME", "2.HEADER.FIELDS (From Subject)".
// Keywords are case-insensitive. `message` must come from
// ParseMessage(raw).
//
// Errors: kInvalid for syntax (bad number, unknown keyword, MIME without
// a part number, malformed field list); kNotFound for a part number the
// message does not have, or HEADER/TEXT on a part that is not a message.
Result<SectionData> ExtractSection(std::string_view raw, const Message& message,
                                   std::string_view section);

}  // namespace corvus::mime

#endif  // CORVUS_MIME_SECTION_H_
