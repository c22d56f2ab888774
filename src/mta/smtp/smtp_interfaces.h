// What an SMTP, submission or LMTP session needs from the rest of the
// mta role, as four narrow interfaces the session calls:
//
//   RecipientPolicy  decides each RCPT (local user? relay allowed?)
//   MessageSink      makes an accepted message durable (the queue)
//   LmtpDelivery     delivers to the local store, one result per recipient
//   Authenticator    checks SASL PLAIN/LOGIN credentials (submission)
//
// plus the plain values passed to them (SessionInfo, Envelope). The
// session owns the protocol; these own the decisions and the storage.
//
// Thread safety: one instance of each interface is shared by every
// session of a listener, and sessions run on several event loops at once,
// so implementations must be safe to call concurrently. Calls are
// coroutines: blocking work (fsync, SQLite, LDAP) belongs in Offload().
#ifndef CORVUS_MTA_SMTP_SMTP_INTERFACES_H_
#define CORVUS_MTA_SMTP_SMTP_INTERFACES_H_

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/task.h"
#include "mta/smtp/smtp_command.h"

namespace corvus::mta {

enum class SmtpMode {
  kSmtp,        // port 25: no AUTH; the recipient policy decides relay
  kSubmission,  // 587/465: AUTH required before MAIL
  kLmtp,        // RFC 2033: LHLO, one reply per recipient after DATA
};

// What the session knows about its client when it asks a question.
struct SessionInfo {
  SmtpMode mode = SmtpMode::kSmtp;
  uint64_t connection_id = 0;
  std::string client_address;  // IP literal, no brackets
  bool loopback = false;
  bool tls = false;
  // The client address lies in [smtp] trusted_networks.
  bool trusted = false;
  std::string helo;           // EHLO/HELO/LHLO argument; empty before it
  std::string authenticated;  // SASL identity; empty if none
  std::string mail_from;      // current transaction's sender; "" for <>
  bool smtputf8 = false;      // current transaction uses SMTPUTF8

  // A client may relay to remote domains when it is trusted or logged in.
  bool relay_allowed() const { return trusted || !authenticated.empty(); }
};

// The answer to one RCPT. The session sends `reply` as is; a 2xx reply
// accepts the recipient.
struct RcptVerdict {
  SmtpReply reply;

  bool accepted() const { return reply.code >= 200 && reply.code < 300; }

  static RcptVerdict Accept() { return {{250, "2.1.5", "Ok"}}; }
  static RcptVerdict UnknownUser() {
    return {{550, "5.1.1", "Recipient address rejected: User unknown"}};
  }
  static RcptVerdict RelayDenied() {
    return {{550, "5.7.1", "Relay access denied"}};
  }
  // A temporary failure, e.g. the directory is unreachable.
  static RcptVerdict TryLater(std::string text) {
    return {{452, "4.3.0", std::move(text)}};
  }
};

class RecipientPolicy {
 public:
  virtual ~RecipientPolicy() = default;

  // Decides whether `address` (the mailbox of a well-formed RCPT path,
  // e.g. "user@example.com", or "postmaster") is accepted in the current
  // transaction. Must never reveal more than the reply says. Called once
  // per RCPT, in order; the session enforces max_recipients itself.
  virtual Task<RcptVerdict> CheckRecipient(const SessionInfo& session,
                                           std::string_view address) = 0;
};

// One accepted recipient with its DSN parameters (RFC 3461).
struct Recipient {
  std::string address;  // mailbox as in the RCPT path
  std::string notify;   // NOTIFY= upper-cased; empty if not given
  std::string orcpt;    // ORCPT= as sent; empty if not given
};

// A complete transaction, as handed to MessageSink or LmtpDelivery.
struct Envelope {
  // Assigned by the session (NewQueueId()) before the data is handed
  // over, and already named in the Received: header the session
  // prepended; the queue should store the message under this id.
  std::string queue_id;
  std::string mail_from;           // "" for the null reverse path <>
  std::vector<Recipient> rcpt_to;  // accepted recipients, in RCPT order
  bool smtputf8 = false;
  // The client declared BODY=8BITMIME (or the data holds 8-bit bytes).
  bool body_8bit = false;
  std::string ret;    // RET= (FULL/HDRS) or empty
  std::string envid;  // ENVID= xtext or empty
  // LMTP only: the sending queue's id (XQUEUEID=), empty if not given.
  std::string upstream_queue_id;
  std::string helo;
  std::string client_address;
  bool tls = false;
  std::string authenticated;  // SASL identity; empty if none
  std::string protocol;       // what Received: says after "with", e.g. ESMTPSA
  std::chrono::system_clock::time_point received_at;
};

class MessageSink {
 public:
  virtual ~MessageSink() = default;

  // Stores a message for later delivery. `data` is the whole message
  // with CRLF line endings, dot-unstuffing done and the session's
  // Received: header first. Must return only once the message is durable
  // (DESIGN.md invariant 1): the session replies 250 after an OK and
  // never before. Returns the queue id (normally envelope.queue_id).
  // Errors: kPermanent makes the session reply 554 5.3.0; anything else
  // 451 4.3.0. The sink is never called for a transaction the client did
  // not finish (vanished mid-DATA, data rejected).
  virtual Task<Result<std::string>> Accept(const Envelope& envelope,
                                           std::string data) = 0;
};

class LmtpDelivery {
 public:
  virtual ~LmtpDelivery() = default;

  // Delivers one message to every recipient of `envelope` and returns
  // exactly one reply per envelope.rcpt_to entry, in the same order
  // (RFC 2033 §4.2): 250 once durable, 552 5.2.2 over quota, 550 5.1.1
  // gone, 451 4.x temporary. `data` is as for MessageSink::Accept. A
  // vector of the wrong length is answered 451 4.3.0 for every recipient.
  virtual Task<std::vector<SmtpReply>> Deliver(const Envelope& envelope,
                                               std::string data) = 0;

  // Delivers several messages as Deliver() would each, but together, so
  // that they share their flushes: one reply vector per envelope, in the
  // same order. The spans must stay valid until the task ends.
  virtual Task<std::vector<std::vector<SmtpReply>>> DeliverMany(
      std::span<const Envelope> envelopes,
      std::span<const std::string_view> data) = 0;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;

  // Checks a SASL PLAIN/LOGIN credential. `authzid` is the requested
  // authorization identity (empty for none; LOGIN never has one).
  // Returns the identity to record (e.g. the canonical account address).
  // Errors: kPermanent, kNotFound or kInvalid for bad credentials (the
  // session replies 535 5.7.8, without saying which part was wrong);
  // anything else 454 4.7.0. The password must never be logged.
  virtual Task<Result<std::string>> Authenticate(const SessionInfo& session,
                                                 std::string_view authzid,
                                                 std::string_view username,
                                                 std::string_view password) = 0;
};

}  // namespace corvus::mta

#endif  // CORVUS_MTA_SMTP_SMTP_INTERFACES_H_
