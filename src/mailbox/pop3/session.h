// The POP3 session state machine, shared by the per-command files
// (cmd_*.cc) and pop3_session.cc. Internal to corvus_pop3: other modules
// use pop3_session.h.
//
// Which command is allowed in which state (RFC 1939 sections 4 to 6,
// RFC 2449, RFC 2595) is written once, in the command table of
// pop3_session.cc, and checked in one place, Dispatch(); handlers check
// only their arguments.
//
// Thread safety: a session belongs to its connection's event loop.
#ifndef CORVUS_MAILBOX_POP3_SESSION_H_
#define CORVUS_MAILBOX_POP3_SESSION_H_

#include <optional>
#include <string>
#include <string_view>

#include "common/net.h"
#include "mailbox/pop3/maildrop.h"
#include "mailbox/pop3/pop3_command.h"
#include "mailbox/pop3/pop3_session.h"

namespace corvus::pop3 {

enum class Pop3State {
  kAuthorization,  // greeted, not logged in (RFC 1939 section 4)
  kTransaction,    // logged in, maildrop locked and snapshotted
  kUpdate,         // QUIT received in TRANSACTION; applying changes
};

std::string_view Pop3StateName(Pop3State state);

// RFC 2449 section 8 / RFC 3206 response codes, with their brackets.
inline constexpr std::string_view kCodeAuth = "[AUTH] ";
inline constexpr std::string_view kCodeInUse = "[IN-USE] ";
inline constexpr std::string_view kCodeSysTemp = "[SYS/TEMP] ";
inline constexpr std::string_view kCodeSysPerm = "[SYS/PERM] ";

class Pop3Session {
 public:
  Pop3Session(Connection& conn, const Pop3Options& options,
              const Pop3Dependencies& deps);

  // Greets, serves commands until QUIT, the error budget, a timeout,
  // shutdown or a lost connection.
  Task<void> Run();

  using CommandHandler = Task<void> (Pop3Session::*)(const Pop3Command&);

  // One row of the command table (pop3_session.cc).
  struct CommandSpec {
    Pop3Verb verb;
    unsigned flags;
    CommandHandler handler;
  };
  // Flags of CommandSpec: the states a command is valid in.
  static constexpr unsigned kInAuthorization = 1 << 0;
  static constexpr unsigned kInTransaction = 1 << 1;
  static constexpr unsigned kInBoth = kInAuthorization | kInTransaction;

  // Command handlers. cmd_*.cc hold the long ones.
  Task<void> CmdCapa(const Pop3Command& command);
  Task<void> CmdStls(const Pop3Command& command);
  Task<void> CmdUser(const Pop3Command& command);  // cmd_auth.cc
  Task<void> CmdPass(const Pop3Command& command);  // cmd_auth.cc
  Task<void> CmdAuth(const Pop3Command& command);  // cmd_auth.cc
  Task<void> CmdStat(const Pop3Command& command);  // cmd_list.cc
  Task<void> CmdList(const Pop3Command& command);  // cmd_list.cc
  Task<void> CmdUidl(const Pop3Command& command);  // cmd_list.cc
  Task<void> CmdRetr(const Pop3Command& command);  // cmd_retr.cc
  Task<void> CmdTop(const Pop3Command& command);   // cmd_retr.cc
  Task<void> CmdDele(const Pop3Command& command);  // cmd_retr.cc
  Task<void> CmdNoop(const Pop3Command& command);
  Task<void> CmdRset(const Pop3Command& command);
  Task<void> CmdQuit(const Pop3Command& command);

 private:
  // Runs the table checks for `command`, then its handler.
  Task<void> Dispatch(const Pop3Command& command);
  // The one place the state changes.
  void SetState(Pop3State state);

  // Queues "+OK text".
  void Ok(std::string_view text);
  // Queues "-ERR text" and counts it against the error budget; past the
  // soft limit, delays it first.
  Task<void> Err(std::string_view text);
  // Sends what is queued if no more input is buffered (RFC 2449 section
  // 6.6, PIPELINING: replies may be held back while commands keep
  // coming).
  Task<void> FlushIfIdle();
  Task<void> FlushNow();
  // Says "-ERR text" unbudgeted, notes `reason` and ends the session
  // without UPDATE.
  Task<void> CloseWithError(std::string_view text, std::string_view reason);
  // Ends the session after a failed read; says why on timeout or
  // shutdown, nothing if the client is gone.
  Task<void> HandleReadError(const Error& error, std::string_view where);

  // True if USER/PASS and AUTH PLAIN may be used on this connection now.
  bool PlaintextAllowedNow() const;
  // Reads one SASL response line after "+ prompt"; nullopt after replying
  // or closing (cancel, overlong line, lost connection).
  Task<std::optional<std::string>> ReadSaslResponse(std::string_view prompt);
  // Checks `password` for `user`, then locks and snapshots the maildrop
  // and enters TRANSACTION; replies either way. `mechanism` is for the
  // log ("USER" or "PLAIN").
  Task<void> Login(std::string user, std::string password,
                   std::string_view mechanism);

  // The message `argument` names, for RETR, TOP, DELE, LIST and UIDL;
  // replies -ERR and returns nullptr if it is malformed, out of range or
  // deleted.
  Task<MaildropMessage*> RequireMessage(std::string_view argument);
  // Reads a message's bytes off the loop; replies -ERR and returns
  // nullopt on failure.
  Task<std::optional<std::string>> LoadMessage(const MaildropMessage& message);

  Connection& conn_;
  const Pop3Options& options_;
  const Pop3Dependencies& deps_;

  Pop3State state_ = Pop3State::kAuthorization;
  bool closing_ = false;
  int errors_ = 0;
  std::optional<std::string> pending_user_;  // after USER, until PASS

  // Set in TRANSACTION.
  std::string user_;
  std::optional<Pop3Lock> lock_;
  std::optional<Maildrop> maildrop_;
  uint64_t retrieved_ = 0;  // RETR count, for the log
};

}  // namespace corvus::pop3

#endif  // CORVUS_MAILBOX_POP3_SESSION_H_
