// STARTTLS, LOGIN and AUTHENTICATE PLAIN (RFC 3501 §6.2, RFC 4616,
// RFC 4959 SASL-IR).
#include "common/log.h"
#include "common/sasl.h"
#include "mailbox/imap/session.h"

namespace corvus::imap {
namespace {

std::string_view StripTerminator(std::string_view line) {
  if (line.ends_with("\r\n")) {
    line.remove_suffix(2);
  } else if (line.ends_with('\n')) {
    line.remove_suffix(1);
  }
  return line;
}

}  // namespace

Task<Completion> ImapSession::CmdStartTls(const ImapCommand& command) {
  if (!ImapReader(command.args).AtEnd()) {
    co_return Completion::Bad("STARTTLS takes no arguments");
  }
  if (!conn_.tls_available() || conn_.is_tls()) {
    co_return Completion::Bad("TLS not available");
  }
  // The tagged OK must reach the client in the clear before the
  // handshake, so it is written here, and Dispatch() is told to skip it.
  Tagged(command.tag, Completion::Ok("Begin TLS negotiation now"));
  skip_tagged_ = true;
  co_await FlushNow();
  if (closing_) co_return Completion::Ok("");
  if (auto tls = co_await conn_.StartTls(); !tls) {
    conn_.log().Notice("imap_starttls_failed",
                       {{"error", tls.error().message}});
    conn_.NoteCloseReason("TLS handshake failed");
    closing_ = true;
  }
  // RFC 3501 §6.2.1: nothing more is said; the client must ask for
  // CAPABILITY again, and gets the post-TLS list.
  co_return Completion::Ok("");
}

Task<Completion> ImapSession::CmdLogin(const ImapCommand& command) {
  ImapReader r(command.args);
  auto user = r.AString();
  if (!user || !r.Consume(' ')) co_return Completion::Bad("Invalid LOGIN");
  auto password = r.AString();
  if (!password || !r.AtEnd()) co_return Completion::Bad("Invalid LOGIN");
  co_return co_await Login(*user, *password, "LOGIN");
}

Task<Completion> ImapSession::CmdAuthenticate(const ImapCommand& command) {
  ImapReader r(command.args);
  auto mechanism = r.Atom();
  if (!mechanism) co_return Completion::Bad("Missing SASL mechanism");
  std::string mech = *mechanism;
  for (char& c : mech) c = static_cast<char>(std::toupper(c));
  if (mech != "PLAIN") {
    co_return Completion::No("[CANNOT] Unsupported authentication mechanism");
  }

  // RFC 4959: the initial response may come on the command line; "="
  // stands for an empty one.
  std::string response;
  if (r.Consume(' ')) {
    auto initial = r.Atom();
    if (!initial || !r.AtEnd()) co_return Completion::Bad("Invalid response");
    response = *initial;
  } else {
    if (!r.AtEnd()) co_return Completion::Bad("Invalid AUTHENTICATE");
    if (!PlaintextAuthAllowed()) {
      co_return Completion::No("[PRIVACYREQUIRED] Use STARTTLS first");
    }
    conn_.Queue("+ \r\n");
    co_await FlushNow();
    if (closing_) co_return Completion::No("Connection lost");
    auto line = co_await conn_.ReadLine(options_.max_line_length);
    if (!line) {
      if (line.error().code != ErrorCode::kProtocol) {
        closing_ = true;
        conn_.NoteCloseReason("client closed in AUTHENTICATE");
      }
      co_return Completion::Bad("Invalid response");
    }
    response = std::string(StripTerminator(*line));
    // RFC 3501 §6.2.2: "*" cancels the exchange.
    if (response == "*") co_return Completion::Bad("Authentication cancelled");
  }

  std::optional<std::string> decoded =
      response == "=" ? std::optional<std::string>("") : DecodeBase64(response);
  if (!decoded) co_return Completion::Bad("Invalid base64 response");
  std::optional<PlainCredentials> plain = ParseSaslPlain(*decoded);
  if (!plain) co_return Completion::Bad("Invalid PLAIN response");
  if (!plain->authzid.empty() && plain->authzid != plain->authcid) {
    co_return Completion::No("[AUTHORIZATIONFAILED] Proxy login not allowed");
  }
  co_return co_await Login(plain->authcid, plain->password, "PLAIN");
}

Task<Completion> ImapSession::Login(std::string_view user,
                                    std::string_view password,
                                    std::string_view mechanism) {
  // RFC 3501 §6.2.3 and RFC 8314: no clear-text passwords over an
  // unencrypted connection unless the operator allows it.
  if (!PlaintextAuthAllowed()) {
    ++errors_;
    co_return Completion::No("[PRIVACYREQUIRED] Use STARTTLS first");
  }

  Result<Account> account = Fail(ErrorCode::kPermanent, "not checked");
  Directory& directory = deps_.directory;
  const std::string user_copy(user);
  const std::string password_copy(password);
  co_await Offload(
      [&] { account = directory.Authenticate(user_copy, password_copy); });
  if (!account) {
    ++errors_;
    conn_.log().Notice("imap_login_failed",
                       {{"user", SanitizeForLog(user_copy)},
                        {"mechanism", mechanism},
                        {"error", account.error().message}});
    if (account.error().code == ErrorCode::kTemporary) {
      co_return Completion::No("[UNAVAILABLE] Try again later");
    }
    co_return Completion::No("[AUTHENTICATIONFAILED] Authentication failed");
  }

  // TODO(corvus): the account's home_server is not checked; behind the
  // proxy that is the proxy's job, but a client reaching this server
  // directly could open a mailbox that lives elsewhere (and get an empty
  // one). Costs correctness only in multi-server deployments.
  auto subscription = deps_.events.Subscribe(account->id);
  if (!subscription) {
    conn_.log().Notice(
        "imap_login_refused",
        {{"user", SanitizeForLog(user_copy)}, {"reason", "too many sessions"}});
    co_return Completion::No("[LIMIT] Too many sessions for this account");
  }
  // The account's database may not exist yet (no mail delivered so far).
  account_ = std::move(*account);
  // Checked already; a long-lived session has no use for it.
  account_.password_hash.clear();
  account_.password_hash.shrink_to_fit();
  events_ = std::move(*subscription);
  auto opened = co_await WithAccount([](AccountStore&) { return Status{}; });
  if (!opened) {
    events_.reset();
    conn_.log().Error("imap_account_open_failed",
                      {{"error", opened.error().ToString()}});
    co_return Completion::No("[UNAVAILABLE] Mailbox unavailable");
  }

  SetState(ImapState::kAuthenticated);
  conn_.SetTimeout(options_.idle_timeout);
  conn_.AddLogContext("account", account_.id);
  conn_.log().Notice("imap_login", {{"user", SanitizeForLog(user_copy)},
                                    {"mechanism", mechanism},
                                    {"tls", conn_.is_tls() ? "yes" : "no"}});
  co_return Completion::Ok("[CAPABILITY " + Capabilities() + "] Logged in");
}

}  // namespace corvus::imap
