#include "mta/smtp/smtp_command.h"

#include <algorithm>

#include <arpa/inet.h>

#include <array>
#include <cstring>
#include <utility>
#include <vector>

namespace corvus::mta {
namespace {

// RFC 5321 §4.5.3.1.3: a path, brackets included, is at most 256 octets.
constexpr size_t kMaxPathLength = 256;
// RFC 5321 §4.5.3.1.2.
constexpr size_t kMaxDomainLength = 255;
// XQUEUEID (a Corvus LMTP extension) carries the sending queue's id.
constexpr size_t kMaxQueueIdLength = 64;
// RFC 3461 §4.4: ENVID is at most 100 characters; ORCPT §4.2 at most 500.
constexpr size_t kMaxEnvidLength = 100;
constexpr size_t kMaxOrcptLength = 500;
constexpr size_t kMaxVerbLength = 16;

SmtpReply Reply(int code, std::string_view enhanced, std::string_view text) {
  return SmtpReply{code, std::string(enhanced), std::string(text)};
}

char Upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

std::string ToUpper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = Upper(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Upper(a[i]) != Upper(b[i])) return false;
  }
  return true;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         EqualsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

bool IsAlpha(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsNonAscii(unsigned char c) { return c >= 0x80; }

// RFC 5322 atext, as RFC 5321 uses it for Dot-string.
bool IsAtext(unsigned char c) {
  return IsAlpha(c) || IsDigit(c) ||
         (c != 0 && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr);
}

std::string_view TrimSpaces(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

struct VerbName {
  std::string_view name;
  SmtpVerb verb;
};

constexpr std::array<VerbName, 15> kVerbs = {{
    {"HELO", SmtpVerb::kHelo},
    {"EHLO", SmtpVerb::kEhlo},
    {"LHLO", SmtpVerb::kLhlo},
    {"MAIL", SmtpVerb::kMail},
    {"RCPT", SmtpVerb::kRcpt},
    {"DATA", SmtpVerb::kData},
    {"BDAT", SmtpVerb::kBdat},
    {"RSET", SmtpVerb::kRset},
    {"NOOP", SmtpVerb::kNoop},
    {"QUIT", SmtpVerb::kQuit},
    {"HELP", SmtpVerb::kHelp},
    {"VRFY", SmtpVerb::kVrfy},
    {"EXPN", SmtpVerb::kExpn},
    {"STARTTLS", SmtpVerb::kStartTls},
    {"AUTH", SmtpVerb::kAuth},
}};

// Validates the domain part of a mailbox (or a source-route hop):
// dot-separated labels of letters, digits and inner hyphens, with UTF-8
// U-labels allowed when `utf8`.
bool IsValidDomain(std::string_view domain, bool utf8) {
  if (domain.empty() || domain.size() > kMaxDomainLength) return false;
  size_t start = 0;
  while (start <= domain.size()) {
    size_t dot = domain.find('.', start);
    if (dot == std::string_view::npos) dot = domain.size();
    std::string_view label = domain.substr(start, dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (unsigned char c : label) {
      bool ok = IsAlpha(c) || IsDigit(c) || c == '-' || (utf8 && IsNonAscii(c));
      if (!ok) return false;
    }
    start = dot + 1;
  }
  return true;
}

// Validates "[...]" per RFC 5321 §4.1.3: IPv4, "IPv6:" literal or a
// general literal "tag:content".
bool IsValidAddressLiteral(std::string_view literal) {
  if (literal.size() < 3 || literal.front() != '[' || literal.back() != ']') {
    return false;
  }
  std::string inner(literal.substr(1, literal.size() - 2));
  unsigned char buffer[16];
  if (StartsWithIgnoreCase(inner, "IPv6:")) {
    return inet_pton(AF_INET6, inner.c_str() + 5, buffer) == 1;
  }
  if (inet_pton(AF_INET, inner.c_str(), buffer) == 1) return true;

  // General-address-literal: Standardized-tag ":" 1*dcontent.
  size_t colon = inner.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == inner.size()) {
    return false;
  }
  for (size_t i = 0; i < colon; ++i) {
    unsigned char c = inner[i];
    if (!IsAlpha(c) && !IsDigit(c) && c != '-') return false;
  }
  for (size_t i = colon + 1; i < inner.size(); ++i) {
    unsigned char c = inner[i];
    if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']') return false;
  }
  return true;
}

// Validates a local part: Dot-string or Quoted-string (RFC 5321 §4.1.2),
// extended with UTF-8 when `utf8` (RFC 6531 §3.3).
bool IsValidLocalPart(std::string_view local, bool utf8) {
  if (local.empty()) return false;
  if (local.front() == '"') {
    if (local.size() < 2 || local.back() != '"') return false;
    for (size_t i = 1; i + 1 < local.size(); ++i) {
      unsigned char c = local[i];
      if (c == '\\') {
        // quoted-pairSMTP = %d92 %d32-126
        if (i + 2 >= local.size()) return false;
        unsigned char next = local[++i];
        if (next < 32 || next > 126) return false;
        continue;
      }
      bool ok = (c >= 32 && c <= 126 && c != '"') || (utf8 && IsNonAscii(c));
      if (!ok) return false;
    }
    return true;
  }
  if (local.front() == '.' || local.back() == '.') return false;
  for (size_t i = 0; i < local.size(); ++i) {
    unsigned char c = local[i];
    if (c == '.') {
      if (local[i + 1] == '.') return false;
      continue;
    }
    if (!IsAtext(c) && !(utf8 && IsNonAscii(c))) return false;
  }
  return true;
}

// Returns the index of the '>' that closes the path starting at `text[0]`
// ('<'), skipping quoted strings; npos if there is none.
size_t FindPathEnd(std::string_view text) {
  bool quoted = false;
  for (size_t i = 1; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
    } else if (c == '>') {
      return i;
    }
  }
  return std::string_view::npos;
}

// Finds the '@' that separates local part and domain: the last one outside
// a quoted local part.
size_t FindDomainSeparator(std::string_view mailbox) {
  if (!mailbox.empty() && mailbox.front() == '"') {
    size_t i = 1;
    while (i < mailbox.size() && mailbox[i] != '"') {
      i += (mailbox[i] == '\\') ? 2 : 1;
    }
    if (i >= mailbox.size()) return std::string_view::npos;
    return (i + 1 < mailbox.size() && mailbox[i + 1] == '@')
               ? i + 1
               : std::string_view::npos;
  }
  return mailbox.find('@');
}

enum class PathKind { kReversePath, kForwardPath };

// Parses the text between the brackets of a path.
SmtpResult<SmtpPath> ParsePathBody(std::string_view body, PathKind kind,
                                   bool utf8) {
  const SmtpReply bad =
      kind == PathKind::kReversePath
          ? Reply(501, "5.1.7", "Bad sender address syntax")
          : Reply(501, "5.1.3", "Bad recipient address syntax");
  SmtpPath path;
  if (body.empty()) {
    if (kind == PathKind::kForwardPath) {
      return std::unexpected(
          Reply(501, "5.1.3", "Null path is not a valid recipient"));
    }
    return path;
  }

  // RFC 5321 §4.1.2 / appendix C: accept a source route, then ignore it.
  if (body.front() == '@') {
    size_t colon = body.find(':');
    if (colon == std::string_view::npos) return std::unexpected(bad);
    std::string_view route = body.substr(0, colon);
    size_t start = 0;
    while (start < route.size()) {
      size_t comma = route.find(',', start);
      if (comma == std::string_view::npos) comma = route.size();
      std::string_view hop = route.substr(start, comma - start);
      if (hop.size() < 2 || hop.front() != '@' ||
          !IsValidDomain(hop.substr(1), utf8)) {
        return std::unexpected(bad);
      }
      start = comma + 1;
    }
    body.remove_prefix(colon + 1);
  }

  bool has_utf8 = false;
  for (unsigned char c : body) has_utf8 |= IsNonAscii(c);
  if (has_utf8 && !utf8) {
    // RFC 6531 §3.5: without SMTPUTF8 the server must not accept it.
    return std::unexpected(
        Reply(553, "5.6.7", "Non-ASCII address needs the SMTPUTF8 parameter"));
  }
  if (has_utf8 && !IsValidUtf8(body)) return std::unexpected(bad);

  // RFC 5321 §4.1.1.3: <postmaster> without a domain must be accepted.
  if (kind == PathKind::kForwardPath && EqualsIgnoreCase(body, "postmaster")) {
    path.mailbox = std::string(body);
    path.local_part = path.mailbox;
    return path;
  }

  size_t at = FindDomainSeparator(body);
  if (at == std::string_view::npos) return std::unexpected(bad);
  std::string_view local = body.substr(0, at);
  std::string_view domain = body.substr(at + 1);
  if (!IsValidLocalPart(local, utf8)) return std::unexpected(bad);
  bool domain_ok = (!domain.empty() && domain.front() == '[')
                       ? IsValidAddressLiteral(domain)
                       : IsValidDomain(domain, utf8);
  if (!domain_ok) return std::unexpected(bad);

  path.mailbox = std::string(body);
  path.local_part = std::string(local);
  path.domain = std::string(domain);
  path.has_utf8 = has_utf8;
  return path;
}

// Splits "<path> params" into the path body and the parameter text.
struct PathAndRest {
  std::string_view body;
  std::string_view rest;
};

SmtpResult<PathAndRest> SplitPath(std::string_view text, PathKind kind) {
  const SmtpReply bad =
      kind == PathKind::kReversePath
          ? Reply(501, "5.1.7", "Bad sender address syntax")
          : Reply(501, "5.1.3", "Bad recipient address syntax");
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  if (text.empty() || text.front() != '<') {
    return std::unexpected(
        Reply(501, "5.5.4", "Address must be enclosed in <>"));
  }
  size_t end = FindPathEnd(text);
  if (end == std::string_view::npos) return std::unexpected(bad);
  if (end + 1 > kMaxPathLength) {
    return std::unexpected(
        Reply(501, kind == PathKind::kReversePath ? "5.1.7" : "5.1.3",
              "Address too long"));
  }
  std::string_view rest = text.substr(end + 1);
  if (!rest.empty() && rest.front() != ' ') return std::unexpected(bad);
  return PathAndRest{text.substr(1, end - 1), TrimSpaces(rest)};
}

struct Parameter {
  std::string keyword;  // upper-cased
  std::optional<std::string_view> value;
};

// Splits "KEY=value KEY2" into parameters (RFC 5321 §4.1.2 esmtp-param).
SmtpResult<std::vector<Parameter>> SplitParameters(std::string_view text,
                                                   bool utf8) {
  std::vector<Parameter> out;
  const SmtpReply bad = Reply(501, "5.5.4", "Malformed parameter");
  while (!text.empty()) {
    size_t space = text.find(' ');
    std::string_view item = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view()
                                           : TrimSpaces(text.substr(space));
    size_t eq = item.find('=');
    std::string_view key = item.substr(0, eq);
    if (key.empty() || !(IsAlpha(key[0]) || IsDigit(key[0]))) {
      return std::unexpected(bad);
    }
    for (unsigned char c : key) {
      if (!IsAlpha(c) && !IsDigit(c) && c != '-') return std::unexpected(bad);
    }
    Parameter parameter{ToUpper(key), std::nullopt};
    if (eq != std::string_view::npos) {
      std::string_view value = item.substr(eq + 1);
      if (value.empty()) return std::unexpected(bad);
      for (unsigned char c : value) {
        bool ok = (c >= 33 && c <= 126 && c != '=') || (utf8 && c >= 0x80);
        if (!ok) return std::unexpected(bad);
      }
      if (utf8 && !IsValidUtf8(value)) return std::unexpected(bad);
      parameter.value = value;
    }
    for (const Parameter& seen : out) {
      if (seen.keyword == parameter.keyword) {
        return std::unexpected(Reply(501, "5.5.4", "Duplicate parameter"));
      }
    }
    out.push_back(std::move(parameter));
  }
  return out;
}

// RFC 3461 §4: xtext = *( xchar / hexchar ), hexchar = "+" 2HEXDIG.
bool IsValidXtext(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = text[i];
    if (c == '+') {
      if (i + 2 >= text.size()) return false;
      for (size_t k = 1; k <= 2; ++k) {
        unsigned char h = text[i + k];
        bool hex = IsDigit(h) || (h >= 'A' && h <= 'F');
        if (!hex) return false;
      }
      i += 2;
      continue;
    }
    if (c < 33 || c > 126 || c == '=') return false;
  }
  return true;
}

