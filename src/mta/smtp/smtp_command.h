// Parsing of SMTP and LMTP command lines, MAIL/RCPT paths and ESMTP
// parameters (RFC 5321 §4.1, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531
// SMTPUTF8, RFC 3461 DSN, RFC 4954 AUTH=, RFC 3030 BDAT).
//
// Everything here is a pure function of its input: no I/O, no session
// state. A rejected input comes back as an SmtpReply that the session
// sends as is (code, enhanced status code, text), so the wording of
// syntax errors lives in one place. Parsed strings are copies; nothing
// points into the caller's buffer.
//
// Leniency, decided once here:
//   - verbs are case-insensitive and may be followed by several spaces;
//     trailing spaces are ignored;
//   - "MAIL FROM: <a@b>" (space after the colon) is accepted, but a path
//     without angle brackets is not;
//   - source routes (<@relay:user@host>) are accepted and dropped
//     (RFC 5321 §4.1.2 and appendix C);
//   - non-ASCII bytes in a path or parameter value are accepted only when
//     they are well-formed UTF-8 and the transaction uses SMTPUTF8.
//
// Thread safety: stateless; safe from any thread.
#ifndef CORVUS_MTA_SMTP_SMTP_COMMAND_H_
#define CORVUS_MTA_SMTP_SMTP_COMMAND_H_

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace corvus::mta {

// One SMTP reply line (or the first line of a multi-line reply).
struct SmtpReply {
  int code = 250;
  std::string enhanced;  // RFC 3463 status, e.g. "5.1.1"; may be empty
  std::string text;

  // True for 2xx and 3xx.
  bool ok() const { return code < 400; }
  // "550 5.1.1 text\r\n".
  std::string Format() const;
};

// A parse result that is either a value or the reply explaining why not.
template <typename T>
using SmtpResult = std::expected<T, SmtpReply>;

enum class SmtpVerb {
  kUnknown,
  kHelo,
  kEhlo,
  kLhlo,
  kMail,
  kRcpt,
  kData,
  kBdat,
  kRset,
  kNoop,
  kQuit,
  kHelp,
  kVrfy,
  kExpn,
  kStartTls,
  kAuth,
};

struct SmtpCommand {
  SmtpVerb verb = SmtpVerb::kUnknown;
  std::string name;      // the verb upper-cased, for logs ("MAIL")
  std::string argument;  // text after the verb, spaces trimmed
};

// Parses one command line whose terminator (CRLF or LF) the caller has
// already removed. Errors: 500 5.5.2 for an empty line, a NUL byte, a bare
// CR, or a verb that is not a word. An unknown but well-formed verb is not
// an error: it comes back as kUnknown so the session can count it.
SmtpResult<SmtpCommand> ParseSmtpCommand(std::string_view line);

// A mailbox from a MAIL or RCPT path.
struct SmtpPath {
  // "local@domain" exactly as sent (quotes kept), without the source
  // route and brackets. Empty for the null path <>.
  std::string mailbox;
  std::string local_part;
  std::string domain;     // empty for the null path and <postmaster>
  bool has_utf8 = false;  // contains non-ASCII bytes

  bool is_null() const { return mailbox.empty(); }
};

enum class BodyType { kUnspecified, k7Bit, k8BitMime };

struct MailParameters {
  std::optional<uint64_t> size;            // SIZE= (RFC 1870)
  BodyType body = BodyType::kUnspecified;  // BODY= (RFC 6152)
  bool smtputf8 = false;                   // SMTPUTF8 (RFC 6531)
  std::string ret;    // RET=FULL|HDRS (RFC 3461), upper-cased; may be empty
  std::string envid;  // ENVID= xtext as sent (RFC 3461)
  std::string auth;   // AUTH= xtext as sent (RFC 4954 §5); "<>" if empty
  // XQUEUEID= (Corvus's LMTP extension): the id of the message in the
  // sending queue, so a mailbox server can drop a repeated delivery.
  std::string xqueueid;
  bool any = false;   // at least one parameter was given
};

struct MailFrom {
  SmtpPath path;
  MailParameters parameters;
};

struct RcptParameters {
  std::string notify;  // NOTIFY= upper-cased, e.g. "SUCCESS,FAILURE"
  std::string orcpt;   // ORCPT= "type;xtext" as sent
  bool any = false;
};

struct RcptTo {
  SmtpPath path;
  RcptParameters parameters;
};

// Parses the argument of MAIL ("FROM:<path> [params]"). The null path is
// allowed. Errors: 501 5.5.4 when "FROM:" is missing or a parameter is
// malformed or repeated; 501 5.1.7 for a bad address; 553 5.6.7 for a
// non-ASCII address without SMTPUTF8; 555 5.5.4 for an unknown parameter.
SmtpResult<MailFrom> ParseMailFrom(std::string_view argument);

// Parses the argument of RCPT ("TO:<path> [params]"). `smtputf8` says
// whether the transaction's MAIL carried SMTPUTF8. <postmaster> without a
// domain is accepted (RFC 5321 §4.1.1.3). Errors: 501 5.5.4 when "TO:" is
// missing or a parameter is malformed or repeated; 501 5.1.3 for a bad
// address or the null path; 553 5.6.7 for a non-ASCII address without
// SMTPUTF8; 555 5.5.4 for an unknown parameter.
SmtpResult<RcptTo> ParseRcptTo(std::string_view argument, bool smtputf8);

struct BdatArguments {
  uint64_t size = 0;
  bool last = false;
};

// Parses the argument of BDAT ("size [LAST]", RFC 3030 §2). Errors:
// 501 5.5.4 for anything else, including a size that does not fit.
SmtpResult<BdatArguments> ParseBdat(std::string_view argument);

// Parses an EHLO/HELO/LHLO argument: a domain or an address literal, as
// RFC 5321 §4.1.1.1 asks. Returns the argument, or 501 5.5.4 when it is
// missing, and 501 5.5.2 when it contains spaces or control bytes. The
// syntax beyond that is not checked: many real clients send bare names.
SmtpResult<std::string> ParseHeloArgument(std::string_view argument);

// True if `text` is well-formed UTF-8 (no overlong forms, surrogates or
// code points above U+10FFFF).
bool IsValidUtf8(std::string_view text);

}  // namespace corvus::mta

#endif  // CORVUS_MTA_SMTP_SMTP_COMMAND_H_
