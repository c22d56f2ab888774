// AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms, for
// submission listeners. Credentials go to the Authenticator and nowhere
// else: not to logs, not to NoteCommand.
#include <array>
#include <cstdint>
#include <optional>

#include "common/sasl.h"
#include "mta/smtp/session.h"

namespace corvus::mta {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

}  // namespace

Task<std::optional<std::string>> SmtpSession::ReadSaslResponse(
    std::string_view prompt) {
  conn_.Queue("334 " + std::string(prompt) + "\r\n");
  co_await FlushNow();
  if (closing_) co_return std::nullopt;

  auto line = co_await conn_.ReadLine(options_.max_line_length);
  if (!line) {
    if (line.error().code == ErrorCode::kProtocol) {
      co_await Reply(500, "5.5.6", "Authentication exchange line too long");
    } else {
      co_await HandleReadError(line.error(), "AUTH");
    }
    co_return std::nullopt;
  }
  std::string_view text = *line;
  if (text.ends_with("\r\n")) {
    text.remove_suffix(2);
  } else if (text.ends_with('\n')) {
    text.remove_suffix(1);
  }
  // RFC 4954 §4: "*" cancels the exchange.
  if (text == "*") {
    co_await Reply(501, "5.7.0", "Authentication canceled");
    co_return std::nullopt;
  }
  co_return std::string(text);
}

Task<void> SmtpSession::CmdAuth(const SmtpCommand& command) {
  if (!authenticated_.empty()) {
    // RFC 4954 §4: only one successful AUTH per session.
    co_await Reply(503, "5.5.1", "Already authenticated");
    co_return;
  }
  if (InTransaction()) {
    co_await Reply(503, "5.5.1", "AUTH not allowed during a transaction");
    co_return;
  }
  if (!AuthAllowedNow()) {
    co_await Reply(538, "5.7.11",
                   "Encryption required for requested authentication "
                   "mechanism");
    co_return;
  }

  std::string_view argument = command.argument;
  size_t space = argument.find(' ');
  std::string_view mechanism = argument.substr(0, space);
  std::optional<std::string> initial;
  if (space != std::string_view::npos) {
    initial = std::string(argument.substr(space + 1));
  }
  bool plain = EqualsIgnoreCase(mechanism, "PLAIN");
  if (!plain && !EqualsIgnoreCase(mechanism, "LOGIN")) {
    co_await Reply(504, "5.5.4", "Unrecognized authentication type");
    co_return;
  }

  // Collect the credentials, base64-encoded, one step at a time.
  const SmtpReply bad_encoding{501, "5.5.2", "Cannot decode response"};
  PlainCredentials credentials;
  if (plain) {
    if (!initial) initial = co_await ReadSaslResponse("");
    if (!initial) co_return;
    // RFC 4954 §4: "=" is an empty initial response.
    auto decoded = *initial == "=" ? std::optional<std::string>("")
                                   : DecodeBase64(*initial);
    auto split = decoded ? ParseSaslPlain(*decoded) : std::nullopt;
    if (!split) {
      co_await Reply(bad_encoding);
      co_return;
    }
    credentials = std::move(*split);
  } else {
    if (!initial) initial = co_await ReadSaslResponse("VXNlcm5hbWU6");
    if (!initial) co_return;
    auto username = DecodeBase64(*initial);
    if (!username || username->empty()) {
      co_await Reply(bad_encoding);
      co_return;
    }
    auto response = co_await ReadSaslResponse("UGFzc3dvcmQ6");
    if (!response) co_return;
    auto password = DecodeBase64(*response);
    if (!password || password->empty()) {
      co_await Reply(bad_encoding);
      co_return;
    }
    credentials = {"", std::move(*username), std::move(*password)};
  }

  const SessionInfo info = Info();
  auto identity = co_await deps_.authenticator->Authenticate(
      info, credentials.authzid, credentials.authcid, credentials.password);
  std::string mech = plain ? "PLAIN" : "LOGIN";
  if (!identity) {
    ErrorCode code = identity.error().code;
    bool bad = code == ErrorCode::kPermanent || code == ErrorCode::kNotFound ||
               code == ErrorCode::kInvalid;
    conn_.log().Notice("auth_failed", {{"mechanism", mech},
                                       {"user", credentials.authcid},
                                       {"error", identity.error().message}});
    if (bad) {
      co_await Reply(535, "5.7.8", "Authentication credentials invalid");
    } else {
      co_await Reply(454, "4.7.0", "Temporary authentication failure");
    }
    co_return;
  }
  authenticated_ = *identity;
  conn_.AddLogContext("user", authenticated_);
  conn_.log().Notice("login", {{"mechanism", mech}});
  co_await Reply(235, "2.7.0", "Authentication successful");
}

}  // namespace corvus::mta
