// COPY, MOVE (RFC 6851) and EXPUNGE, each with their UID forms and
// UIDPLUS responses (RFC 4315); quota refusal on COPY (RFC 9208).

#include "mailbox/imap/session.h"

namespace corvus::imap {

Task<Completion> ImapSession::CmdCopy(const ImapCommand& command) {
  const bool move = command.name == "MOVE";
  ImapReader r(command.args);
  auto set = r.Sequence();
  if (!set || !r.Consume(' ')) co_return Completion::Bad("Invalid arguments");
  auto target = ParseMailboxArg(r);
  if (!target) co_return Completion::No("[CANNOT] Invalid mailbox name");
  if (!r.AtEnd()) co_return Completion::Bad("Unexpected arguments");
  auto uids = ResolveSet(*set, command.uid);
  if (!uids) co_return Completion::Bad(uids.error().message);
  if (move && read_only_) {
    co_return Completion::No("[READ-ONLY] Mailbox is read-only");
  }
  if (uids->empty()) co_return Completion::Ok("Nothing to " + command.name);

  CopyResult result;
  const std::string from = folder_;
  const std::string to = *target;
  const UidSet uid_set = ToUidSet(*uids);
  const uint64_t quota = static_cast<uint64_t>(account_.quota_bytes);
  auto done = co_await WithAccount([&](AccountStore& s) -> Status {
    // Check the target first, so a missing one is [TRYCREATE] rather
    // than a missing source.
    if (auto f = s.GetFolder(to); !f) return Fail(f.error());
    auto copied =
        move ? s.Move(from, uid_set, to) : s.Copy(from, uid_set, to, quota);
    if (!copied) return Fail(copied.error());
    result = std::move(*copied);
    return Status{};
  });
  if (!done) {
    // RFC 3501 §6.4.7: a missing target is NO [TRYCREATE].
    if (done.error().code == ErrorCode::kNotFound) {
      co_return Completion::No("[TRYCREATE] No such mailbox");
    }
    co_return StoreFailure(done.error());
  }
  if (result.uids.empty())
    co_return Completion::Ok(command.name + " completed");
  NotifyChange();

  std::vector<uint32_t> source, dest;
  for (const auto& [s, d] : result.uids) {
    source.push_back(s);
    dest.push_back(d);
  }
  std::string copyuid = "[COPYUID " + std::to_string(result.dest_uidvalidity) +
                        " " + FormatNumberSet(source) + " " +
                        FormatNumberSet(dest) + "]";
  if (!move) co_return Completion::Ok(copyuid + " COPY completed");

  // RFC 6851 §4.3: COPYUID comes untagged before the expunges, and the
  // moved messages leave this session's view now.
  Untagged("OK " + copyuid + " Moved");
  if (qresync_enabled_) {
    Untagged("VANISHED " + FormatNumberSet(source));
  } else {
    // Highest first, so each number is valid when the client applies it.
    for (auto uid = source.rbegin(); uid != source.rend(); ++uid) {
      if (auto seq = messages_.Seq(*uid)) {
        Untagged(std::to_string(*seq) + " EXPUNGE");
      }
    }
  }
  messages_.Remove(source);
  for (uint32_t uid : source) pending_expunges_.erase(uid);
  co_return Completion::Ok("MOVE completed");
}

Task<Completion> ImapSession::CmdExpunge(const ImapCommand& command) {
  ImapReader r(command.args);
  UidSet uid_set = AllUids();
  if (command.uid) {
    // RFC 4315 §2.1: UID EXPUNGE removes only the given \Deleted ones.
    auto set = r.Sequence();
    if (!set) co_return Completion::Bad("UID EXPUNGE needs a UID set");
    auto uids = ResolveSet(*set, true);
    if (!uids) co_return Completion::Bad(uids.error().message);
    uid_set = ToUidSet(*uids);
    if (uid_set.empty()) co_return Completion::Ok("Nothing to expunge");
  }
  if (!r.AtEnd()) co_return Completion::Bad("Unexpected arguments");
  if (read_only_) co_return Completion::No("[READ-ONLY] Mailbox is read-only");

  const std::string folder = folder_;
  auto done = co_await WithAccount([&](AccountStore& s) -> Status {
    auto expunged = s.Expunge(folder, uid_set);
    if (!expunged) return Fail(expunged.error());
    return Status{};
  });
  if (!done) co_return StoreFailure(done.error());
  // Dispatch() syncs next and reports these (and any other session's)
  // expunges before the tagged OK.
  NotifyChange();
  co_return Completion::Ok(command.uid ? "UID EXPUNGE completed"
                                       : "EXPUNGE completed");
}

}  // namespace corvus::imap
