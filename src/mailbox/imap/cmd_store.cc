// STORE and UID STORE (RFC 3501 §6.4.6) with CONDSTORE UNCHANGEDSINCE
// and [MODIFIED] (RFC 7162 §3.1.3).
#include <algorithm>

#include "mailbox/imap/session.h"

namespace corvus::imap {

Task<Completion> ImapSession::CmdStore(const ImapCommand& command) {
  auto request = ParseStore(command.args);
  if (!request) co_return Completion::Bad(request.error().message);
  auto flags = NormalizeFlags(request->flags);
  if (!flags) co_return Completion::Bad("Invalid flag");
  auto uids = ResolveSet(request->set, command.uid);
  if (!uids) co_return Completion::Bad(uids.error().message);
  if (read_only_) co_return Completion::No("[READ-ONLY] Mailbox is read-only");
  if (request->unchanged_since) condstore_enabled_ = true;

  StoreFlagsResult result;
  const std::string folder = folder_;
  const UidSet set = ToUidSet(*uids);
  const FlagOp op = request->op;
  const std::vector<std::string> new_flags = std::move(*flags);
  const std::optional<uint64_t> unchanged_since = request->unchanged_since;
  if (!set.empty()) {
    auto done = co_await WithAccount([&](AccountStore& s) -> Status {
      auto stored = s.StoreFlags(folder, set, op, new_flags, unchanged_since);
      if (!stored) return Fail(stored.error());
      result = std::move(*stored);
      return Status{};
    });
    if (!done) co_return StoreFailure(done.error());
  }

  std::set<uint32_t> updated;
  for (const FlagUpdate& update : result.updated) {
    if (auto index = IndexOfUid(update.uid)) {
      messages_[*index].flags = update.flags;
      messages_[*index].modseq = update.modseq;
      updated.insert(update.uid);
    }
  }
  if (!updated.empty()) NotifyChange();
  std::set<uint32_t> modified(result.modified.begin(), result.modified.end());

  // RFC 3501 §6.4.6: report the flags of each message unless .SILENT.
  // RFC 7162 §3.1.3: with UNCHANGEDSINCE, a changed message's new MODSEQ
  // is sent even under .SILENT.
  for (uint32_t uid : *uids) {
    auto index = IndexOfUid(uid);
    if (!index || modified.contains(uid)) continue;
    if (!request->silent) {
      Untagged(FlagsFetch(*index, command.uid));
    } else if (unchanged_since && updated.contains(uid)) {
      std::string line = std::to_string(*index + 1) + " FETCH (";
      if (command.uid) line += "UID " + std::to_string(uid) + " ";
      line += "MODSEQ (" + std::to_string(messages_[*index].modseq) + "))";
      Untagged(line);
    }
  }
  if (!modified.empty()) {
    std::vector<uint32_t> numbers;
    for (uint32_t uid : modified) {
      if (command.uid) {
        numbers.push_back(uid);
      } else if (auto index = IndexOfUid(uid)) {
        numbers.push_back(static_cast<uint32_t>(*index + 1));
      }
    }
    co_return Completion::Ok("[MODIFIED " + FormatNumberSet(numbers) +
                             "] Conditional STORE failed for some");
  }
  co_return Completion::Ok(command.uid ? "UID STORE completed"
                                       : "STORE completed");
}

}  // namespace corvus::imap