SmtpReply Unsupported(std::string_view keyword) {
  return Reply(555, "5.5.4", "Unsupported parameter " + std::string(keyword));
}

SmtpReply BadValue(std::string_view keyword) {
  return Reply(501, "5.5.4", "Bad value for " + std::string(keyword));
}

SmtpResult<uint64_t> ParseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 19) {
    return std::unexpected(Reply(501, "5.5.4", "Bad number"));
  }
  uint64_t value = 0;
  for (char c : text) {
    if (!IsDigit(c)) return std::unexpected(Reply(501, "5.5.4", "Bad number"));
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

// Applies one MAIL parameter to `params`.
std::optional<SmtpReply> ApplyMailParameter(const Parameter& p,
                                            MailParameters& params) {
  const std::string_view value = p.value.value_or("");
  if (p.keyword == "SIZE") {
    auto size = ParseDecimal(value);
    if (!size) return BadValue(p.keyword);
    params.size = *size;
  } else if (p.keyword == "BODY") {
    if (EqualsIgnoreCase(value, "7BIT")) {
      params.body = BodyType::k7Bit;
    } else if (EqualsIgnoreCase(value, "8BITMIME")) {
      params.body = BodyType::k8BitMime;
    } else {
      return BadValue(p.keyword);
    }
  } else if (p.keyword == "SMTPUTF8") {
    if (p.value) return BadValue(p.keyword);
    params.smtputf8 = true;
  } else if (p.keyword == "RET") {
    if (!EqualsIgnoreCase(value, "FULL") && !EqualsIgnoreCase(value, "HDRS")) {
      return BadValue(p.keyword);
    }
    params.ret = ToUpper(value);
  } else if (p.keyword == "ENVID") {
    if (value.empty() || value.size() > kMaxEnvidLength ||
        !IsValidXtext(value)) {
      return BadValue(p.keyword);
    }
    params.envid = std::string(value);
  } else if (p.keyword == "AUTH") {
    if (value.empty() || (value != "<>" && !IsValidXtext(value))) {
      return BadValue(p.keyword);
    }
    params.auth = std::string(value);
  } else if (p.keyword == "XQUEUEID") {
    if (value.empty() || value.size() > kMaxQueueIdLength ||
        !std::all_of(value.begin(), value.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c));
        })) {
      return BadValue(p.keyword);
    }
    params.xqueueid = std::string(value);
  } else {
    return Unsupported(p.keyword);
  }
  return std::nullopt;
}

