#include "directory/address.h"

#include <algorithm>

namespace corvus {
namespace {

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

// RFC 5322 §3.2.3 atext, ASCII part.
bool IsAtext(char c) {
  if (IsAlnum(c)) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) !=
         std::string_view::npos;
}

// RFC 5321 §4.1.2 qtextSMTP: printable ASCII except '"' and '\'.
bool IsQtext(char c) { return c >= 32 && c <= 126 && c != '"' && c != '\\'; }

// Length of the well-formed UTF-8 sequence (RFC 3629 §4) that starts with
// a non-ASCII byte at text[i], or 0 if it is malformed: a stray
// continuation byte, an overlong form, a surrogate or a code point above
// U+10FFFF. RFC 6531 §3.3 admits only well-formed UTF-8 in addresses.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) {
    return static_cast<unsigned char>(text[k]);
  };
  const unsigned char lead = byte(i);
  size_t length = 0;
  unsigned char min_second = 0x80, max_second = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) min_second = 0xA0;  // overlong
    if (lead == 0xED) max_second = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) min_second = 0x90;  // overlong
    if (lead == 0xF4) max_second = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < min_second || byte(i + 1) > max_second) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

// Checks that `text` (an unquoted local part, already lower-cased) is a
// dot-atom. Returns an empty string if it is, else the reason it is not.
std::string DotAtomProblem(std::string_view text) {
  if (text.empty()) return "empty local part";
  if (text.front() == '.') return "local part starts with a dot";
  if (text.back() == '.') return "local part ends with a dot";
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '.' && text[i + 1] == '.') {
      return "two dots in a row in local part";
    }
    if (static_cast<unsigned char>(c) >= 0x80) {
      const size_t length = Utf8SequenceLength(text, i);
      if (length == 0) return "malformed UTF-8 in local part";
      i += length;
      continue;
    }
    if (c != '.' && !IsAtext(c)) return "invalid character in local part";
    ++i;
  }
  return "";
}

// Reads the quoted string that opens `text` (text[0] == '"'). On success
// stores its unescaped, lower-cased content in `content` and the number
// of bytes consumed (quotes included) in `consumed`.
Status ReadQuotedLocalPart(std::string_view text, std::string& content,
                           size_t& consumed) {
  for (size_t i = 1; i < text.size();) {
    const char c = text[i];
    if (c == '"') {
      consumed = i + 1;
      return {};
    }
    // RFC 5321 §4.1.2: quoted-pairSMTP is '\' followed by printable ASCII
    // or space; nothing else may be escaped.
    if (c == '\\') {
      if (i + 1 >= text.size()) break;
      const char escaped = text[i + 1];
      if (escaped < 32 || escaped > 126) {
        return Fail(ErrorCode::kInvalid, "invalid quoted pair in local part");
      }
      content.push_back(AsciiLower(escaped));
      i += 2;
      continue;
    }
    if (static_cast<unsigned char>(c) >= 0x80) {
      const size_t length = Utf8SequenceLength(text, i);
      if (length == 0) {
        return Fail(ErrorCode::kInvalid, "malformed UTF-8 in local part");
      }
      content.append(text.substr(i, length));
      i += length;
      continue;
    }
    if (!IsQtext(c)) {
      return Fail(ErrorCode::kInvalid,
                  "invalid character in quoted local part");
    }
    content.push_back(AsciiLower(c));
    ++i;
  }
  return Fail(ErrorCode::kInvalid, "unterminated quoted local part");
}

// Writes a local part in its canonical form: bare if it is a dot-atom
// (RFC 5321 §4.1.2 asks senders not to quote what needs no quoting),
// otherwise quoted with the fewest backslashes.
std::string CanonicalLocalPart(const std::string& content) {
  if (DotAtomProblem(content).empty()) return content;
  std::string quoted = "\"";
  for (const char c : content) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

bool HasNonAscii(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x80;
  });
}

// Removes surrounding whitespace and one pair of enclosing angle brackets.
Result<std::string_view> StripEnvelope(std::string_view text) {
  while (!text.empty() && IsAsciiSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsAsciiSpace(text.back())) text.remove_suffix(1);

  const bool opens = !text.empty() && text.front() == '<';
  const bool closes = !text.empty() && text.back() == '>';
  if (opens != closes || (opens && text.size() == 1)) {
    return Fail(ErrorCode::kInvalid, "unbalanced angle brackets");
  }
  if (opens) text = text.substr(1, text.size() - 2);
  if (text.empty()) return Fail(ErrorCode::kInvalid, "empty address");
  return text;
}

}  // namespace

