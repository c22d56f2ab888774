// IMAP ENVELOPE / BODYSTRUCTURE rendering; see imap_render.h.
#include "mime/imap_render.h"

#include <vector>

namespace corvus::mime {
namespace {

// RFC 3501 §9: a quoted string holds 7-bit TEXT-CHARs only (no CR, LF or
// NUL); anything else must be sent as a literal.
bool NeedsLiteral(std::string_view s) {
  for (unsigned char c : s) {
    if (c == '\r' || c == '\n' || c >= 0x80) return true;
  }
  return false;
}

void AppendString(std::string& out, std::string_view value) {
  std::string clean(value);
  for (char& c : clean) {
    if (c == '\0') c = ' ';
  }
  if (NeedsLiteral(clean)) {
    out += '{';
    out += std::to_string(clean.size());
    out += "}\r\n";
    out += clean;
    return;
  }
  out += '"';
  for (char c : clean) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void AppendNilOr(std::string& out, const std::string& s) {
  AppendImapString(
      out, s.empty() ? std::nullopt : std::optional<std::string_view>(s));
}

void AppendAddresses(std::string& out, const std::vector<Address>& list) {
  if (list.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (const Address& a : list) {
    out += '(';
    switch (a.kind) {
      case Address::Kind::kMailbox:
        AppendNilOr(out, a.name);
        out += ' ';
        AppendNilOr(out, a.route);
        out += ' ';
        AppendString(out, a.mailbox);
        out += ' ';
        AppendString(out, a.host);
        break;
      // RFC 3501 §7.4.2: group start is (NIL NIL "name" NIL), group end
      // is (NIL NIL NIL NIL).
      case Address::Kind::kGroupStart:
        out += "NIL NIL ";
        AppendString(out, a.mailbox);
        out += " NIL";
        break;
      case Address::Kind::kGroupEnd:
        out += "NIL NIL NIL NIL";
        break;
    }
    out += ')';
  }
  out += ')';
}

void AppendParams(std::string& out, const std::vector<Param>& params) {
  if (params.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (size_t i = 0; i < params.size(); ++i) {
    if (i > 0) out += ' ';
    AppendString(out, params[i].name);
    out += ' ';
    AppendString(out, params[i].value);
  }
  out += ')';
}

void AppendDisposition(std::string& out, const Part& part) {
  if (!part.disposition) {
    out += "NIL";
    return;
  }
  out += '(';
  AppendString(out, *part.disposition);
  out += ' ';
  AppendParams(out, part.disposition_params);
  out += ')';
}

void AppendLanguages(std::string& out, const Part& part) {
  if (part.languages.empty()) {
    out += "NIL";
  } else if (part.languages.size() == 1) {
    AppendString(out, part.languages[0]);
  } else {
    out += '(';
    for (size_t i = 0; i < part.languages.size(); ++i) {
      if (i > 0) out += ' ';
      AppendString(out, part.languages[i]);
    }
    out += ')';
  }
}

// The extension fields shared by both part kinds after their first one.
void AppendDispositionLanguageLocation(std::string& out, const Part& part) {
  out += ' ';
  AppendDisposition(out, part);
  out += ' ';
  AppendLanguages(out, part);
  out += ' ';
  AppendImapString(out, part.location);
}

void AppendPart(std::string& out, const Part& part, bool extended);

void AppendMultipart(std::string& out, const Part& part, bool extended) {
  out += '(';
  for (const Part& child : part.children) AppendPart(out, child, extended);
  out += ' ';
  AppendString(out, part.subtype);
  if (extended) {
    out += ' ';
    AppendParams(out, part.params);
    AppendDispositionLanguageLocation(out, part);
  }
  out += ')';
}

void AppendSinglePart(std::string& out, const Part& part, bool extended) {
  out += '(';
  AppendString(out, part.type);
  out += ' ';
  AppendString(out, part.subtype);
  out += ' ';
  // RFC 2045 §5.2: no Content-Type means text/plain; charset=us-ascii.
  if (!part.has_content_type && part.IsText()) {
    out += "(\"charset\" \"us-ascii\")";
  } else {
    AppendParams(out, part.params);
  }
  out += ' ';
  AppendImapString(out, part.id);
  out += ' ';
  AppendImapString(out, part.description);
  out += ' ';
  AppendString(out, part.encoding.value_or("7bit"));
  out += ' ';
  out += std::to_string(part.body.length);
  if (part.IsMessage()) {
    const Part& inner = part.children[0];
    out += ' ';
    out += ImapEnvelope(*inner.envelope);
    out += ' ';
    AppendPart(out, inner, extended);
    out += ' ';
    out += std::to_string(part.body_lines);
  } else if (part.IsText()) {
    out += ' ';
    out += std::to_string(part.body_lines);
  }
  if (extended) {
    out += ' ';
    AppendImapString(out, part.md5);
    AppendDispositionLanguageLocation(out, part);
  }
  out += ')';
}

void AppendPart(std::string& out, const Part& part, bool extended) {
  if (part.IsMultipart()) {
    AppendMultipart(out, part, extended);
  } else {
    AppendSinglePart(out, part, extended);
  }
}

}  // namespace

void AppendImapString(std::string& out, std::optional<std::string_view> value) {
  if (!value) {
    out += "NIL";
    return;
  }
  AppendString(out, *value);
}

std::string ImapEnvelope(const Envelope& env) {
  std::string out = "(";
  AppendImapString(out, env.date);
  out += ' ';
  AppendImapString(out, env.subject);
  for (const std::vector<Address>* list :
       {&env.from, &env.sender, &env.reply_to, &env.to, &env.cc, &env.bcc}) {
    out += ' ';
    AppendAddresses(out, *list);
  }
  out += ' ';
  AppendImapString(out, env.in_reply_to);
  out += ' ';
  AppendImapString(out, env.message_id);
  out += ')';
  return out;
}

std::string ImapBodyStructure(const Part& root, bool extended) {
  std::string out;
  AppendPart(out, root, extended);
  return out;
}

}  // namespace corvus::mime