// Validates NOTIFY=: "NEVER" or a comma list of SUCCESS, FAILURE, DELAY.
bool IsValidNotify(std::string_view value) {
  if (EqualsIgnoreCase(value, "NEVER")) return true;
  if (value.empty()) return false;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view item = value.substr(start, comma - start);
    if (!EqualsIgnoreCase(item, "SUCCESS") &&
        !EqualsIgnoreCase(item, "FAILURE") &&
        !EqualsIgnoreCase(item, "DELAY")) {
      return false;
    }
    start = comma + 1;
  }
  return true;
}

std::optional<SmtpReply> ApplyRcptParameter(const Parameter& p,
                                            RcptParameters& params) {
  const std::string_view value = p.value.value_or("");
  if (p.keyword == "NOTIFY") {
    if (!IsValidNotify(value)) return BadValue(p.keyword);
    params.notify = ToUpper(value);
  } else if (p.keyword == "ORCPT") {
    size_t semi = value.find(';');
    if (semi == std::string_view::npos || semi == 0 ||
        semi + 1 == value.size() || value.size() > kMaxOrcptLength) {
      return BadValue(p.keyword);
    }
    params.orcpt = std::string(value);
  } else {
    return Unsupported(p.keyword);
  }
  return std::nullopt;
}

// True if the parameter text names SMTPUTF8 as a keyword; needed before
// the path is checked, because the path may only be UTF-8 with it.
bool MentionsSmtpUtf8(std::string_view params) {
  size_t start = 0;
  while (start < params.size()) {
    size_t space = params.find(' ', start);
    if (space == std::string_view::npos) space = params.size();
    if (EqualsIgnoreCase(params.substr(start, space - start), "SMTPUTF8")) {
      return true;
    }
    start = space + 1;
  }
  return false;
}

}  // namespace

