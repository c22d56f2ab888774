// MIME message structure for IMAP: a part tree whose every node records
// the byte ranges of its header and body inside the stored message.
//
// IMAP serves BODY[section] by slicing the original bytes with these
// ranges (never by re-serialising), and renders ENVELOPE and
// BODYSTRUCTURE (imap_render.h) from the fields parsed here. The mailbox
// store computes both once, at delivery.
//
// Real mail is broken, and some of it is hostile. ParseMessage accepts
// any byte string, never fails, and bounds its work: nesting deeper than
// kMaxDepth or more than kMaxParts parts turns the rest into opaque
// application/octet-stream leaves (still sliceable), and every scan is
// linear in the bytes of its part, so total work is O(depth * size).
//
// Line endings: CRLF and bare LF are both accepted; a bare CR is data.
//
// Thread safety: ParseMessage is a pure function; a Message is an
// immutable value once built and may be shared between threads.
#ifndef CORVUS_MIME_MESSAGE_H_
#define CORVUS_MIME_MESSAGE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/address.h"
#include "mime/header.h"

namespace corvus::mime {

// Nesting (multipart and message/rfc822 levels) past which parts are not
// descended into. Deeper real mail does not exist; deeper input is an
// attack on stack or time.
inline constexpr int kMaxDepth = 50;

// Parts per message past which the rest of a multipart is not split.
inline constexpr size_t kMaxParts = 5000;

// [offset, offset + length) in the raw message.
struct ByteRange {
  size_t offset = 0;
  size_t length = 0;

  size_t end() const { return offset + length; }
  std::string_view Of(std::string_view raw) const {
    return raw.substr(offset, length);
  }
  bool operator==(const ByteRange&) const = default;
};

// The IMAP ENVELOPE fields of one message (RFC 3501 §7.4.2). Strings are
// unfolded header values, as written (encoded words are not decoded).
// Absent fields are nullopt (NIL). Sender and Reply-To are already
// defaulted to From as the RFC requires of the server.
struct Envelope {
  std::optional<std::string> date;
  std::optional<std::string> subject;
  std::vector<Address> from;
  std::vector<Address> sender;
  std::vector<Address> reply_to;
  std::vector<Address> to;
  std::vector<Address> cc;
  std::vector<Address> bcc;
  std::optional<std::string> in_reply_to;
  std::optional<std::string> message_id;
};

// One MIME entity. For a message (the root, or the child of a
// message/rfc822 part) `header` is the message header and `envelope` is
// set.
struct Part {
  // The header block including the empty line that ends it (IMAP
  // HEADER/MIME), and the body after it (IMAP TEXT, or the part itself).
  // Inside a multipart, the body excludes the line break that belongs to
  // the next boundary (RFC 2046 §5.1.1).
  ByteRange header;
  ByteRange body;

  // Content-Type, lower-cased; text/plain when absent or invalid
  // (RFC 2045 §5.2), message/rfc822 inside multipart/digest (RFC 2046
  // §5.1.5). `has_content_type` tells whether the header said so.
  std::string type = "text";
  std::string subtype = "plain";
  std::vector<Param> params;
  bool has_content_type = false;

  std::optional<std::string> id;           // Content-ID
  std::optional<std::string> description;  // Content-Description
  std::optional<std::string> encoding;     // Content-Transfer-Encoding
  std::optional<std::string> md5;          // Content-MD5
  std::optional<std::string> disposition;  // Content-Disposition token
  std::vector<Param> disposition_params;
  std::vector<std::string> languages;   // Content-Language tags
  std::optional<std::string> location;  // Content-Location

  // Lines in the body: LF count, plus one for an unterminated last line.
  size_t body_lines = 0;

  // Multipart: its parts, in order (never empty: a multipart with no
  // boundary found gets one text/plain part spanning its body).
  // message/rfc822 or message/global: exactly one child, the message.
  std::vector<Part> children;
  std::optional<Envelope> envelope;

  // True when limits stopped the parser from descending into this part;
  // its type then reads application/octet-stream.
  bool flattened = false;

  bool IsMultipart() const { return type == "multipart" && !children.empty(); }
  bool IsMessage() const {
    return type == "message" && children.size() == 1 &&
           children[0].envelope.has_value();
  }
  bool IsText() const { return type == "text"; }

  // Returns the value of Content-Type parameter `name` (case-insensitive
  // name match), if present.
  std::optional<std::string_view> FindParam(std::string_view name) const;
};

struct Message {
  Part root;               // header = message header; envelope is set
  size_t part_count = 0;   // all parts, the root included
  bool truncated = false;  // a limit was hit somewhere
};

// TODO(corvus): a Message has no compact serialised form yet, so the store
// can cache the rendered ENVELOPE/BODYSTRUCTURE strings but must re-parse
// the blob (O(size)) to serve each BODY[section] fetch.
// TODO(corvus): a bare CR is not a line break; mail with CR-only line
// endings parses as one long header line (Python splits it).
//
// Parses `raw` into a part tree. Never fails. The tree holds offsets into
// `raw`, not views; keep the same bytes to slice sections later.
Message ParseMessage(std::string_view raw);

// Builds the envelope of a message header block.
Envelope ParseEnvelope(std::string_view header);

// The message header block of `raw` (the empty line that ends it
// included): exactly ParseMessage(raw).root.header, found without
// parsing anything else. Always starts at offset 0.
ByteRange MessageHeaderRange(std::string_view raw);

}  // namespace corvus::mime

#endif  // CORVUS_MIME_MESSAGE_H_
