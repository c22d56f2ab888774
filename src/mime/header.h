// Header-field primitives for MIME parsing (RFC 5322 §2.2, RFC 2045 §5).
//
// Splits a header block into fields with their exact byte positions (so
// IMAP HEADER.FIELDS can be served from the stored bytes), unfolds
// values, and parses the "token; name=value" shape shared by
// Content-Type and Content-Disposition. Every function accepts any byte
// string, including broken mail, and works in linear time.
//
// Thread safety: pure functions over caller-owned data.
#ifndef CORVUS_MIME_HEADER_H_
#define CORVUS_MIME_HEADER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corvus::mime {

// One header field as it appears in a header block.
struct HeaderField {
  std::string_view name;   // as written, without trailing white space
  std::string_view value;  // raw, after the colon, folds and CRs kept
  size_t begin = 0;        // offset of the field's first byte in the block
  size_t end = 0;          // offset just past its last line's LF (or end)
};

// A MIME parameter. Names keep the case of the message; values are
// unquoted but otherwise raw (RFC 2047/2231 encodings are not decoded).
struct Param {
  std::string name;
  std::string value;
};

// "type/subtype; a=b" or "attachment; filename=x" split into its parts.
struct TypedValue {
  std::string token;  // text before the first ';', comments and spaces removed
  std::vector<Param> params;
};

// Returns true if `line` (without its line ending) may appear inside a
// header block: a field ("name:" with printable name, optional white
// space before the colon), a continuation (starts with SP or HTAB), or an
// mbox "From " separator line. Anything else ends the header.
bool IsHeaderLine(std::string_view line);

// Splits a header block (as delimited by the parser, possibly including
// the empty line that ends it) into fields. Continuation lines belong to
// the field above them; stray continuations and "From " lines are
// skipped. Stops at the first empty line.
std::vector<HeaderField> SplitHeader(std::string_view header);

// Returns the first field named `name` (ASCII case-insensitive), if any.
std::optional<std::string_view> FindField(
    const std::vector<HeaderField>& fields, std::string_view name);

// Returns `value` with CR and LF removed (RFC 5322 §2.2.3 unfolding) and
// leading/trailing SP/HTAB trimmed.
std::string Unfold(std::string_view value);

// Returns `value` unfolded, with RFC 5322 comments removed outside
// quoted strings and then all SP/HTAB outside quoted strings dropped.
// Used for tokens such as Content-Transfer-Encoding.
std::string StripComments(std::string_view value);

// Parses "token *(; name=value)". Never fails: malformed parameters are
// skipped, an unterminated quoted string runs to the end of the value.
TypedValue ParseTypedValue(std::string_view value);

// Returns the value of parameter `name` for structural use (a boundary,
// a charset): the plain form if present, else the RFC 2231 extended form
// (name*=charset'lang'%xx) or continuations (name*0, name*1*, ...),
// percent-decoded and joined, charset ignored. nullopt if absent.
std::optional<std::string> ResolveParam(const std::vector<Param>& params,
                                        std::string_view name);

// ASCII case-insensitive equality.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Returns `s` with ASCII letters lower-cased.
std::string AsciiLower(std::string_view s);

}  // namespace corvus::mime

#endif  // CORVUS_MIME_HEADER_H_
