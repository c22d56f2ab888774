// Mail addresses (local@domain): parsing, checking and normalising.
//
// The directory stores and compares every address in one normalised form,
// so that "Alice@Example.COM", "<alice@example.com>" and
// "\"alice\"@example.com" all name the same mailbox. The rules, chosen for
// a mail directory rather than for a general RFC 5322 parser:
//
//   - Surrounding ASCII whitespace is ignored, and so is one enclosing
//     pair of angle brackets (what an SMTP path or a pasted header gives).
//     Anything else outside the address (a display name, source routes,
//     comments) is rejected, not skipped.
//   - The local part is a dot-atom or a quoted string (RFC 5321 §4.1.2),
//     with UTF-8 allowed in both (RFC 6531 §3.3). A quoted string whose
//     content is also a valid dot-atom is written unquoted; otherwise it
//     stays quoted, with a backslash only before '"' and '\'.
//   - ASCII letters are lower-cased in both parts: look-ups are
//     case-insensitive. Non-ASCII letters are kept as given.
//   - The domain is a host name of LDH labels (RFC 5321 §4.1.2 "Domain"),
//     with at least two labels, except the single label "localhost".
//     Address literals ("[192.0.2.1]") are refused: a directory has no
//     mailboxes in them. A top-level label of digits only is refused, so
//     that an IPv4 address never passes for a domain.
//   - Limits (RFC 5321 §4.5.3.1): local part ≤ 64 octets, domain ≤ 253
//     octets (RFC 1035 §2.3.4 less the root dot), label ≤ 63 octets, whole
//     address ≤ 254 octets (a 256-octet path less its angle brackets).
//     Lengths are those of the normalised form.
//
// TODO(corvus): internationalised domains must be given in their A-label
// form ("xn--..."); U-labels are refused instead of converted (IDNA2008),
// and non-ASCII local parts are not case-folded. Costs: users of
// non-ASCII domains must type the punycode form in admin commands.
//
// Thread safety: pure functions, no shared state.
#ifndef CORVUS_DIRECTORY_ADDRESS_H_
#define CORVUS_DIRECTORY_ADDRESS_H_

#include <string>
#include <string_view>

#include "common/result.h"

namespace corvus {

struct NormalizedAddress {
  std::string local;    // normalised local part, quoted if it must be
  std::string domain;   // normalised domain, lower case
  std::string address;  // local + "@" + domain
  // True if the local part holds non-ASCII text, i.e. delivering to this
  // address needs SMTPUTF8 (RFC 6531).
  bool utf8 = false;
};

// Maximum lengths in octets of the normalised forms.
inline constexpr size_t kMaxLocalPartLength = 64;
inline constexpr size_t kMaxDomainLength = 253;
inline constexpr size_t kMaxLabelLength = 63;
inline constexpr size_t kMaxAddressLength = 254;

// Parses and normalises `text` as described at the top of this file.
// Returns kInvalid with a message naming the first problem found
// ("missing @", "empty local part", "domain label too long", ...).
Result<NormalizedAddress> NormalizeAddress(std::string_view text);

// Checks and lower-cases a bare domain name (no brackets, no whitespace
// trimming: a domain comes from a command argument, not a mail path).
// Returns kInvalid with the reason if it is not a host name as above.
Result<std::string> NormalizeDomain(std::string_view text);

// Returns the part after the last '@' of an already normalised address,
// or an empty view if there is none.
std::string_view DomainOfAddress(std::string_view normalized_address);

}  // namespace corvus

#endif  // CORVUS_DIRECTORY_ADDRESS_H_
