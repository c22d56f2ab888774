// The session loop, the command table, the error budget and the short
// commands (HELO/EHLO/LHLO, RSET, NOOP, QUIT, HELP, VRFY, EXPN, STARTTLS).
#include "mta/smtp/smtp_session.h"

#include <algorithm>
#include <array>
#include <utility>

#include "common/log.h"
#include "mta/smtp/session.h"

namespace corvus::mta {
namespace {

using S = SmtpSession;

// Which commands exist in which mode and what they need first. Checked in
// one place, SmtpSession::Dispatch().
constexpr unsigned kSmtpLike = S::kSmtpMode | S::kSubmissionMode;
constexpr std::array<S::CommandSpec, 15> kCommands = {{
    // RFC 2033 §4.1: an LMTP server must not accept HELO or EHLO.
    {SmtpVerb::kHelo, kSmtpLike, &S::CmdHello},
    {SmtpVerb::kEhlo, kSmtpLike, &S::CmdHello},
    {SmtpVerb::kLhlo, S::kLmtpMode, &S::CmdHello},
    {SmtpVerb::kMail,
     S::kAllModes | S::kNeedsHello | S::kNeedsTls | S::kNeedsAuth, &S::CmdMail},
    {SmtpVerb::kRcpt,
     S::kAllModes | S::kNeedsHello | S::kNeedsTls | S::kNeedsAuth, &S::CmdRcpt},
    {SmtpVerb::kData,
     S::kAllModes | S::kNeedsHello | S::kNeedsTls | S::kNeedsAuth, &S::CmdData},
    {SmtpVerb::kBdat,
     S::kAllModes | S::kNeedsHello | S::kNeedsTls | S::kNeedsAuth, &S::CmdBdat},
    {SmtpVerb::kRset, S::kAllModes, &S::CmdRset},
    {SmtpVerb::kNoop, S::kAllModes, &S::CmdNoop},
    {SmtpVerb::kQuit, S::kAllModes, &S::CmdQuit},
    {SmtpVerb::kHelp, S::kAllModes, &S::CmdHelp},
    {SmtpVerb::kVrfy, S::kAllModes | S::kNeedsTls, &S::CmdVrfy},
    {SmtpVerb::kExpn, S::kAllModes | S::kNeedsTls, &S::CmdExpn},
    {SmtpVerb::kStartTls, S::kAllModes, &S::CmdStartTls},
    {SmtpVerb::kAuth, S::kSubmissionMode | S::kNeedsHello | S::kNeedsTls,
     &S::CmdAuth},
}};

unsigned ModeFlag(SmtpMode mode) {
  switch (mode) {
    case SmtpMode::kSmtp:
      return S::kSmtpMode;
    case SmtpMode::kSubmission:
      return S::kSubmissionMode;
    case SmtpMode::kLmtp:
      return S::kLmtpMode;
  }
  return 0;
}

// Removes the line terminator ReadLine keeps. Commands ending in a bare
// LF are accepted: many scripts send them, and unlike DATA lines they
// cannot hide a message boundary.
std::string_view StripTerminator(std::string_view line) {
  if (line.ends_with("\r\n")) {
    line.remove_suffix(2);
  } else if (line.ends_with('\n')) {
    line.remove_suffix(1);
  }
  return line;
}

// Runs a session that keeps its options and dependencies alive itself,
// whatever happens to the Handler that started it.
Task<void> RunShared(Connection& conn,
                     std::shared_ptr<const SmtpSessionOptions> options,
                     std::shared_ptr<const SmtpDependencies> deps) {
  co_await RunSmtpSession(conn, *options, *deps);
}

}  // namespace

std::string_view SmtpStateName(SmtpState state) {
  switch (state) {
    case SmtpState::kGreeted:
      return "greeted";
    case SmtpState::kReady:
      return "ready";
    case SmtpState::kMail:
      return "mail";
    case SmtpState::kRcpt:
      return "rcpt";
    case SmtpState::kBdat:
      return "bdat";
  }
  return "unknown";
}

SmtpSession::SmtpSession(Connection& conn, const SmtpSessionOptions& options,
                         const SmtpDependencies& deps)
    : conn_(conn),
      options_(options),
      deps_(deps),
      trusted_(options.trusted_networks.Contains(conn.peer_address())) {}

Task<void> SmtpSession::Run() {
  conn_.SetTimeout(options_.command_timeout);
  // TODO(corvus): no pregreet check (a client talking before the 220 is
  // a spam bot); without it such clients cost a full session each.
  std::string_view product =
      options_.mode == SmtpMode::kLmtp ? "LMTP" : "ESMTP";
  conn_.Queue("220 " + options_.hostname + " " + std::string(product) +
              " Corvus\r\n");
  co_await FlushNow();

  while (!closing_) {
    auto line = co_await conn_.ReadLine(options_.max_line_length);
    if (!line) {
      if (line.error().code == ErrorCode::kProtocol) {
        // ReadLine dropped the rest of the line, so the next read starts
        // at a real command.
        conn_.NoteCommand("(overlong)");
        co_await Reply(500, "5.5.6", "Line too long");
      } else {
        co_await HandleReadError(line.error(), "command");
        break;
      }
    } else if (auto command = ParseSmtpCommand(StripTerminator(*line));
               !command) {
      conn_.NoteCommand("(unparsable)");
      co_await Reply(command.error());
    } else {
      conn_.NoteCommand(command->name);
      co_await Dispatch(*command);
    }
    if (closing_) break;

    if (errors_ >= options_.max_errors) {
      co_await Close421("4.7.0", "Too many errors, closing connection",
                        "error limit");
      break;
    }
    co_await FlushIfIdle();
  }
}

Task<void> SmtpSession::Dispatch(const SmtpCommand& command) {
  const CommandSpec* spec = nullptr;
  for (const CommandSpec& row : kCommands) {
    if (row.verb == command.verb) spec = &row;
  }
  if (spec == nullptr || (spec->flags & ModeFlag(options_.mode)) == 0) {
    co_await Reply(500, "5.5.2", "Command unrecognized");
    co_return;
  }
  if ((spec->flags & kNeedsHello) && state_ == SmtpState::kGreeted) {
    co_await Reply(503, "5.5.1",
                   options_.mode == SmtpMode::kLmtp ? "Send LHLO first"
                                                    : "Send EHLO/HELO first");
    co_return;
  }
  // RFC 3207 §4: a server that requires TLS answers 530 until STARTTLS.
  if ((spec->flags & kNeedsTls) && options_.require_tls && !conn_.is_tls()) {
    co_await Reply(530, "5.7.0", "Must issue a STARTTLS command first");
    co_return;
  }
  // RFC 6409 §4.3: submission needs an authenticated client.
  if ((spec->flags & kNeedsAuth) && options_.mode == SmtpMode::kSubmission &&
      authenticated_.empty()) {
    co_await Reject(command.name, 530, "5.7.0", "Authentication required");
    co_return;
  }
  co_await (this->*spec->handler)(command);
}

void SmtpSession::SetState(SmtpState state) {
  if (state == state_) return;
  conn_.log().Debug("smtp_state", {{"from", SmtpStateName(state_)},
                                   {"to", SmtpStateName(state)}});
  state_ = state;
}

void SmtpSession::ResetTransaction() {
  mail_from_.clear();
  mail_parameters_ = MailParameters{};
  recipients_.clear();
  rcpt_refused_ = 0;
  bdat_body_.clear();
  bdat_body_.shrink_to_fit();
  bdat_size_ = 0;
  bdat_bare_line_ending_ = false;
  bdat_pending_cr_ = false;
  if (InTransaction()) SetState(SmtpState::kReady);
}

Task<void> SmtpSession::Reply(const SmtpReply& reply) {
  if (!reply.ok() && reply.code != 421) {
    ++errors_;
    // Slow down a client that keeps failing: cheap for a real client,
    // expensive for a dictionary attack or a confused script.
    if (errors_ > options_.soft_error_limit &&
        options_.error_delay.count() > 0) {
      co_await FlushNow();
      co_await SleepFor(options_.error_delay);
    }
  }
  conn_.Queue(reply.Format());
}

Task<void> SmtpSession::Reply(int code, std::string_view enhanced,
                              std::string_view text) {
  // A named local, not a temporary: g++ 12 mishandles aggregate
  // temporaries inside co_await expressions.
  SmtpReply reply{code, std::string(enhanced), std::string(text)};
  co_await Reply(reply);
}

Task<void> SmtpSession::Reject(std::string_view command, int code,
                               std::string_view enhanced, std::string_view text,
                               std::string_view to) {
  SmtpReply reply{code, std::string(enhanced), std::string(text)};
  co_await Reject(command, reply, to);
}

Task<void> SmtpSession::Reject(std::string_view command, const SmtpReply& reply,
                               std::string_view to) {
  std::string reply_text =
      std::to_string(reply.code) + " " + reply.enhanced + " " + reply.text;
  conn_.log().Notice("reject",
                     {{"command", command},
                      {"reply", reply_text},
                      {"from", FormatFrom()},
                      {"to", to.empty() ? FormatTo() : std::string(to)}});
  co_await Reply(reply);
}

Task<void> SmtpSession::FlushIfIdle() {
  if (conn_.HasBufferedInput()) co_return;
  co_await FlushNow();
}

Task<void> SmtpSession::FlushNow() {
  if (auto status = co_await conn_.Flush(); !status) {
    conn_.NoteCloseReason("write failed");
    closing_ = true;
  }
}

Task<void> SmtpSession::Close421(std::string_view enhanced,
                                 std::string_view text,
                                 std::string_view reason) {
  conn_.Queue(SmtpReply{421, std::string(enhanced),
                        options_.hostname + " " + std::string(text)}
                  .Format());
  co_await FlushNow();
  conn_.NoteCloseReason(reason);
  closing_ = true;
}

Task<void> SmtpSession::HandleReadError(const Error& error,
                                        std::string_view where) {
  std::string place(where);
  if (error.code != ErrorCode::kTemporary) {
    conn_.NoteCloseReason("lost connection in " + place);
    closing_ = true;
    co_return;
  }
  if (conn_.stopping()) {
    co_await Close421("4.3.2", "Service shutting down", "shutdown");
  } else {
    std::string reason = "timeout in " + place;
    co_await Close421("4.4.2", "Timeout, closing connection", reason);
  }
}

SessionInfo SmtpSession::Info() const {
  SessionInfo info;
  info.mode = options_.mode;
  info.connection_id = conn_.id();
  info.client_address = conn_.peer_address();
  info.loopback = conn_.peer_is_loopback();
  info.tls = conn_.is_tls();
  info.trusted = trusted_;
  info.helo = helo_;
  info.authenticated = authenticated_;
  info.mail_from = mail_from_;
  info.smtputf8 = mail_parameters_.smtputf8;
  return info;
}

std::string SmtpSession::FormatFrom() const { return "<" + mail_from_ + ">"; }

std::string SmtpSession::FormatTo() const {
  std::string out;
  for (const Recipient& recipient : recipients_) {
    if (!out.empty()) out += ',';
    out += "<" + recipient.address + ">";
  }
  return out.empty() ? "<>" : out;
}

bool SmtpSession::AuthAllowedNow() const {
  if (options_.mode != SmtpMode::kSubmission || !deps_.authenticator) {
    return false;
  }
  return PlaintextAuthAllowed(options_.plaintext_auth, conn_.is_tls(),
                              conn_.peer_is_loopback());
}

Task<void> SmtpSession::CmdHello(const SmtpCommand& command) {
  auto name = ParseHeloArgument(command.argument);
  if (!name) {
    co_await Reply(name.error());
    co_return;
  }

  // RFC 5321 §4.1.4: EHLO/HELO in the middle of a transaction resets it.
  ResetTransaction();
  helo_ = *name;
  esmtp_ = command.verb != SmtpVerb::kHelo;
  SetState(SmtpState::kReady);
  if (!esmtp_) {
    co_await Reply(250, "", options_.hostname);
    co_return;
  }

  std::vector<std::string> lines = {
      options_.hostname,
      "PIPELINING",
      "SIZE " + std::to_string(options_.max_message_size),
      "8BITMIME",
      "ENHANCEDSTATUSCODES",
      "SMTPUTF8",
      "CHUNKING",
      // TODO(corvus): DSN is advertised and its parameters reach the
      // Envelope, but success/delay notices depend on the queue honouring
      // NOTIFY; until it does, clients asking for them get none.
      "DSN",
  };
  if (conn_.tls_available() && !conn_.is_tls()) lines.push_back("STARTTLS");
  if (AuthAllowedNow()) lines.push_back("AUTH PLAIN LOGIN");
  if (options_.mode == SmtpMode::kLmtp) lines.push_back("XQUEUEID");
  std::string reply;
  for (size_t i = 0; i < lines.size(); ++i) {
    reply += (i + 1 < lines.size()) ? "250-" : "250 ";
    reply += lines[i];
    reply += "\r\n";
  }
  conn_.Queue(reply);
}

Task<void> SmtpSession::CmdRset(const SmtpCommand& command) {
  if (!command.argument.empty()) {
    co_await Reply(501, "5.5.4", "Syntax: RSET");
    co_return;
  }
  ResetTransaction();
  co_await Reply(250, "2.0.0", "Ok");
}

Task<void> SmtpSession::CmdNoop(const SmtpCommand&) {
  // RFC 5321 §4.1.1.9: any argument is ignored.
  co_await Reply(250, "2.0.0", "Ok");
}

Task<void> SmtpSession::CmdQuit(const SmtpCommand&) {
  conn_.Queue(SmtpReply{221, "2.0.0", "Bye"}.Format());
  co_await FlushNow();
  conn_.NoteCloseReason("quit");
  closing_ = true;
}

Task<void> SmtpSession::CmdHelp(const SmtpCommand&) {
  co_await Reply(214, "2.0.0", "See RFC 5321; https://www.rfc-editor.org");
}

Task<void> SmtpSession::CmdVrfy(const SmtpCommand& command) {
  if (command.argument.empty()) {
    co_await Reply(501, "5.5.4", "Syntax: VRFY address");
    co_return;
  }
  // RFC 5321 §3.5.3: 252 without looking anything up, so VRFY never tells
  // a harvester which accounts exist.
  co_await Reply(252, "2.5.0",
                 "Cannot VRFY user, but will accept message and attempt "
                 "delivery");
}

Task<void> SmtpSession::CmdExpn(const SmtpCommand&) {
  co_await Reply(502, "5.5.1", "EXPN not available");
}

Task<void> SmtpSession::CmdStartTls(const SmtpCommand& command) {
  if (!command.argument.empty()) {
    co_await Reply(501, "5.5.4", "Syntax: STARTTLS");
    co_return;
  }
  if (conn_.is_tls()) {
    co_await Reply(503, "5.5.1", "TLS already active");
    co_return;
  }
  if (!conn_.tls_available()) {
    co_await Reply(502, "5.5.1", "STARTTLS not available");
    co_return;
  }
  if (InTransaction()) {
    co_await Reply(503, "5.5.1", "STARTTLS not allowed during a transaction");
    co_return;
  }

  conn_.Queue(SmtpReply{220, "2.0.0", "Ready to start TLS"}.Format());
  co_await FlushNow();
  if (closing_) co_return;
  // StartTls() drops whatever the client pipelined in the clear after
  // STARTTLS (RFC 3207 §4).
  if (auto status = co_await conn_.StartTls(); !status) {
    conn_.log().Notice("tls_failed", {{"error", status.error().message}});
    conn_.NoteCloseReason("tls handshake failed");
    closing_ = true;
    co_return;
  }

  // RFC 3207 §4.2: forget everything learned before TLS.
  ResetTransaction();
  helo_.clear();
  esmtp_ = false;
  authenticated_.clear();
  SetState(SmtpState::kGreeted);
}

Result<SmtpSessionOptions> SmtpSessionOptionsFromConfig(const Config& config,
                                                        SmtpMode mode) {
  SmtpSessionOptions options;
  options.mode = mode;
  options.hostname = config.server.hostname;
  options.max_message_size =
      static_cast<uint64_t>(config.smtp.max_message_size);
  options.max_recipients = config.smtp.max_recipients;
  options.max_header_size = static_cast<uint64_t>(config.smtp.max_header_size);
  options.max_line_length = static_cast<size_t>(config.limits.max_line_length);
  options.command_timeout =
      std::chrono::seconds(config.smtp.command_timeout_seconds);
  options.data_timeout = std::chrono::seconds(config.smtp.data_timeout_seconds);
  options.max_errors = config.smtp.max_errors;
  options.soft_error_limit = std::max(1, config.smtp.max_errors / 2);

  auto bare = ParseBareLineEndings(config.smtp.bare_line_endings);
  if (!bare) return Fail(bare.error().With("key", "smtp.bare_line_endings"));
  options.bare_line_endings = *bare;

  options.plaintext_auth = config.auth.plaintext;

  auto networks = TrustedNetworks::Parse(config.smtp.trusted_networks);
  if (!networks) {
    Error error = networks.error();
    error.code = ErrorCode::kConfig;
    return Fail(std::move(error).With("key", "smtp.trusted_networks"));
  }
  options.trusted_networks = std::move(*networks);
  return options;
}

Result<Handler> MakeSmtpHandler(SmtpSessionOptions options,
                                SmtpDependencies deps) {
  auto missing = [](std::string_view what) {
    return Fail(ErrorCode::kConfig,
                "SMTP listener lacks its " + std::string(what));
  };
  if (!deps.recipients) return missing("recipient policy");
  if (options.mode == SmtpMode::kLmtp && !deps.lmtp) {
    return missing("LMTP delivery");
  }
  if (options.mode != SmtpMode::kLmtp && !deps.sink) {
    return missing("message sink");
  }
  if (options.mode == SmtpMode::kSubmission && !deps.authenticator) {
    return missing("authenticator");
  }

  auto shared_options =
      std::make_shared<const SmtpSessionOptions>(std::move(options));
  auto shared_deps = std::make_shared<const SmtpDependencies>(std::move(deps));
  return Handler([shared_options, shared_deps](Connection& conn) {
    return RunShared(conn, shared_options, shared_deps);
  });
}

Task<void> RunSmtpSession(Connection& conn, const SmtpSessionOptions& options,
                          const SmtpDependencies& deps) {
  SmtpSession session(conn, options, deps);
  co_await session.Run();
}

}  // namespace corvus::mta
