// APPEND (RFC 3501 §6.3.11) and MULTIAPPEND (RFC 3502), with UIDPLUS
// APPENDUID (RFC 4315) and quota refusal (RFC 9208 [OVERQUOTA]).
//
// Order of writes, as for deliveries (DESIGN.md invariant 2): the blobs
// are stored durably and pinned against the orphan collector, then the
// rows that reference them are committed in one transaction, then the
// client hears OK.
#include <ctime>

#include "mailbox/imap/session.h"
#include "mime/imap_render.h"
#include "mime/message.h"
#include "store/blob_store.h"

namespace corvus::imap {

Task<Completion> ImapSession::CmdAppend(const ImapCommand& command) {
  auto request = ParseAppend(command.args);
  if (!request) co_return Completion::Bad(request.error().message);
  auto folder = ToStoreName(request->mailbox);
  if (!folder) co_return NameFailure(folder.error());

  std::vector<NewMessage> batch;
  uint64_t total_size = 0;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const AppendMessage& m : request->messages) {
    if (m.data.empty()) co_return Completion::No("[CANNOT] Empty message");
    auto flags = NormalizeFlags(m.flags);
    if (!flags) co_return Completion::Bad("Invalid flag");
    NewMessage message;
    message.folder = *folder;
    message.size = m.data.size();
    message.internal_date = m.internal_date.value_or(now);
    message.flags = std::move(*flags);
    total_size += message.size;
    batch.push_back(std::move(message));
  }

  const uint64_t quota = static_cast<uint64_t>(account_.quota_bytes);
  MessageStore& store = deps_.store;
  const std::string& account_id = account_.id;
  const std::vector<AppendMessage>& messages = request->messages;
  Result<std::vector<AppendResult>> results =
      Fail(ErrorCode::kPermanent, "not run");
  co_await Offload([&] {
    // RFC 3502 §6.3.11: all or nothing, so the quota is checked for the
    // total first (the store refuses per message), and a missing folder
    // before any blob is written.
    {
      auto handle = store.OpenAccount(account_id, /*create=*/true);
      if (!handle) {
        results = Fail(handle.error());
        return;
      }
      if (auto f = (*handle)->GetFolder(batch[0].folder); !f) {
        results = f.error().code == ErrorCode::kNotFound
                      ? Result<std::vector<AppendResult>>(std::vector{
                            AppendResult{AppendStatus::kNoSuchFolder}})
                      : Fail(f.error());
        return;
      }
      auto allowed = (*handle)->QuotaAllows(quota, total_size);
      if (!allowed || !*allowed) {
        results = allowed ? Result<std::vector<AppendResult>>(std::vector{
                                AppendResult{AppendStatus::kOverQuota}})
                          : Fail(allowed.error());
        return;
      }
    }

    // The cached renderings FETCH ENVELOPE / BODYSTRUCTURE serve, the
    // header block SEARCH reads, and the blobs, pinned until their rows
    // are committed.
    std::vector<std::string_view> blobs;
    std::vector<std::string> hashes;
    std::vector<BlobPin> pins;
    for (size_t i = 0; i < batch.size(); ++i) {
      const std::string& data = messages[i].data;
      mime::Message parsed = mime::ParseMessage(data);
      if (parsed.root.envelope) {
        batch[i].envelope = mime::ImapEnvelope(*parsed.root.envelope);
      }
      batch[i].body_structure = mime::ImapBodyStructure(parsed.root, true);
      batch[i].header = std::string(parsed.root.header.Of(data));
      batch[i].blob = Sha256Hex(data);
      pins.emplace_back(store.pins(), batch[i].blob);
      blobs.push_back(data);
      hashes.push_back(batch[i].blob);
    }
    if (auto put = store.blobs().PutHashed(blobs, hashes); !put) {
      results = Fail(put.error());
      return;
    }
    auto handle = store.OpenAccount(account_id, /*create=*/true);
    if (!handle) {
      results = Fail(handle.error());
      return;
    }
    results = (*handle)->Append(batch, quota);
  });

  if (!results) co_return StoreFailure(results.error());
  std::vector<uint32_t> uids;
  uint32_t uidvalidity = 0;
  for (const AppendResult& result : *results) {
    switch (result.status) {
      case AppendStatus::kOverQuota:
        // TODO(corvus): a delivery racing a MULTIAPPEND between the
        // quota check and the commit can leave some of its messages in;
        // the store has no all-or-nothing batch on quota.
        if (!uids.empty()) NotifyChange();
        co_return Completion::No("[OVERQUOTA] Quota exceeded");
      case AppendStatus::kNoSuchFolder:
        // RFC 3501 §6.3.11: the client may CREATE and try again.
        co_return Completion::No("[TRYCREATE] No such mailbox");
      case AppendStatus::kOk:
        uids.push_back(result.uid);
        uidvalidity = result.uidvalidity;
        break;
    }
  }
  NotifyChange();
  co_return Completion::Ok("[APPENDUID " + std::to_string(uidvalidity) + " " +
                           FormatNumberSet(uids) + "] APPEND completed");
}

}  // namespace corvus::imap
