// POP3 (RFC 1939) server sessions for the mailbox role, with CAPA and
// RESP-CODES (RFC 2449), STLS (RFC 2595), SASL PLAIN (RFC 5034, RFC 4616)
// and AUTH-RESP-CODE (RFC 3206), as a Handler for corvus::Server
// listeners (pop3 on 110 and implicit-TLS pop3s on 995).
//
// `corvus serve` builds one Pop3Options from the configuration, hands it
// with the store and directory to MakePop3Handler(), and registers the
// handler on both listeners.
//
// What a session guarantees (tests in pop3_session_test.cc and
// pop3_poplib_test.py hold it):
//   - it sees INBOX as it was at login; other folders are invisible, and
//     mail arriving later appears in the next session;
//   - it is the account's only POP3 session: a second login gets
//     "-ERR [IN-USE]" (see maildrop.h for the lock and its scope);
//   - nothing changes in the store unless the client says QUIT in the
//     TRANSACTION state: then, in the UPDATE state, retrieved messages get
//     \Seen and DELEted ones are expunged. A dropped connection, a
//     timeout or a shutdown changes nothing (RFC 1939 section 6);
//   - RETR and TOP send the stored bytes, dot-stuffed;
//   - USER/PASS and AUTH are refused without TLS unless [auth] plaintext
//     allows them for this client;
//   - an error budget: every -ERR counts; past soft_error_limit each one
//     is delayed by error_delay, at max_errors the session says -ERR and
//     hangs up;
//   - log lines: notice "login" and "auth_failed" (never a password),
//     info "update" with what UPDATE changed; the server's closing line
//     carries the last command and the close reason.
//
// Thread safety: options and dependencies are shared read-only by every
// session of a listener; each session runs on its connection's loop and
// does every blocking call (directory, store) through Offload().
#ifndef CORVUS_MAILBOX_POP3_POP3_SESSION_H_
#define CORVUS_MAILBOX_POP3_POP3_SESSION_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/net.h"
#include "common/result.h"
#include "common/task.h"
#include "directory/directory.h"
#include "mailbox/pop3/maildrop.h"
#include "store/store.h"

namespace corvus::pop3 {

struct Pop3Options {
  std::string hostname = "localhost";  // greeting
  PlaintextAuth plaintext_auth = PlaintextAuth::kLoopback;
  // Command and SASL response lines, terminator included. RFC 2449
  // section 4 bounds commands at 255 octets; a longer AUTH initial
  // response is still allowed up to this limit.
  size_t max_line_length = 8192;
  // Idle limit before login.
  std::chrono::seconds auth_timeout{300};
  // Idle limit after login. RFC 1939 section 3: the autologout timer
  // must be at least 10 minutes; Pop3OptionsFromConfig() enforces that.
  std::chrono::seconds transaction_timeout{600};
  int max_errors = 20;        // hard limit: -ERR and close
  int soft_error_limit = 10;  // past it, error replies are delayed
  std::chrono::milliseconds error_delay{1000};
};

// Builds the options from [server] hostname, [auth] plaintext and
// [limits] (max_line_length, idle_timeout_seconds). Config has validated
// them all, so this does not fail today.
Result<Pop3Options> Pop3OptionsFromConfig(const Config& config);

// What sessions use. The store and directory must outlive the handler
// and every session it runs.
struct Pop3Dependencies {
  MessageStore* store = nullptr;   // required
  Directory* directory = nullptr;  // required
  // The POP3 locks; null means Pop3LockRegistry::Shared(). Every POP3
  // listener of a process must use the same registry.
  std::shared_ptr<Pop3LockRegistry> locks;
};

// Returns a Handler that runs one session per connection. Errors:
// kConfig if the store or directory is missing.
Result<Handler> MakePop3Handler(Pop3Options options, Pop3Dependencies deps);

// Runs one session on `conn` until QUIT, an error or shutdown. Requires
// deps.store, deps.directory and deps.locks (MakePop3Handler fills in
// and checks them).
Task<void> RunPop3Session(Connection& conn, const Pop3Options& options,
                          const Pop3Dependencies& deps);

}  // namespace corvus::pop3

#endif  // CORVUS_MAILBOX_POP3_POP3_SESSION_H_
