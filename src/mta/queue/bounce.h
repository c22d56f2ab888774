// Delivery status notifications (RFC 3464) for recipients that failed for
// good: the bounce the queue sends to the original sender.
//
// Thread safety: pure functions.
#ifndef CORVUS_MTA_QUEUE_BOUNCE_H_
#define CORVUS_MTA_QUEUE_BOUNCE_H_

#include <string>
#include <vector>

#include "mta/queue/queue.h"

namespace corvus {

struct FailedRecipient {
  std::string address;   // final recipient
  std::string original;  // as given in RCPT TO
  std::string reply;     // the last reply or reason, one line
};

// Builds a multipart/report; report-type=delivery-status message from
// MAILER-DAEMON@`hostname` to `original.sender`, quoting the headers of
// `original_data` (never its body: the sender has it, and the body may be
// large). Requires a non-empty sender: a bounce is never sent to <>.
std::string BuildBounce(const std::string& hostname,
                        const QueuedMessage& original,
                        const std::string& original_data,
                        const std::vector<FailedRecipient>& failed);

}  // namespace corvus

#endif  // CORVUS_MTA_QUEUE_BOUNCE_H_
