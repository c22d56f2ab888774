// The client side of SMTP and LMTP, used by the queue to hand a message to
// the next hop: the home mailbox server of local recipients (LMTP) or a
// relay host for remote ones (SMTP).
//
// One call is one transaction: connect, greeting, LHLO/EHLO, MAIL, one
// RCPT per recipient, DATA with dot-stuffing, QUIT. The result holds one
// reply per recipient, so the queue can mark each one on its own: with
// LMTP each accepted recipient gets its own reply after the data
// (RFC 2033 §4.2); with SMTP they all share the reply to the data.
//
// Thread safety: the function is a coroutine on the caller's event loop;
// it shares nothing.
#ifndef CORVUS_MTA_QUEUE_MAIL_CLIENT_H_
#define CORVUS_MTA_QUEUE_MAIL_CLIENT_H_

#include <chrono>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/task.h"

namespace corvus {

struct MailClientOptions {
  Endpoint endpoint;
  bool lmtp = true;
  std::string helo = "localhost";
  std::chrono::seconds timeout{300};  // per command and for the data
  // Sent as the XQUEUEID MAIL parameter when the server advertises it, so
  // that a Corvus mailbox server can drop a re-delivery after a crash.
  std::string queue_id;
};

// The outcome for one recipient.
struct RecipientReply {
  int code = 0;      // SMTP reply code; 0 if none was received
  std::string text;  // "451 4.4.1 connection refused" etc., one line
  bool ok() const { return code >= 200 && code < 300; }
  // A 5xx is final; anything else (4xx, no reply) is worth a retry.
  bool permanent() const { return code >= 500; }
};

// Sends `data` (CRLF line endings) from `sender` to `recipients` and
// returns one reply per recipient in order. Connection and protocol
// failures come back as a 4xx for every recipient not yet answered.
// `data` is not copied: it must outlive the coroutine (the caller
// co_awaits it at once).
Task<std::vector<RecipientReply>> SendMail(MailClientOptions options,
                                           std::string sender,
                                           std::vector<std::string> recipients,
                                           const std::string& data);

// Applies SMTP dot-stuffing and guarantees a final CRLF (RFC 5321
// §4.5.2), ready to be followed by ".\r\n".
std::string DotStuff(std::string_view data);

}  // namespace corvus

#endif  // CORVUS_MTA_QUEUE_MAIL_CLIENT_H_