std::string SmtpReply::Format() const {
  std::string out = std::to_string(code);
  out += ' ';
  if (!enhanced.empty()) {
    out += enhanced;
    out += ' ';
  }
  out += text;
  out += "\r\n";
  return out;
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = text[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code = 0;
    uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      length = 2, code = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3, code = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4, code = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      unsigned char next = text[i + k];
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    if (code < min || code > 0x10FFFF) return false;
    if (code >= 0xD800 && code <= 0xDFFF) return false;
    i += length;
  }
  return true;
}

SmtpResult<SmtpCommand> ParseSmtpCommand(std::string_view line) {
  if (line.find('\0') != std::string_view::npos) {
    return std::unexpected(
        Reply(500, "5.5.2", "NUL bytes are not allowed in commands"));
  }
  // A CR inside a command line is a smuggling attempt or a broken client;
  // either way it must not reach a parser that might treat it as a break.
  if (line.find('\r') != std::string_view::npos ||
      line.find('\n') != std::string_view::npos) {
    return std::unexpected(
        Reply(500, "5.5.2", "Bare CR or LF is not allowed in commands"));
  }
  line = TrimSpaces(line);
  if (line.empty()) {
    return std::unexpected(Reply(500, "5.5.2", "Empty command"));
  }

  size_t space = line.find(' ');
  std::string_view verb = line.substr(0, space);
  if (verb.size() > kMaxVerbLength) {
    return std::unexpected(Reply(500, "5.5.2", "Command unrecognized"));
  }
  for (unsigned char c : verb) {
    if (!IsAlpha(c)) {
      return std::unexpected(Reply(500, "5.5.2", "Command unrecognized"));
    }
  }

  SmtpCommand command;
  command.name = ToUpper(verb);
  for (const VerbName& known : kVerbs) {
    if (known.name == command.name) command.verb = known.verb;
  }
  if (space != std::string_view::npos) {
    command.argument = std::string(TrimSpaces(line.substr(space)));
  }
  return command;
}

