// SMTP (RFC 5321), submission (RFC 6409) and LMTP (RFC 2033) server
// sessions, as Handlers for corvus::Server listeners.
//
// `corvus serve` builds one SmtpSessionOptions per listener (smtp,
// submission, submissions, lmtp), hands it and the mta role's
// implementations of the interfaces in smtp_interfaces.h to
// MakeSmtpHandler(), and registers the handler with Server::Listen().
//
// What a session guarantees (tests in smtp_session_test.cc hold it):
//   - 250 after DATA/BDAT only once MessageSink::Accept returned OK, i.e.
//     once the message is durable; the sink is never called for data the
//     client did not finish;
//   - the end of DATA is CRLF.CRLF only (see data_reader.h for the whole
//     bare CR / LF and smuggling policy);
//   - replies are pipelined (RFC 2920): queued, and flushed when no more
//     input is buffered;
//   - an error budget: every 4xx/5xx reply counts; past
//     soft_error_limit each error reply is delayed by error_delay; on
//     reaching max_errors the session says 421 and hangs up;
//   - log lines: notice "queued"/"delivered" per accepted message and
//     "reject" per refused command, each ending in the fixed suffix
//     `from=<...> to=<...>`; no bodies, no passwords.
//
// Thread safety: options and dependencies are shared read-only by every
// session of a listener; each session runs on its connection's loop.
#ifndef CORVUS_MTA_SMTP_SMTP_SESSION_H_
#define CORVUS_MTA_SMTP_SMTP_SESSION_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/config.h"
#include "common/net.h"
#include "common/result.h"
#include "common/task.h"
#include "mta/smtp/data_reader.h"
#include "mta/smtp/smtp_interfaces.h"
#include "mta/trusted_networks.h"

namespace corvus::mta {

struct SmtpSessionOptions {
  SmtpMode mode = SmtpMode::kSmtp;
  std::string hostname = "localhost";            // greeting, EHLO, Received:
  uint64_t max_message_size = 50 * 1024 * 1024;  // advertised as SIZE
  int max_recipients = 100;
  uint64_t max_header_size = 256 * 1024;
  size_t max_line_length = 8192;  // command lines, terminator included
  std::chrono::seconds command_timeout{300};
  std::chrono::seconds data_timeout{600};
  int max_errors = 20;        // hard limit: 421 and close
  int soft_error_limit = 10;  // past it, error replies are delayed
  std::chrono::milliseconds error_delay{1000};
  BareLineEndings bare_line_endings = BareLineEndings::kReject;
  PlaintextAuth plaintext_auth = PlaintextAuth::kLoopback;
  // Refuse MAIL, RCPT, DATA, BDAT, AUTH and VRFY until STARTTLS.
  bool require_tls = false;
  TrustedNetworks trusted_networks;
};

// Builds the options of a listener in `mode` from [server] hostname,
// [limits], [auth] and [smtp]. Errors: kConfig for a bad trusted network
// or bare_line_endings value.
Result<SmtpSessionOptions> SmtpSessionOptionsFromConfig(const Config& config,
                                                        SmtpMode mode);

// What a session calls. Shared by all sessions of a listener.
struct SmtpDependencies {
  std::shared_ptr<RecipientPolicy> recipients;   // always required
  std::shared_ptr<MessageSink> sink;             // kSmtp, kSubmission
  std::shared_ptr<LmtpDelivery> lmtp;            // kLmtp
  std::shared_ptr<Authenticator> authenticator;  // kSubmission
};

// Returns a Handler that runs one session per connection. Errors:
// kConfig if a dependency the mode needs is missing.
Result<Handler> MakeSmtpHandler(SmtpSessionOptions options,
                                SmtpDependencies deps);

// Runs one session on `conn` until QUIT, an error or shutdown. Requires
// the dependencies that options.mode needs (MakeSmtpHandler checks).
Task<void> RunSmtpSession(Connection& conn, const SmtpSessionOptions& options,
                          const SmtpDependencies& deps);

// Returns a new queue id: 18 upper-case hex digits, the first 13 the
// time in microseconds, so ids sort by arrival. Unique within the
// process; across processes a collision needs the same microsecond and
// the same 20-bit counter, whose start is random.
std::string NewQueueId();

// Returns the Received: header (RFC 5321 §4.4) for `envelope`, CRLF
// terminated, folded before "by" and "for": "from HELO ([addr]) by
// HOSTNAME with PROTOCOL id QUEUE_ID [for <rcpt>]; DATE". "for" is given
// only for a single recipient, so one copy never lists the others.
std::string FormatReceivedHeader(const Envelope& envelope,
                                 std::string_view hostname);

// Returns the RFC 3848 / RFC 6531 "with" keyword, e.g. "ESMTPSA".
std::string ReceivedProtocol(SmtpMode mode, bool esmtp, bool tls,
                             bool authenticated, bool smtputf8);

}  // namespace corvus::mta

#endif  // CORVUS_MTA_SMTP_SMTP_SESSION_H_
