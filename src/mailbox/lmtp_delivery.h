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
#include <span>
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

  // The queue's in-process hand-over: every message of the batch in one
  // store batch (one blob flush, one commit flush), replies as Deliver().
  Task<std::vector<std::vector<mta::SmtpReply>>> DeliverMany(
      std::span<const mta::Envelope> envelopes,
      std::span<const std::string_view> data) override;

 private:
  using BatchResult = Result<std::vector<RecipientResult>>;
  // One message on its way into the store.
  struct Pending {
    Delivery delivery;       // the recipients that are accounts here
    std::vector<size_t> slot;  // delivery.recipients[k] -> replies[slot[k]]
    std::vector<mta::SmtpReply> replies;  // one per envelope recipient
  };

  // Blocking. Looks the recipients up (replying now for those that are
  // not accounts here) and parses the message for its cached IMAP texts.
  Pending Prepare(const mta::Envelope& envelope, std::string_view data);
  // Blocking. Turns the store's results into the replies.
  void Finish(Pending& pending, const BatchResult& results);

  MessageStore& store_;
  Directory& directory_;
  Logger log_;
  AccountChanged changed_;
  GroupCommit<Delivery, BatchResult> group_commit_;
};

}  // namespace corvus

#endif  // CORVUS_MAILBOX_LMTP_DELIVERY_H_
