// APPEND (RFC 3501 §6.3.11) with UIDPLUS APPENDUID (RFC 4315) and quota
// refusal (RFC 9208 [OVERQUOTA]).
//
// Order of writes, as for deliveries (DESIGN.md invariant 2): the blob is
// stored durably and pinned against the orphan collector, then the row
// that references it is committed, then the client hears OK.
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
  if (!folder) co_return Completion::No("[CANNOT] Invalid mailbox name");
  if (request->message.empty()) {
    co_return Completion::No("[CANNOT] Empty message");
  }
  auto flags = NormalizeFlags(request->flags);
  if (!flags) co_return Completion::Bad("Invalid flag");

  NewMessage message;
  message.folder = *folder;
  message.size = request->message.size();
  message.internal_date =
      request->internal_date.value_or(static_cast<int64_t>(std::time(nullptr)));
  message.flags = std::move(*flags);
  const uint64_t quota = static_cast<uint64_t>(account_.quota_bytes);
  MessageStore& store = deps_.store;
  const std::string& data = request->message;
  const std::string& account_id = account_.id;

  Result<AppendResult> result = Fail(ErrorCode::kPermanent, "not run");
  co_await Offload([&] {
    // The cached renderings FETCH ENVELOPE / BODYSTRUCTURE serve.
    mime::Message parsed = mime::ParseMessage(data);
    if (parsed.root.envelope) {
      message.envelope = mime::ImapEnvelope(*parsed.root.envelope);
    }
    message.body_structure = mime::ImapBodyStructure(parsed.root, true);

    // Refuse early, before writing a blob nobody will reference.
    {
      auto handle = store.OpenAccount(account_id, /*create=*/true);
      if (!handle) {
        result = Fail(handle.error());
        return;
      }
      auto allowed = (*handle)->QuotaAllows(quota, message.size);
      if (!allowed || !*allowed) {
        result = allowed ? AppendResult{AppendStatus::kOverQuota}
                         : Result<AppendResult>(Fail(allowed.error()));
        return;
      }
    }

    message.blob = Sha256Hex(data);
    BlobPin pin(store.pins(), message.blob);
    std::string_view blobs[] = {data};
    std::string hashes[] = {message.blob};
    if (auto put = store.blobs().PutHashed(blobs, hashes); !put) {
      result = Fail(put.error());
      return;
    }
    auto handle = store.OpenAccount(account_id, /*create=*/true);
    if (!handle) {
      result = Fail(handle.error());
      return;
    }
    NewMessage batch[] = {message};
    auto appended = (*handle)->Append(batch, quota);
    if (!appended) {
      result = Fail(appended.error());
      return;
    }
    result = appended->front();
  });

  if (!result) co_return StoreFailure(result.error());
  switch (result->status) {
    case AppendStatus::kOverQuota:
      co_return Completion::No("[OVERQUOTA] Quota exceeded");
    case AppendStatus::kNoSuchFolder:
      // RFC 3501 §6.3.11: the client may CREATE and try again.
      co_return Completion::No("[TRYCREATE] No such mailbox");
    case AppendStatus::kOk:
      break;
  }
  NotifyChange();
  co_return Completion::Ok("[APPENDUID " + std::to_string(result->uidvalidity) +
                           " " + std::to_string(result->uid) +
                           "] APPEND completed");
}

}  // namespace corvus::imap
