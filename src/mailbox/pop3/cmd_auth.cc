// USER and PASS (RFC 1939 section 7), AUTH PLAIN (RFC 5034, RFC 4616),
// and the login they share: check the password, take the POP3 lock,
// snapshot INBOX. Credentials go to the directory and nowhere else: not
// to logs, not to NoteCommand.
//
// TODO(corvus): login does not check that this server is the account's
// home_server; the proxy only routes logins there, but a client that
// reaches a mailbox server directly for an account homed elsewhere gets
// an empty INBOX (and a new, empty account database) here. Costs a
// confusing empty mailbox and a stray file until the check exists.
#include <utility>

#include "mailbox/pop3/session.h"

namespace corvus::pop3 {
namespace {

constexpr std::string_view kPlaintextRefused =
    "Plaintext authentication disallowed on non-secure connections";

std::string_view StripTerminator(std::string_view line) {
  if (line.ends_with("\r\n")) {
    line.remove_suffix(2);
  } else if (line.ends_with('\n')) {
    line.remove_suffix(1);
  }
  return line;
}

}  // namespace

Task<void> Pop3Session::CmdUser(const Pop3Command& command) {
  if (!PlaintextAllowedNow()) {
    std::string text = std::string(kCodeAuth) + std::string(kPlaintextRefused);
    co_await Err(text);
    co_return;
  }
  if (command.argument.empty()) {
    co_await Err("Syntax: USER name");
    co_return;
  }
  pending_user_ = command.argument;
  Ok("Send PASS");
}

Task<void> Pop3Session::CmdPass(const Pop3Command& command) {
  // RFC 1939 section 7: PASS is valid only right after a successful USER.
  if (!pending_user_) {
    co_await Err("Send USER first");
    co_return;
  }
  std::string user = std::move(*pending_user_);
  pending_user_.reset();
  if (!PlaintextAllowedNow()) {
    std::string text = std::string(kCodeAuth) + std::string(kPlaintextRefused);
    co_await Err(text);
    co_return;
  }
  if (command.argument.empty()) {
    co_await Err("Syntax: PASS password");
    co_return;
  }
  co_await Login(std::move(user), command.argument, "USER");
}

Task<std::optional<std::string>> Pop3Session::ReadSaslResponse(
    std::string_view prompt) {
  conn_.Queue("+ " + std::string(prompt) + "\r\n");
  co_await FlushNow();
  if (closing_) co_return std::nullopt;

  auto line = co_await conn_.ReadLine(options_.max_line_length);
  if (!line) {
    if (line.error().code == ErrorCode::kProtocol) {
      co_await Err("Authentication exchange line too long");
    } else {
      co_await HandleReadError(line.error(), "AUTH");
    }
    co_return std::nullopt;
  }
  std::string_view text = StripTerminator(*line);
  // RFC 5034 section 4: "*" cancels the exchange.
  if (text == "*") {
    co_await Err("Authentication canceled");
    co_return std::nullopt;
  }
  co_return std::string(text);
}

Task<void> Pop3Session::CmdAuth(const Pop3Command& command) {
  std::string_view argument = command.argument;
  // Without a mechanism, list the ones on offer, as many clients expect
  // (the form predates RFC 5034 but is harmless).
  if (argument.empty()) {
    Ok("Supported mechanisms follow");
    conn_.Queue(PlaintextAllowedNow() ? "PLAIN\r\n.\r\n" : ".\r\n");
    co_return;
  }

  size_t space = argument.find(' ');
  std::string_view mechanism = argument.substr(0, space);
  std::optional<std::string> initial;
  if (space != std::string_view::npos) {
    initial = std::string(argument.substr(space + 1));
  }
  if (!EqualsIgnoreCase(mechanism, "PLAIN")) {
    co_await Err("Unsupported authentication mechanism");
    co_return;
  }
  if (!PlaintextAllowedNow()) {
    std::string text = std::string(kCodeAuth) + std::string(kPlaintextRefused);
    co_await Err(text);
    co_return;
  }

  // RFC 5034 section 4: no initial response means an empty challenge;
  // "=" is an empty initial response, which PLAIN cannot use.
  if (!initial) initial = co_await ReadSaslResponse("");
  if (!initial) co_return;
  auto decoded =
      *initial == "=" ? std::optional<std::string>("") : DecodeBase64(*initial);
  if (!decoded) {
    co_await Err("Invalid base64 in authentication response");
    co_return;
  }
  auto credentials = ParseSaslPlain(*decoded);
  if (!credentials) {
    co_await Err("Malformed PLAIN authentication response");
    co_return;
  }
  // There is no proxy authorization: one may only act as oneself.
  if (!credentials->authzid.empty() &&
      !EqualsIgnoreCase(credentials->authzid, credentials->authcid)) {
    conn_.log().Notice("auth_failed", {{"mechanism", "PLAIN"},
                                       {"user", credentials->authcid},
                                       {"error", "authzid differs"}});
    std::string text = std::string(kCodeAuth) + "Authentication failed";
    co_await Err(text);
    co_return;
  }
  co_await Login(std::move(credentials->authcid),
                 std::move(credentials->password), "PLAIN");
}

Task<void> Pop3Session::Login(std::string user, std::string password,
                              std::string_view mechanism) {
  // The password check is slow on purpose, and the directory may be
  // remote: off the event loop.
  Result<Account> account = Fail(ErrorCode::kTemporary, "not checked");
  Directory* directory = deps_.directory;
  co_await Offload([&account, directory, &user, &password] {
    account = directory->Authenticate(user, password);
  });
  password.assign(password.size(), '\0');
  if (!account) {
    ErrorCode code = account.error().code;
    bool refused = code == ErrorCode::kPermanent ||
                   code == ErrorCode::kNotFound || code == ErrorCode::kInvalid;
    conn_.log().Notice("auth_failed", {{"mechanism", mechanism},
                                       {"user", user},
                                       {"error", account.error().message}});
    // RFC 3206 section 4: [AUTH] for bad credentials, [SYS/TEMP] when
    // the server could not decide.
    std::string text =
        refused
            ? std::string(kCodeAuth) + "Authentication failed"
            : std::string(kCodeSysTemp) + "Temporary authentication failure";
    co_await Err(text);
    co_return;
  }

  // RFC 1939 section 4: the server acquires an exclusive lock on the
  // maildrop; RFC 2449 section 8.1.1: [IN-USE] if it cannot.
  auto lock = deps_.locks->TryLock(account->id);
  if (!lock) {
    conn_.log().Notice("login_refused", {{"mechanism", mechanism},
                                         {"user", account->address},
                                         {"reason", "in use"}});
    std::string text =
        std::string(kCodeInUse) + "Mailbox is locked by another POP3 session";
    co_await Err(text);
    co_return;
  }

  // The snapshot: what this session will show, whatever arrives later.
  Result<Maildrop> drop = Fail(ErrorCode::kTemporary, "not loaded");
  MessageStore* store = deps_.store;
  const std::string& account_id = account->id;
  co_await Offload([&drop, store, &account_id] {
    drop = Maildrop::Load(*store, account_id);
  });
  if (!drop) {
    conn_.log().Error("maildrop_failed", {{"user", account->address},
                                          {"error", drop.error().ToString()}});
    std::string text = std::string(kCodeSysTemp) + "Cannot open maildrop";
    co_await Err(text);
    co_return;
  }

  lock_.emplace(std::move(*lock));
  maildrop_.emplace(std::move(*drop));
  user_ = account->address;
  conn_.AddLogContext("user", user_);
  conn_.log().Notice(
      "login",
      {{"mechanism", mechanism},
       {"messages", static_cast<uint64_t>(maildrop_->messages().size())}});
  SetState(Pop3State::kTransaction);
  std::string text = "Logged in, " + std::to_string(maildrop_->LiveCount()) +
                     " messages (" + std::to_string(maildrop_->LiveSize()) +
                     " octets)";
  Ok(text);
}

}  // namespace corvus::pop3
