// SELECT, EXAMINE, CLOSE and UNSELECT, and the session's view of the
// selected mailbox: Sync() (how others' changes reach the client), and
// sequence-set resolution.
#include <algorithm>

#include "common/log.h"
#include "mailbox/imap/session.h"

namespace corvus::imap {
namespace {

constexpr std::string_view kSystemFlags =
    "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

// QRESYNC parameters of SELECT (RFC 7162 §3.2.5).
struct QresyncParams {
  uint32_t uidvalidity = 0;
  uint64_t modseq = 0;
  std::optional<SequenceSet> known_uids;
};

bool InSet(const SequenceSet& set, uint32_t uid) {
  return std::any_of(set.ranges.begin(), set.ranges.end(),
                     [uid](const UidRange& r) {
                       uint32_t lo = std::min(r.first, r.last);
                       uint32_t hi = std::max(r.first, r.last);
                       return uid >= lo && uid <= hi;
                     });
}

}  // namespace

Result<std::vector<uint32_t>> ImapSession::ResolveSet(const SequenceSet& set,
                                                      bool uid) {
  std::vector<uint32_t> out;
  if (set.saved) {
    // RFC 5182 §2.1: "$" is the saved result, minus expunged messages.
    for (uint32_t u : saved_search_) {
      if (messages_.Contains(u)) out.push_back(u);
    }
    return out;
  }
  if (messages_.empty()) {
    if (uid) return out;
    return Fail(ErrorCode::kProtocol, "No messages in mailbox");
  }

  // Turn each range into an interval of sequence numbers, then merge:
  // linear in the mailbox however many overlapping ranges a client sends.
  std::vector<std::pair<uint32_t, uint32_t>> spans;  // [first, last]
  const uint32_t count = messages_.size();
  for (const UidRange& range : set.ranges) {
    if (uid) {
      uint32_t max_uid = messages_.max_uid();
      uint32_t a = range.first == kMaxUid ? max_uid : range.first;
      uint32_t b = range.last == kMaxUid ? max_uid : range.last;
      if (a > b) std::swap(a, b);
      uint32_t first = a == 0 ? 1 : messages_.CountUpTo(a - 1) + 1;
      uint32_t last = messages_.CountUpTo(b);
      if (first <= last) spans.emplace_back(first, last);
      continue;
    }
    uint64_t a = range.first == kMaxUid ? count : range.first;
    uint64_t b = range.last == kMaxUid ? count : range.last;
    if (a > b) std::swap(a, b);
    // RFC 9051 §6.4.4 (and RFC 3501 §9 seq-number): a number beyond the
    // mailbox is a client error.
    if (b > count) {
      return Fail(ErrorCode::kProtocol, "Invalid message sequence number");
    }
    spans.emplace_back(static_cast<uint32_t>(a), static_cast<uint32_t>(b));
  }
  std::sort(spans.begin(), spans.end());
  uint32_t next = 1;  // the lowest sequence number not yet taken
  for (const auto& [first, last] : spans) {
    if (last >= next) messages_.AppendUids(std::max(first, next), last, out);
    next = std::max(next, last + 1);
  }
  return out;
}

std::string ImapSession::FlagsFetch(uint32_t seq, uint32_t uid,
                                    const std::vector<std::string>& flags,
                                    uint64_t modseq, bool with_uid) const {
  std::string line = std::to_string(seq) + " FETCH (";
  // RFC 7162 §3.2.4: with QRESYNC, unsolicited FETCH carries the UID.
  if (with_uid || qresync_enabled_) {
    line += "UID " + std::to_string(uid) + " ";
  }
  line += "FLAGS " + FormatFlags(flags);
  if (condstore_enabled_) line += " MODSEQ (" + std::to_string(modseq) + ")";
  line += ")";
  return line;
}

void ImapSession::FlagsShown(uint32_t uid, uint64_t modseq) {
  uint64_t& shown = flags_shown_[uid];
  shown = std::max(shown, modseq);
}

Task<Status> ImapSession::WithAccount(
    std::function<Status(AccountStore&)> work) {
  Status result;
  MessageStore& store = deps_.store;
  const std::string& id = account_.id;
  co_await Offload([&] {
    auto handle = store.OpenAccount(id, /*create=*/true);
    if (!handle) {
      result = Fail(handle.error());
      return;
    }
    result = work(**handle);
  });
  co_return result;
}

void ImapSession::NotifyChange() { deps_.events.Notify(account_.id); }

void ImapSession::Deselect() {
  folder_.clear();
  read_only_ = false;
  uidvalidity_ = 0;
  highest_modseq_ = 0;
  messages_.Clear();
  pending_expunges_.clear();
  flags_shown_.clear();
  recent_ = 0;
  saved_search_.clear();
  saved_search_.shrink_to_fit();
  SetState(ImapState::kAuthenticated);
}

Task<void> ImapSession::Sync(bool allow_expunge, bool force) {
  if (state_ != ImapState::kSelected) co_return;
  uint64_t generation = events_->generation();
  bool changed = force || generation != seen_generation_;
  if (!changed && (!allow_expunge || pending_expunges_.empty())) co_return;
  size_t added = 0;

  if (changed) {
    seen_generation_ = generation;
    Changes changes;
    FolderInfo info;
    const std::string folder = folder_;
    const uint64_t since = highest_modseq_;
    auto status = co_await WithAccount([&](AccountStore& s) -> Status {
      auto c = s.ChangesSince(folder, since);
      if (!c) return Fail(c.error());
      changes = std::move(*c);
      auto f = s.GetFolder(folder);
      if (!f) return Fail(f.error());
      info = std::move(*f);
      return Status{};
    });
    if (!status && status.error().code != ErrorCode::kNotFound) {
      conn_.log().Error("imap_sync_failed",
                        {{"error", status.error().ToString()}});
      co_return;
    }
    if (!status || info.uidvalidity != uidvalidity_) {
      // The mailbox was deleted or renamed away under this session; its
      // sequence numbers mean nothing any more (RFC 3501 §7.1.5).
      conn_.log().Notice("imap_mailbox_gone",
                         {{"folder", SanitizeForLog(folder_)}});
      co_await Bye("Selected mailbox was removed", "mailbox removed");
      co_return;
    }

    for (uint32_t uid : changes.vanished) {
      if (messages_.Contains(uid)) pending_expunges_.insert(uid);
    }
    // Every message here changed after highest_modseq_, so its flags (or
    // its modseq) are news to the client, unless this session showed them
    // itself.
    for (const MessageInfo& m : changes.changed) {
      if (auto seq = messages_.Seq(m.uid)) {
        auto shown = flags_shown_.find(m.uid);
        bool known = shown != flags_shown_.end() && shown->second >= m.modseq;
        if (!known && !pending_expunges_.contains(m.uid)) {
          Untagged(FlagsFetch(*seq, m.uid, m.flags, m.modseq, false));
        }
      } else if (m.uid > messages_.max_uid()) {
        messages_.Append(m.uid);
        ++added;
      }
    }
    // What this session showed was committed before the read above, so
    // the read covered all of it.
    flags_shown_.clear();
    highest_modseq_ = std::max(highest_modseq_, info.highestmodseq);
  }

  if (allow_expunge && !pending_expunges_.empty()) {
    std::vector<uint32_t> gone(pending_expunges_.begin(),
                               pending_expunges_.end());
    if (!qresync_enabled_) {
      // From the highest sequence number down, so that each number sent
      // is still valid when the client applies it (RFC 3501 §7.4.1).
      for (auto uid = gone.rbegin(); uid != gone.rend(); ++uid) {
        Untagged(std::to_string(*messages_.Seq(*uid)) + " EXPUNGE");
      }
    } else {
      // RFC 7162 §3.2.10: VANISHED replaces EXPUNGE under QRESYNC.
      Untagged("VANISHED " + FormatNumberSet(gone));
    }
    messages_.Remove(gone);
    pending_expunges_.clear();
  }

  if (added > 0) {
    recent_ += static_cast<uint32_t>(added);
    Untagged(std::to_string(messages_.size()) + " EXISTS");
    Untagged(std::to_string(recent_) + " RECENT");
  }
}

Task<Completion> ImapSession::CmdSelect(const ImapCommand& command) {
  const bool examine = command.name == "EXAMINE";
  ImapReader r(command.args);
  auto name = ParseMailboxArg(r);
  if (!name) co_return NameFailure(name.error());

  // RFC 7162 §3.1.8 (CONDSTORE) and §3.2.5 (QRESYNC) parameters.
  std::optional<QresyncParams> qresync;
  if (r.Consume(' ')) {
    if (!r.Consume('(')) co_return Completion::Bad("Invalid SELECT parameters");
    do {
      if (r.ConsumeKeyword("CONDSTORE")) {
        condstore_enabled_ = true;
        continue;
      }
      if (!r.ConsumeKeyword("QRESYNC") || !r.Consume(' ') || !r.Consume('(')) {
        co_return Completion::Bad("Invalid SELECT parameters");
      }
      // RFC 7162 §3.2.5: QRESYNC needs ENABLE QRESYNC first.
      if (!qresync_enabled_) co_return Completion::Bad("QRESYNC not enabled");
      QresyncParams params;
      auto validity = r.NzNumber32();
      if (!validity || !r.Consume(' ')) {
        co_return Completion::Bad("Invalid QRESYNC parameters");
      }
      auto modseq = r.Number();
      if (!modseq) co_return Completion::Bad("Invalid QRESYNC parameters");
      params.uidvalidity = *validity;
      params.modseq = *modseq;
      if (r.Consume(' ') && !r.Peek('(')) {
        auto known = r.Sequence();
        if (!known) co_return Completion::Bad("Invalid known-uids");
        params.known_uids = std::move(*known);
        r.Consume(' ');
      }
      // TODO(corvus): the seq-match-data hint is parsed and ignored, so a
      // client whose cache is stale gets VANISHED for the whole range.
      if (r.Consume('(')) {
        if (!r.Sequence() || !r.Consume(' ') || !r.Sequence() ||
            !r.Consume(')')) {
          co_return Completion::Bad("Invalid QRESYNC parameters");
        }
      }
      if (!r.Consume(')')) co_return Completion::Bad("Invalid QRESYNC");
      qresync = params;
    } while (r.Consume(' '));
    if (!r.Consume(')')) co_return Completion::Bad("Invalid SELECT parameters");
  }
  if (!r.AtEnd()) co_return Completion::Bad("Unexpected SELECT arguments");

  // RFC 3501 §6.3.1: SELECT closes the current mailbox first, without
  // expunging, and a failed SELECT leaves none selected.
  if (state_ == ImapState::kSelected) {
    Deselect();
    // RFC 7162 §3.2.11: tell a QRESYNC client where the old one ended.
    if (qresync_enabled_) Untagged("OK [CLOSED] Previous mailbox closed");
  }

  // The counts of AccountStore::Select() are not needed: EXISTS and
  // UNSEEN come from the summary.
  FolderInfo info;
  FolderSummary summary;
  Changes changes;
  seen_generation_ = events_->generation();
  const std::string folder = *name;
  auto done = co_await WithAccount([&](AccountStore& s) -> Status {
    auto found = s.GetFolder(folder);
    if (!found) return Fail(found.error());
    info = std::move(*found);
    auto sum = s.SummarizeFolder(folder);
    if (!sum) return Fail(sum.error());
    summary = std::move(*sum);
    if (qresync && qresync->uidvalidity == info.uidvalidity) {
      auto c = s.ChangesSince(folder, qresync->modseq);
      if (!c) return Fail(c.error());
      changes = std::move(*c);
    }
    return Status{};
  });
  if (!done) {
    if (done.error().code == ErrorCode::kNotFound) {
      co_return Completion::No("[NONEXISTENT] No such mailbox");
    }
    conn_.log().Error("imap_select_failed",
                      {{"error", done.error().ToString()}});
    co_return Completion::No("[UNAVAILABLE] Mailbox unavailable");
  }

  folder_ = folder;
  read_only_ = examine;
  uidvalidity_ = info.uidvalidity;
  highest_modseq_ = info.highestmodseq;
  messages_.Clear();
  for (const UidRange& run : summary.uids) {
    for (uint64_t uid = run.first; uid <= run.last; ++uid) {
      messages_.Append(static_cast<uint32_t>(uid));
    }
  }
  SetState(ImapState::kSelected);

  // RFC 3501 §7.2.6: keywords in use are listed in FLAGS.
  std::string flags(kSystemFlags);
  for (const std::string& keyword : summary.keywords) flags += " " + keyword;
  Untagged("FLAGS (" + flags + ")");
  Untagged(examine ? std::string("OK [PERMANENTFLAGS ()] Read-only mailbox")
                   : "OK [PERMANENTFLAGS (" + flags + " \\*)] Flags permitted");
  Untagged(std::to_string(messages_.size()) + " EXISTS");
  // TODO(corvus): \Recent is not tracked across sessions (it is a
  // per-session property that IMAP4rev2 dropped); RECENT counts only
  // messages that arrived while this session had the mailbox selected.
  Untagged("0 RECENT");
  if (auto first_unseen = messages_.Seq(summary.first_unseen_uid)) {
    Untagged("OK [UNSEEN " + std::to_string(*first_unseen) + "] First unseen");
  }
  Untagged("OK [UIDVALIDITY " + std::to_string(uidvalidity_) + "] UIDs valid");
  Untagged("OK [UIDNEXT " + std::to_string(info.uidnext) +
           "] Predicted next UID");
  Untagged("OK [HIGHESTMODSEQ " + std::to_string(highest_modseq_) +
           "] Highest");

  if (qresync && qresync->uidvalidity == uidvalidity_) {
    std::vector<uint32_t> vanished;
    for (uint32_t uid : changes.vanished) {
      if (!qresync->known_uids || InSet(*qresync->known_uids, uid)) {
        vanished.push_back(uid);
      }
    }
    if (!vanished.empty()) {
      Untagged("VANISHED (EARLIER) " + FormatNumberSet(vanished));
    }
    for (const MessageInfo& m : changes.changed) {
      if (auto seq = messages_.Seq(m.uid)) {
        Untagged(FlagsFetch(*seq, m.uid, m.flags, m.modseq, true));
      }
    }
  }
  co_return Completion::Ok(examine ? "[READ-ONLY] EXAMINE completed"
                                   : "[READ-WRITE] SELECT completed");
}

Task<Completion> ImapSession::CmdClose(const ImapCommand& command) {
  if (!ImapReader(command.args).AtEnd()) {
    co_return Completion::Bad("CLOSE takes no arguments");
  }
  // RFC 3501 §6.4.2: CLOSE expunges silently, and only if read-write.
  if (!read_only_) {
    const std::string folder = folder_;
    auto done = co_await WithAccount([&](AccountStore& s) -> Status {
      auto expunged = s.Expunge(folder);
      if (!expunged) return Fail(expunged.error());
      return Status{};
    });
    if (done) {
      NotifyChange();
    } else {
      conn_.log().Error("imap_close_expunge_failed",
                        {{"error", done.error().ToString()}});
    }
  }
  Deselect();
  co_return Completion::Ok("CLOSE completed");
}

Task<Completion> ImapSession::CmdUnselect(const ImapCommand& command) {
  if (!ImapReader(command.args).AtEnd()) {
    co_return Completion::Bad("UNSELECT takes no arguments");
  }
  Deselect();
  co_return Completion::Ok("UNSELECT completed");
}

}  // namespace corvus::imap