SmtpResult<MailFrom> ParseMailFrom(std::string_view argument) {
  if (!StartsWithIgnoreCase(argument, "FROM:")) {
    return std::unexpected(
        Reply(501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]"));
  }
  auto split = SplitPath(argument.substr(5), PathKind::kReversePath);
  if (!split) return std::unexpected(split.error());

  bool utf8 = MentionsSmtpUtf8(split->rest);
  auto parameters = SplitParameters(split->rest, utf8);
  if (!parameters) return std::unexpected(parameters.error());
  MailFrom mail;
  for (const Parameter& p : *parameters) {
    if (auto error = ApplyMailParameter(p, mail.parameters)) {
      return std::unexpected(*error);
    }
  }
  mail.parameters.any = !parameters->empty();

  auto path = ParsePathBody(split->body, PathKind::kReversePath, utf8);
  if (!path) return std::unexpected(path.error());
  mail.path = std::move(*path);
  return mail;
}

SmtpResult<RcptTo> ParseRcptTo(std::string_view argument, bool smtputf8) {
  if (!StartsWithIgnoreCase(argument, "TO:")) {
    return std::unexpected(
        Reply(501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]"));
  }
  auto split = SplitPath(argument.substr(3), PathKind::kForwardPath);
  if (!split) return std::unexpected(split.error());

  auto parameters = SplitParameters(split->rest, smtputf8);
  if (!parameters) return std::unexpected(parameters.error());
  RcptTo rcpt;
  for (const Parameter& p : *parameters) {
    if (auto error = ApplyRcptParameter(p, rcpt.parameters)) {
      return std::unexpected(*error);
    }
  }
  rcpt.parameters.any = !parameters->empty();

  auto path = ParsePathBody(split->body, PathKind::kForwardPath, smtputf8);
  if (!path) return std::unexpected(path.error());
  rcpt.path = std::move(*path);
  return rcpt;
}

SmtpResult<BdatArguments> ParseBdat(std::string_view argument) {
  const SmtpReply bad = Reply(501, "5.5.4", "Syntax: BDAT size [LAST]");
  argument = TrimSpaces(argument);
  size_t space = argument.find(' ');
  auto size = ParseDecimal(argument.substr(0, space));
  if (!size) return std::unexpected(bad);
  BdatArguments out{*size, false};
  if (space != std::string_view::npos) {
    if (!EqualsIgnoreCase(TrimSpaces(argument.substr(space)), "LAST")) {
      return std::unexpected(bad);
    }
    out.last = true;
  }
  return out;
}

SmtpResult<std::string> ParseHeloArgument(std::string_view argument) {
  argument = TrimSpaces(argument);
  if (argument.empty()) {
    return std::unexpected(Reply(501, "5.5.4", "Syntax: EHLO hostname"));
  }
  for (unsigned char c : argument) {
    if (c <= ' ' || c == 0x7F) {
      return std::unexpected(Reply(501, "5.5.2", "Invalid hostname"));
    }
  }
  return std::string(argument);
}

}  // namespace corvus::mta
