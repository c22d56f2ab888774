// RFC 5322 §3.4 address lists, parsed into the IMAP ENVELOPE address
// form (RFC 3501 §7.4.2): display name, source route, mailbox, host, with
// group syntax kept as start/end markers.
//
// Names stay as written (RFC 2047 encoded words are not decoded; IMAP
// clients decode them). The parser is tolerant: it never fails, always
// makes progress, and turns garbage into the closest sensible address.
//
// Thread safety: pure functions.
#ifndef CORVUS_MIME_ADDRESS_H_
#define CORVUS_MIME_ADDRESS_H_

#include <string>
#include <string_view>
#include <vector>

namespace corvus::mime {

// Host written for an address without "@domain", as other IMAP servers
// do, so that clients never mistake it for group syntax (host NIL).
inline constexpr std::string_view kMissingHost = ".MISSING-HOST-NAME.";

struct Address {
  enum class Kind {
    kMailbox,     // name route mailbox host
    kGroupStart,  // mailbox holds the group's display name
    kGroupEnd,    // all fields empty
  };
  Kind kind = Kind::kMailbox;
  std::string name;     // display name; empty renders as NIL
  std::string route;    // obsolete "@a,@b" source route; empty is NIL
  std::string mailbox;  // local part (quoted strings unquoted)
  std::string host;     // domain

  bool operator==(const Address&) const = default;
};

// Parses an unfolded or folded address-list header value. Returns an
// empty list for an empty value. Groups left open are closed.
std::vector<Address> ParseAddressList(std::string_view value);

}  // namespace corvus::mime

#endif  // CORVUS_MIME_ADDRESS_H_
