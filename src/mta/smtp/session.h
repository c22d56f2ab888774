// The SMTP/LMTP session state machine, shared by the per-command files
// (cmd_*.cc) and smtp_session.cc. Internal to corvus_mta: other modules
// use smtp_session.h.
//
// Each command handler is a coroutine that reads top to bottom. The
// checks every command shares (mode, HELO first, TLS first, AUTH first)
// live in the command table in smtp_session.cc and run in one place,
// Dispatch(); handlers check only what is particular to them (the
// transaction state).
//
// g++ 12 destroys aggregate temporaries inside a co_await expression
// twice, so calls build replies and SessionInfo in named locals first.
//
// Thread safety: a session belongs to its connection's event loop.
#ifndef CORVUS_MTA_SMTP_SESSION_H_
#define CORVUS_MTA_SMTP_SESSION_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/net.h"
#include "mta/smtp/smtp_command.h"
#include "mta/smtp/smtp_session.h"

namespace corvus::mta {

enum class SmtpState {
  kGreeted,  // 220 sent, no EHLO/HELO/LHLO yet
  kReady,    // after EHLO, no transaction
  kMail,     // MAIL accepted, no recipient accepted yet
  kRcpt,     // at least one recipient accepted
  kBdat,     // inside a BDAT sequence (chunks received, no LAST yet)
};

std::string_view SmtpStateName(SmtpState state);

class SmtpSession {
 public:
  SmtpSession(Connection& conn, const SmtpSessionOptions& options,
              const SmtpDependencies& deps);

  // Greets, serves commands until QUIT, error budget, timeout, shutdown
  // or a lost connection.
  Task<void> Run();

  using CommandHandler = Task<void> (SmtpSession::*)(const SmtpCommand&);

  // One row of the command table (smtp_session.cc).
  struct CommandSpec {
    SmtpVerb verb;
    unsigned flags;
    CommandHandler handler;
  };
  // Flags of CommandSpec.
  static constexpr unsigned kSmtpMode = 1 << 0;        // port 25
  static constexpr unsigned kSubmissionMode = 1 << 1;  // 587/465
  static constexpr unsigned kLmtpMode = 1 << 2;
  static constexpr unsigned kAllModes = kSmtpMode | kSubmissionMode | kLmtpMode;
  static constexpr unsigned kNeedsHello = 1 << 3;  // 503 before EHLO
  static constexpr unsigned kNeedsTls = 1 << 4;    // 530 if require_tls
  static constexpr unsigned kNeedsAuth = 1 << 5;   // 530 in submission

  // Command handlers, one per verb. cmd_*.cc hold the long ones.
  Task<void> CmdHello(const SmtpCommand& command);  // HELO, EHLO, LHLO
  Task<void> CmdMail(const SmtpCommand& command);
  Task<void> CmdRcpt(const SmtpCommand& command);
  Task<void> CmdData(const SmtpCommand& command);
  Task<void> CmdBdat(const SmtpCommand& command);
  Task<void> CmdRset(const SmtpCommand& command);
  Task<void> CmdNoop(const SmtpCommand& command);
  Task<void> CmdQuit(const SmtpCommand& command);
  Task<void> CmdHelp(const SmtpCommand& command);
  Task<void> CmdVrfy(const SmtpCommand& command);
  Task<void> CmdExpn(const SmtpCommand& command);
  Task<void> CmdStartTls(const SmtpCommand& command);
  Task<void> CmdAuth(const SmtpCommand& command);

 private:
  // Runs the table checks for `command`, then its handler.
  Task<void> Dispatch(const SmtpCommand& command);

  // The one place the state changes.
  void SetState(SmtpState state);
  // Forgets the transaction (MAIL, RCPTs, BDAT data); keeps EHLO and AUTH.
  void ResetTransaction();
  bool InTransaction() const {
    return state_ == SmtpState::kMail || state_ == SmtpState::kRcpt ||
           state_ == SmtpState::kBdat;
  }

  // Queues `reply`; counts it against the error budget if it is 4xx/5xx
  // and, past the soft limit, delays it.
  Task<void> Reply(const SmtpReply& reply);
  Task<void> Reply(int code, std::string_view enhanced, std::string_view text);
  // Replies and logs a reject line for `command`, with `to` as the
  // suffix's recipients (default: the transaction's accepted ones).
  Task<void> Reject(std::string_view command, const SmtpReply& reply,
                    std::string_view to = {});
  Task<void> Reject(std::string_view command, int code,
                    std::string_view enhanced, std::string_view text,
                    std::string_view to = {});
  // Sends what is queued if no more input is buffered (RFC 2920 §3.2).
  Task<void> FlushIfIdle();
  Task<void> FlushNow();
  // Says 421 with `text`, notes `reason` and ends the session.
  Task<void> Close421(std::string_view enhanced, std::string_view text,
                      std::string_view reason);
  // Ends the session after a failed read; replies 421 on timeout or
  // shutdown, nothing if the client is gone.
  Task<void> HandleReadError(const Error& error, std::string_view where);

  // Reads and throws away `count` bytes (a refused BDAT chunk).
  Task<Status> DiscardBytes(uint64_t count);
  // Checks that DATA/BDAT may start now; returns the refusal if not.
  std::optional<SmtpReply> CheckDataAllowed() const;
  // Header limit, Received:, hand-off to the sink or LMTP, replies, log,
  // transaction reset. `body` has CRLF endings and no Received: yet.
  Task<void> FinishMessage(std::string body, bool body_8bit);
  Task<void> FinishLmtp(Envelope envelope, std::string data);
  // True if SASL PLAIN/LOGIN may be offered on this connection now.
  bool AuthAllowedNow() const;
  // Reads one SASL response line; nullopt after replying or closing.
  Task<std::optional<std::string>> ReadSaslResponse(std::string_view prompt);

  SessionInfo Info() const;
  std::string FormatFrom() const;  // "<sender>" for log suffixes
  std::string FormatTo() const;    // "<a>,<b>" of accepted recipients

  Connection& conn_;
  const SmtpSessionOptions& options_;
  const SmtpDependencies& deps_;
  bool trusted_ = false;

  SmtpState state_ = SmtpState::kGreeted;
  bool closing_ = false;
  int errors_ = 0;
  std::string helo_;
  bool esmtp_ = false;  // EHLO/LHLO rather than HELO
  std::string authenticated_;

  // The transaction.
  std::string mail_from_;
  MailParameters mail_parameters_;
  std::vector<Recipient> recipients_;
  int rcpt_refused_ = 0;  // RCPTs refused in this transaction
  std::string bdat_body_;
  uint64_t bdat_size_ = 0;
  bool bdat_bare_line_ending_ = false;
  bool bdat_pending_cr_ = false;
};

}  // namespace corvus::mta

#endif  // CORVUS_MTA_SMTP_SESSION_H_
