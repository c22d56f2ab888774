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

StoreLmtpDelivery::Pending StoreLmtpDelivery::Prepare(
    const mta::Envelope& envelope, std::string_view data) {
  Pending pending;
  pending.replies.resize(envelope.rcpt_to.size());
  Delivery& delivery = pending.delivery;
  delivery.data = data;
  // A queue re-sending after a crash is answered 250 without a copy.
  delivery.delivery_id = envelope.upstream_queue_id;
  // Who gets it: each recipient must be an account here.
  for (size_t i = 0; i < envelope.rcpt_to.size(); ++i) {
    auto account = directory_.GetAccount(envelope.rcpt_to[i].address);
    if (!account) {
      pending.replies[i] =
          account.error().code == ErrorCode::kNotFound
              ? Reply(550, "5.1.1", "No such user here")
              : Reply(451, "4.3.0", "Directory unavailable, try again");
      continue;
    }
    if (account->status == AccountStatus::kClosed) {
      pending.replies[i] = Reply(550, "5.2.1", "Mailbox disabled");
      continue;
    }
    Recipient r;
    r.account_id = account->id;
    r.quota_bytes = static_cast<uint64_t>(account->quota_bytes);
    delivery.recipients.push_back(std::move(r));
    pending.slot.push_back(i);
  }
  if (delivery.recipients.empty()) return pending;

  // Parsed once here so that IMAP never has to parse for ENVELOPE or
  // BODYSTRUCTURE, nor open the blob to search its header.
  mime::Message parsed = mime::ParseMessage(data);
  if (parsed.root.envelope) {
    delivery.envelope = mime::ImapEnvelope(*parsed.root.envelope);
  }
  delivery.body_structure = mime::ImapBodyStructure(parsed.root, true);
  delivery.header_size = parsed.root.header.length;
  return pending;
}

void StoreLmtpDelivery::Finish(Pending& pending, const BatchResult& results) {
  for (size_t k = 0; k < pending.slot.size(); ++k) {
    mta::SmtpReply& reply = pending.replies[pending.slot[k]];
    if (!results) {
      log_.Error("store_failed", {{"error", results.error().ToString()}});
      reply = Reply(451, "4.3.0", "Mailbox store unavailable, try again");
      continue;
    }
    const RecipientResult& r = (*results)[k];
    switch (r.status) {
      case DeliveryStatus::kOk:
        reply = Reply(250, "2.1.5", "Delivered, uid " + std::to_string(r.uid));
        if (changed_) changed_(pending.delivery.recipients[k].account_id);
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
}

Task<std::vector<mta::SmtpReply>> StoreLmtpDelivery::Deliver(
    const mta::Envelope& envelope, std::string data) {
  Pending pending;
  co_await Offload([&] {
    pending = Prepare(envelope, data);
    if (pending.delivery.recipients.empty()) return;
    // Concurrent LMTP sessions share one store batch.
    BatchResult results = group_commit_.Submit(
        pending.delivery, [this](const std::vector<const Delivery*>& batch) {
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
    Finish(pending, results);
  });
  co_return std::move(pending.replies);
}

Task<std::vector<std::vector<mta::SmtpReply>>> StoreLmtpDelivery::DeliverMany(
    std::span<const mta::Envelope> envelopes,
    std::span<const std::string_view> data) {
  std::vector<std::vector<mta::SmtpReply>> replies(envelopes.size());
  co_await Offload([&] {
    std::vector<Pending> pending;
    pending.reserve(envelopes.size());
    std::vector<Delivery> deliveries;
    std::vector<size_t> owner;  // deliveries[j] belongs to pending[owner[j]]
    for (size_t i = 0; i < envelopes.size(); ++i) {
      pending.push_back(Prepare(envelopes[i], data[i]));
      if (pending.back().delivery.recipients.empty()) continue;
      deliveries.push_back(pending.back().delivery);
      owner.push_back(i);
    }
    if (!deliveries.empty()) {
      auto all = store_.DeliverMessages(deliveries);
      for (size_t j = 0; j < owner.size(); ++j) {
        BatchResult results =
            all ? BatchResult(std::move((*all)[j])) : Fail(all.error());
        Finish(pending[owner[j]], results);
      }
    }
    for (size_t i = 0; i < pending.size(); ++i) {
      replies[i] = std::move(pending[i].replies);
    }
  });
  co_return replies;
}

}  // namespace corvus
