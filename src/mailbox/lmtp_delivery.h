// The mailbox role's side of LMTP: what happens to a message once an LMTP
// session has received it (the session itself is mta/smtp, in LMTP mode).
//
// Each recipient is looked up in the directory; the message is parsed once
// for its cached IMAP envelope and body structure; then the store writes
// the blob once and one row per account (mailbox/store invariants: blob
// before row, both durable before the 250). Deliveries from concurrent LMTP
// sessions are group-committed: one flush for many messages.
//
// Thread safety: shared by every LMTP session; blocking work runs through
// Offload().
#ifndef CORVUS_MAILBOX_LMTP_DELIVERY_H_
#define CORVUS_MAILBOX_LMTP_DELIVERY_H_

#include <functional>
#include <string_view>

#include "common/group_commit.h"
#include "common/log.h"
#include "directory/directory.h"
#include "mta/smtp/smtp_interfaces.h"
#include "store/store.h"

namespace corvus {

// Told the id of each account that received mail, after the commit, so
// that its IMAP sessions (IDLE) see the new message at once.
using AccountChanged = std::function<void(std::string_view account_id)>;

class StoreLmtpDelivery final : public mta::LmtpDelivery {
 public:
  StoreLmtpDelivery(MessageStore& store, Directory& directory, Logger log,
                    AccountChanged changed = {})
      : store_(store),
        directory_(directory),
        log_(std::move(log)),
        changed_(std::move(changed)) {}

  // One reply per recipient: 250 2.1.5 once durable; 550 5.1.1 unknown
  // account; 550 5.2.1 closed account; 552 5.2.2 over quota; 451 4.3.0
  // on a store or directory failure.
  Task<std::vector<mta::SmtpReply>> Deliver(const mta::Envelope& envelope,
                                            std::string data) override;

 private:
  using BatchResult = Result<std::vector<RecipientResult>>;

  MessageStore& store_;
  Directory& directory_;
  Logger log_;
  AccountChanged changed_;
  GroupCommit<Delivery, BatchResult> group_commit_;
};

}  // namespace corvus

#endif  // CORVUS_MAILBOX_LMTP_DELIVERY_H_
