// IMAP4rev1 server sessions (RFC 3501) on the mailbox store, as a Handler
// for a corvus::Server listener.
//
// `corvus serve` builds ImapOptions from the configuration, gives them,
// the store, the directory and the AccountEvents hub to MakeImapHandler(),
// and registers the handler for the imap/imaps listeners.
//
// Extensions: LITERAL+, SASL-IR (AUTH=PLAIN), ID, ENABLE, IDLE,
// NAMESPACE, UNSELECT, UIDPLUS, MOVE, CHILDREN, SPECIAL-USE,
// LIST-EXTENDED, LIST-STATUS, CONDSTORE, QRESYNC, ESEARCH, SEARCHRES,
// BINARY, MULTIAPPEND, QUOTA, UTF8=ACCEPT, STARTTLS.
//
// Wiring: one AccountEvents hub per process, shared by every IMAP
// listener and by whatever delivers mail (LMTP), which must call
// AccountEvents::Notify(account_id) after each committed delivery so that
// IDLE sessions see it at once (NOOP, CHECK and a 30 s IDLE poll catch it
// anyway, later).
//
// What a session guarantees (imap_session_test.cc holds it):
//   - LOGIN and AUTHENTICATE PLAIN only over TLS, unless [auth] plaintext
//     allows it for this peer; otherwise NO [PRIVACYREQUIRED], and
//     LOGINDISABLED is advertised;
//   - message sequence numbers stay consistent: changes made by others
//     (deliveries, other sessions) reach the client as EXISTS, FETCH and
//     EXPUNGE/VANISHED only where RFC 3501 §7.4.1 allows, never while
//     answering FETCH, STORE or SEARCH;
//   - every change this session makes is committed before its tagged OK,
//     and AccountEvents::Notify() is called for it;
//   - bad input (overlong lines, oversized literals, deep nesting, bad
//     modified UTF-7, NUL bytes) gets a BAD or NO and changes nothing; an
//     error budget ends sessions that keep sending it;
//   - one closing log line per session (from the Server) and a notice per
//     login and failed login; never a password or a message body.
//
// Thread safety: options and dependencies are shared read-only by all
// sessions of a listener; each session runs on its connection's loop and
// reaches the store only through Offload().
#ifndef CORVUS_MAILBOX_IMAP_IMAP_SESSION_H_
#define CORVUS_MAILBOX_IMAP_IMAP_SESSION_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "common/config.h"
#include "common/net.h"
#include "common/result.h"
#include "directory/directory.h"
#include "mailbox/imap/account_events.h"
#include "store/store.h"

namespace corvus::imap {

struct ImapOptions {
  std::string hostname = "localhost";  // in the greeting
  PlaintextAuth plaintext_auth = PlaintextAuth::kLoopback;
  size_t max_line_length = 8192;  // one command line, terminator included
  // Largest literal accepted (APPEND messages included).
  uint64_t max_literal_size = 50 * 1024 * 1024;
  // Largest literal in a command other than APPEND; a name or a search
  // string has no business being bigger.
  uint64_t max_small_literal_size = 64 * 1024;
  // RFC 3501 §5.4: an inactivity timer of at least 30 minutes once
  // logged in. Before login a client has no business being idle, and a
  // short timer keeps idle sockets from holding connection slots.
  std::chrono::seconds idle_timeout{1800};
  std::chrono::seconds login_timeout{60};
  int max_errors = 20;        // hard limit: BYE and close
  int soft_error_limit = 10;  // past it, error replies are delayed
  std::chrono::milliseconds error_delay{1000};
};

// Builds options from [server] hostname, [limits], [auth] and [smtp]
// max_message_size (the largest APPEND). Config has validated them all,
// so this does not fail today; the Result keeps room for checks.
Result<ImapOptions> ImapOptionsFromConfig(const Config& config);

// What sessions use. Not owned; must outlive the listener.
struct ImapDependencies {
  MessageStore& store;
  Directory& directory;
  AccountEvents& events;
};

// Returns a Handler that runs one IMAP session per connection.
Result<Handler> MakeImapHandler(ImapOptions options, ImapDependencies deps);

}  // namespace corvus::imap

#endif  // CORVUS_MAILBOX_IMAP_IMAP_SESSION_H_
