// The session loop, the command table, the error budget and the short
// commands (CAPA, STLS, NOOP, RSET, QUIT with the UPDATE state).
#include "mailbox/pop3/pop3_session.h"

#include <algorithm>
#include <array>
#include <utility>

#include "common/log.h"
#include "mailbox/pop3/session.h"

namespace corvus::pop3 {
namespace {

using S = Pop3Session;

// Which command is valid in which state. Checked in one place,
// Pop3Session::Dispatch().
constexpr std::array<S::CommandSpec, 14> kCommands = {{
    // RFC 2449 section 5: CAPA is valid in every state.
    {Pop3Verb::kCapa, S::kInBoth, &S::CmdCapa},
    // RFC 2595 section 4: STLS only in the AUTHORIZATION state.
    {Pop3Verb::kStls, S::kInAuthorization, &S::CmdStls},
    {Pop3Verb::kUser, S::kInAuthorization, &S::CmdUser},
    {Pop3Verb::kPass, S::kInAuthorization, &S::CmdPass},
    {Pop3Verb::kAuth, S::kInAuthorization, &S::CmdAuth},
    {Pop3Verb::kStat, S::kInTransaction, &S::CmdStat},
    {Pop3Verb::kList, S::kInTransaction, &S::CmdList},
    {Pop3Verb::kRetr, S::kInTransaction, &S::CmdRetr},
    {Pop3Verb::kDele, S::kInTransaction, &S::CmdDele},
    {Pop3Verb::kNoop, S::kInTransaction, &S::CmdNoop},
    {Pop3Verb::kRset, S::kInTransaction, &S::CmdRset},
    {Pop3Verb::kQuit, S::kInBoth, &S::CmdQuit},
    {Pop3Verb::kTop, S::kInTransaction, &S::CmdTop},
    {Pop3Verb::kUidl, S::kInTransaction, &S::CmdUidl},
}};

unsigned StateFlag(Pop3State state) {
  switch (state) {
    case Pop3State::kAuthorization:
      return S::kInAuthorization;
    case Pop3State::kTransaction:
      return S::kInTransaction;
    case Pop3State::kUpdate:
      return 0;
  }
  return 0;
}

// Runs a session that keeps its options and dependencies alive itself,
// whatever happens to the Handler that started it.
Task<void> RunShared(Connection& conn,
                     std::shared_ptr<const Pop3Options> options,
                     std::shared_ptr<const Pop3Dependencies> deps) {
  co_await RunPop3Session(conn, *options, *deps);
}

}  // namespace

std::string_view Pop3StateName(Pop3State state) {
  switch (state) {
    case Pop3State::kAuthorization:
      return "authorization";
    case Pop3State::kTransaction:
      return "transaction";
    case Pop3State::kUpdate:
      return "update";
  }
  return "unknown";
}

Pop3Session::Pop3Session(Connection& conn, const Pop3Options& options,
                         const Pop3Dependencies& deps)
    : conn_(conn), options_(options), deps_(deps) {}

Task<void> Pop3Session::Run() {
  conn_.SetTimeout(options_.auth_timeout);
  Ok(options_.hostname + " POP3 Corvus ready");
  co_await FlushNow();

  while (!closing_) {
    auto line = co_await conn_.ReadLine(options_.max_line_length);
    if (!line) {
      if (line.error().code != ErrorCode::kProtocol) {
        co_await HandleReadError(line.error(), "command");
        break;
      }
      // ReadLine dropped the rest of the line, so the next read starts at
      // a real command.
      conn_.NoteCommand("(overlong)");
      pending_user_.reset();
      co_await Err("Line too long");
    } else if (auto command = ParsePop3Command(*line); !command) {
      conn_.NoteCommand("(unparsable)");
      pending_user_.reset();
      co_await Err(command.error().message);
    } else {
      conn_.NoteCommand(command->name);
      co_await Dispatch(*command);
    }
    if (closing_) break;

    if (errors_ >= options_.max_errors) {
      co_await CloseWithError("Too many errors, closing connection",
                              "error limit");
      break;
    }
    co_await FlushIfIdle();
  }
}

Task<void> Pop3Session::Dispatch(const Pop3Command& command) {
  // RFC 1939 section 7: PASS must come right after USER; any other
  // command in between forgets the name.
  if (command.verb != Pop3Verb::kPass) pending_user_.reset();

  const CommandSpec* spec = nullptr;
  for (const CommandSpec& row : kCommands) {
    if (row.verb == command.verb) spec = &row;
  }
  if (spec == nullptr) {
    co_await Err("Unknown command");
    co_return;
  }
  if ((spec->flags & StateFlag(state_)) == 0) {
    std::string text = command.name + " not valid in the " +
                       std::string(Pop3StateName(state_)) + " state";
    co_await Err(text);
    co_return;
  }
  co_await (this->*spec->handler)(command);
}

void Pop3Session::SetState(Pop3State state) {
  if (state == state_) return;
  conn_.log().Debug("pop3_state", {{"from", Pop3StateName(state_)},
                                   {"to", Pop3StateName(state)}});
  state_ = state;
  if (state == Pop3State::kTransaction) {
    conn_.SetTimeout(options_.transaction_timeout);
  }
}

void Pop3Session::Ok(std::string_view text) {
  std::string reply = "+OK";
  if (!text.empty()) {
    reply += ' ';
    reply += text;
  }
  reply += "\r\n";
  conn_.Queue(reply);
}

Task<void> Pop3Session::Err(std::string_view text) {
  ++errors_;
  // Slow down a client that keeps failing: cheap for a real client,
  // expensive for a password guesser or a confused script.
  if (errors_ > options_.soft_error_limit && options_.error_delay.count() > 0) {
    co_await FlushNow();
    co_await SleepFor(options_.error_delay);
  }
  std::string reply = "-ERR ";
  reply += text;
  reply += "\r\n";
  conn_.Queue(reply);
}

Task<void> Pop3Session::FlushIfIdle() {
  if (conn_.HasBufferedInput()) co_return;
  co_await FlushNow();
}

Task<void> Pop3Session::FlushNow() {
  if (auto status = co_await conn_.Flush(); !status) {
    conn_.NoteCloseReason("write failed");
    closing_ = true;
  }
}

Task<void> Pop3Session::CloseWithError(std::string_view text,
                                       std::string_view reason) {
  std::string reply = "-ERR " + std::string(text) + "\r\n";
  conn_.Queue(reply);
  co_await FlushNow();
  conn_.NoteCloseReason(reason);
  closing_ = true;
}

Task<void> Pop3Session::HandleReadError(const Error& error,
                                        std::string_view where) {
  std::string place(where);
  if (error.code != ErrorCode::kTemporary) {
    conn_.NoteCloseReason("lost connection in " + place);
    closing_ = true;
    co_return;
  }
  // RFC 1939 section 3: when the autologout timer expires the session
  // closes without entering the UPDATE state; so does a shutdown.
  if (conn_.stopping()) {
    std::string text = std::string(kCodeSysTemp) + "Server shutting down";
    co_await CloseWithError(text, "shutdown");
  } else {
    co_await CloseWithError("Autologout, idle for too long",
                            "timeout in " + place);
  }
}

bool Pop3Session::PlaintextAllowedNow() const {
  return PlaintextAuthAllowed(options_.plaintext_auth, conn_.is_tls(),
                              conn_.peer_is_loopback());
}

Task<void> Pop3Session::CmdCapa(const Pop3Command&) {
  std::string reply = "+OK Capability list follows\r\n";
  reply += "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n";
  if (state_ == Pop3State::kAuthorization) {
    // RFC 2595 section 4 and RFC 2449 section 6.8: offer STLS and login
    // only where they can be used; a client then knows to STLS first.
    if (conn_.tls_available() && !conn_.is_tls()) reply += "STLS\r\n";
    if (PlaintextAllowedNow()) reply += "USER\r\nSASL PLAIN\r\n";
  }
  reply += "IMPLEMENTATION Corvus\r\n.\r\n";
  conn_.Queue(reply);
  co_return;
}

Task<void> Pop3Session::CmdStls(const Pop3Command& command) {
  if (!command.argument.empty()) {
    co_await Err("Syntax: STLS");
    co_return;
  }
  if (conn_.is_tls()) {
    co_await Err("TLS already active");
    co_return;
  }
  if (!conn_.tls_available()) {
    co_await Err("STLS not available");
    co_return;
  }

  Ok("Begin TLS negotiation");
  co_await FlushNow();
  if (closing_) co_return;
  // StartTls() drops whatever the client pipelined in the clear after
  // STLS, so none of it is read as if it came over TLS.
  if (auto status = co_await conn_.StartTls(); !status) {
    conn_.log().Notice("tls_failed", {{"error", status.error().message}});
    conn_.NoteCloseReason("tls handshake failed");
    closing_ = true;
    co_return;
  }
  // RFC 2595 section 4: the client discards what it learned before TLS;
  // so do we.
  pending_user_.reset();
}

Task<void> Pop3Session::CmdNoop(const Pop3Command& command) {
  if (!command.argument.empty()) {
    co_await Err("Syntax: NOOP");
    co_return;
  }
  Ok("");
}

Task<void> Pop3Session::CmdRset(const Pop3Command& command) {
  if (!command.argument.empty()) {
    co_await Err("Syntax: RSET");
    co_return;
  }
  maildrop_->UndeleteAll();
  std::string text = "maildrop has " + std::to_string(maildrop_->LiveCount()) +
                     " messages (" + std::to_string(maildrop_->LiveSize()) +
                     " octets)";
  Ok(text);
}

Task<void> Pop3Session::CmdQuit(const Pop3Command&) {
  // RFC 1939 section 5: QUIT in AUTHORIZATION ends the session without
  // touching any maildrop.
  if (state_ == Pop3State::kAuthorization) {
    Ok(options_.hostname + " POP3 signing off");
    co_await FlushNow();
    conn_.NoteCloseReason("quit");
    closing_ = true;
    co_return;
  }

  // RFC 1939 section 6: the UPDATE state removes the deleted messages
  // and releases the lock, then the server says +OK, or -ERR if some of
  // them could not be removed.
  SetState(Pop3State::kUpdate);
  Result<UpdateResult> result = UpdateResult{};
  MessageStore* store = deps_.store;
  const Maildrop& drop = *maildrop_;
  co_await Offload([&result, store, &drop] { result = drop.Commit(*store); });
  lock_.reset();

  if (!result) {
    conn_.log().Error("update_failed", {{"error", result.error().ToString()}});
    std::string text =
        std::string(kCodeSysTemp) + "Could not remove deleted messages";
    conn_.Queue("-ERR " + text + "\r\n");
  } else {
    conn_.log().Info("update", {{"expunged", result->expunged},
                                {"seen", result->seen},
                                {"retrieved", retrieved_}});
    std::string text = options_.hostname + " POP3 signing off (" +
                       std::to_string(maildrop_->LiveCount()) +
                       " messages left)";
    Ok(text);
  }
  co_await FlushNow();
  conn_.NoteCloseReason("quit");
  closing_ = true;
}

Result<Pop3Options> Pop3OptionsFromConfig(const Config& config) {
  Pop3Options options;
  options.hostname = config.server.hostname;
  options.max_line_length = static_cast<size_t>(config.limits.max_line_length);
  options.auth_timeout =
      std::chrono::seconds(config.limits.idle_timeout_seconds);
  // RFC 1939 section 3: the autologout timer MUST be at least 10 minutes.
  options.transaction_timeout =
      std::chrono::seconds(std::max(600, config.limits.idle_timeout_seconds));

  options.plaintext_auth = config.auth.plaintext;
  return options;
}

Result<Handler> MakePop3Handler(Pop3Options options, Pop3Dependencies deps) {
  if (deps.store == nullptr) {
    return Fail(ErrorCode::kConfig, "POP3 listener lacks its message store");
  }
  if (deps.directory == nullptr) {
    return Fail(ErrorCode::kConfig, "POP3 listener lacks its directory");
  }
  if (!deps.locks) deps.locks = Pop3LockRegistry::Shared();

  auto shared_options = std::make_shared<const Pop3Options>(std::move(options));
  auto shared_deps = std::make_shared<const Pop3Dependencies>(std::move(deps));
  return Handler([shared_options, shared_deps](Connection& conn) {
    return RunShared(conn, shared_options, shared_deps);
  });
}

Task<void> RunPop3Session(Connection& conn, const Pop3Options& options,
                          const Pop3Dependencies& deps) {
  Pop3Session session(conn, options, deps);
  co_await session.Run();
}

}  // namespace corvus::pop3
