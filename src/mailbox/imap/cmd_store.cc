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
  std::vector<MessageInfo> current;  // flags to report, unless .SILENT
  const std::string folder = folder_;
  const UidSet set = ToUidSet(*uids);
  const FlagOp op = request->op;
  const std::vector<std::string> new_flags = std::move(*flags);
  const std::optional<uint64_t> unchanged_since = request->unchanged_since;
  const bool report = !request->silent;
  if (!set.empty()) {
    auto done = co_await WithAccount([&](AccountStore& s) -> Status {
      auto stored = s.StoreFlags(folder, set, op, new_flags, unchanged_since);
      if (!stored) return Fail(stored.error());
      result = std::move(*stored);
      // The session keeps no flags: read back what to show.
      if (report) {
        auto listed = s.ListMessages(folder, set);
        if (!listed) return Fail(listed.error());
        current = std::move(*listed);
      }
      return Status{};
    });
    if (!done) co_return StoreFailure(done.error());
  }

  std::set<uint32_t> updated;
  for (const FlagUpdate& update : result.updated) {
    if (messages_.Contains(update.uid)) {
      FlagsShown(update.uid, update.modseq);
      updated.insert(update.uid);
    }
  }
  if (!updated.empty()) NotifyChange();
  std::set<uint32_t> modified(result.modified.begin(), result.modified.end());

  // RFC 3501 §6.4.6: report the flags of each message unless .SILENT.
  for (const MessageInfo& m : current) {
    auto seq = messages_.Seq(m.uid);
    if (!seq || modified.contains(m.uid)) continue;
    Untagged(FlagsFetch(*seq, m.uid, m.flags, m.modseq, command.uid));
    FlagsShown(m.uid, m.modseq);
  }
  // RFC 7162 §3.1.3: with UNCHANGEDSINCE, a changed message's new MODSEQ
  // is sent even under .SILENT.
  if (!report && unchanged_since) {
    for (const FlagUpdate& update : result.updated) {
      auto seq = messages_.Seq(update.uid);
      if (!seq) continue;
      std::string line = std::to_string(*seq) + " FETCH (";
      if (command.uid) line += "UID " + std::to_string(update.uid) + " ";
      line += "MODSEQ (" + std::to_string(update.modseq) + "))";
      Untagged(line);
    }
  }
  if (!modified.empty()) {
    std::vector<uint32_t> numbers;
    for (uint32_t uid : modified) {
      if (command.uid) {
        numbers.push_back(uid);
      } else if (auto seq = messages_.Seq(uid)) {
        numbers.push_back(*seq);
      }
    }
    co_return Completion::Ok("[MODIFIED " + FormatNumberSet(numbers) +
                             "] Conditional STORE failed for some");
  }
  co_return Completion::Ok(command.uid ? "UID STORE completed"
                                       : "STORE completed");
}

}  // namespace corvus::imap