Result<std::string> NormalizeDomain(std::string_view text) {
  if (text.empty()) return Fail(ErrorCode::kInvalid, "empty domain");
  if (text.front() == '[') {
    return Fail(ErrorCode::kInvalid, "address literals are not supported");
  }
  if (HasNonAscii(text)) {
    return Fail(ErrorCode::kInvalid,
                "non-ASCII domain; give it in A-label (xn--) form");
  }
  if (text.size() > kMaxDomainLength) {
    return Fail(ErrorCode::kInvalid, "domain too long");
  }
  if (text.back() == '.') {
    return Fail(ErrorCode::kInvalid, "domain ends with a dot");
  }

  // RFC 5321 §4.1.2: sub-domain = Let-dig [Ldh-str]; labels are letters,
  // digits and inner hyphens.
  std::string domain;
  domain.reserve(text.size());
  size_t labels = 0;
  std::string_view last_label;
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find('.', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view label = text.substr(start, end - start);
    if (label.empty()) return Fail(ErrorCode::kInvalid, "empty domain label");
    if (label.size() > kMaxLabelLength) {
      return Fail(ErrorCode::kInvalid, "domain label too long");
    }
    for (const char c : label) {
      if (!IsAlnum(c) && c != '-') {
        return Fail(ErrorCode::kInvalid, "invalid character in domain");
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return Fail(ErrorCode::kInvalid,
                  "domain label starts or ends with a hyphen");
    }
    ++labels;
    last_label = label;
    start = end + 1;
  }
  for (const char c : text) domain.push_back(AsciiLower(c));

  if (labels == 1 && domain != "localhost") {
    return Fail(ErrorCode::kInvalid, "domain needs at least two labels");
  }
  if (std::all_of(last_label.begin(), last_label.end(),
                  [](char c) { return c >= '0' && c <= '9'; })) {
    return Fail(ErrorCode::kInvalid, "top-level domain label is numeric");
  }
  return domain;
}

Result<NormalizedAddress> NormalizeAddress(std::string_view text) {
  auto stripped = StripEnvelope(text);
  if (!stripped) return Fail(stripped.error());
  text = *stripped;

  // The local part: a quoted string may itself hold '@', so it is read
  // to its closing quote; a dot-atom never holds one.
  std::string content;
  size_t local_end = 0;
  if (text.front() == '"') {
    if (auto status = ReadQuotedLocalPart(text, content, local_end); !status) {
      return Fail(status.error());
    }
    if (local_end >= text.size()) {
      return Fail(ErrorCode::kInvalid, "missing @");
    }
    if (text[local_end] != '@') {
      return Fail(ErrorCode::kInvalid, "text after quoted local part");
    }
    if (content.empty()) return Fail(ErrorCode::kInvalid, "empty local part");
  } else {
    local_end = text.find('@');
    if (local_end == std::string_view::npos) {
      return Fail(ErrorCode::kInvalid, "missing @");
    }
    for (const char c : text.substr(0, local_end)) {
      content.push_back(AsciiLower(c));
    }
    if (std::string problem = DotAtomProblem(content); !problem.empty()) {
      return Fail(ErrorCode::kInvalid, std::move(problem));
    }
  }

  NormalizedAddress out;
  out.local = CanonicalLocalPart(content);
  if (out.local.size() > kMaxLocalPartLength) {
    return Fail(ErrorCode::kInvalid, "local part too long");
  }
  auto domain = NormalizeDomain(text.substr(local_end + 1));
  if (!domain) return Fail(domain.error());
  out.domain = std::move(*domain);
  out.address = out.local + "@" + out.domain;
  if (out.address.size() > kMaxAddressLength) {
    return Fail(ErrorCode::kInvalid, "address too long");
  }
  out.utf8 = HasNonAscii(out.local);
  return out;
}

std::string_view DomainOfAddress(std::string_view normalized_address) {
  const size_t at = normalized_address.rfind('@');
  if (at == std::string_view::npos) return {};
  return normalized_address.substr(at + 1);
}

}  // namespace corvus
