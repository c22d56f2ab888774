#include "mailbox/lmtp_delivery.h"

#include "common/net.h"
#include "mime/imap_render.h"
#include "mime/message.h"

namespace corvus {
namespace {

mta::SmtpReply Reply(int code, const char* enhanced, std::string text) {
  return {code, enhanced, std::move(text)};
}

}  // namespace

Task<std::vector<mta::SmtpReply>> StoreLmtpDelivery::Deliver(
    const mta::Envelope& envelope, std::string data) {
  std::vector<mta::SmtpReply> replies(envelope.rcpt_to.size());
  co_await Offload([&] {
    // Who gets it: each recipient must be an account here.
    Delivery delivery;
    delivery.data = data;
    // A queue re-sending after a crash is answered 250 without a copy.
    delivery.delivery_id = envelope.upstream_queue_id;
    std::vector<size_t> slot;  // delivery.recipients[k] -> replies[slot[k]]
    for (size_t i = 0; i < envelope.rcpt_to.size(); ++i) {
      auto account = directory_.GetAccount(envelope.rcpt_to[i].address);
      if (!account) {
        replies[i] =
            account.error().code == ErrorCode::kNotFound
                ? Reply(550, "5.1.1", "No such user here")
                : Reply(451, "4.3.0", "Directory unavailable, try again");
        continue;
      }
      if (account->status == AccountStatus::kClosed) {
        replies[i] = Reply(550, "5.2.1", "Mailbox disabled");
        continue;
      }
      Recipient r;
      r.account_id = account->id;
      r.quota_bytes = static_cast<uint64_t>(account->quota_bytes);
      delivery.recipients.push_back(std::move(r));
      slot.push_back(i);
    }
    if (delivery.recipients.empty()) return;

    // Parsed once here so that IMAP never has to parse for ENVELOPE or
    // BODYSTRUCTURE, nor open the blob to search its header.
    mime::Message parsed = mime::ParseMessage(data);
    if (parsed.root.envelope) {
      delivery.envelope = mime::ImapEnvelope(*parsed.root.envelope);
    }
    delivery.body_structure = mime::ImapBodyStructure(parsed.root, true);
    delivery.header_size = parsed.root.header.length;

    BatchResult results = group_commit_.Submit(
        delivery, [this](const std::vector<const Delivery*>& batch) {
          std::vector<Delivery> copies;
          copies.reserve(batch.size());
          for (const Delivery* d : batch) copies.push_back(*d);
          auto all = store_.DeliverMessages(copies);
          std::vector<BatchResult> out;
          for (size_t i = 0; i < batch.size(); ++i) {
            if (!all) {
              out.push_back(Fail(all.error()));
            } else {
              out.push_back(std::move((*all)[i]));
            }
          }
          return out;
        });
    for (size_t k = 0; k < slot.size(); ++k) {
      mta::SmtpReply& reply = replies[slot[k]];
      if (!results) {
        log_.Error("store_failed", {{"error", results.error().ToString()}});
        reply = Reply(451, "4.3.0", "Mailbox store unavailable, try again");
        continue;
      }
      const RecipientResult& r = (*results)[k];
      switch (r.status) {
        case DeliveryStatus::kOk:
          reply = Reply(250, "2.1.5", "Delivered, uid " +
                                          std::to_string(r.uid));
          if (changed_) changed_(delivery.recipients[k].account_id);
          break;
        case DeliveryStatus::kOverQuota:
          reply = Reply(552, "5.2.2", "Mailbox full");
          break;
        case DeliveryStatus::kNoSuchFolder:
        case DeliveryStatus::kError:
          if (r.error) {
            log_.Error("store_failed", {{"error", r.error->ToString()}});
          }
          reply = Reply(451, "4.3.0", "Mailbox store error, try again");
          break;
      }
    }
  });
  co_return replies;
}

}  // namespace corvus
