// Helpers shared by the corvus_mime unit tests.
//
// Thread safety: pure functions.
#ifndef CORVUS_MIME_TEST_UTIL_H_
#define CORVUS_MIME_TEST_UTIL_H_

#include <string>
#include <string_view>

#include "mime/message.h"

namespace corvus::mime::testing {

// Returns `text` with every LF turned into CRLF, so tests can be written
// as readable string literals and still hold wire-format mail.
inline std::string Crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// Renders the tree as "multipart/mixed[text/plain,message/rfc822[...]]".
inline std::string Shape(const Part& part) {
  std::string out = part.type + "/" + part.subtype;
  if (part.children.empty()) return out;
  out += '[';
  for (size_t i = 0; i < part.children.size(); ++i) {
    if (i > 0) out += ',';
    out += Shape(part.children[i]);
  }
  out += ']';
  return out;
}

}  // namespace corvus::mime::testing

#endif  // CORVUS_MIME_TEST_UTIL_H_
