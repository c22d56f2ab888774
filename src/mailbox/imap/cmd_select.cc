// SELECT, EXAMINE, CLOSE and UNSELECT, and the session's view of the
// selected mailbox: Sync() (how others' changes reach the client), and
// sequence-set resolution.
#include <algorithm>
#include <set>

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

std::optional<size_t> ImapSession::IndexOfUid(uint32_t uid) const {
  auto it = std::lower_bound(
      messages_.begin(), messages_.end(), uid,
      [](const SessionMessage& m, uint32_t u) { return m.uid < u; });
  if (it == messages_.end() || it->uid != uid) return std::nullopt;
  return static_cast<size_t>(it - messages_.begin());
}

Result<std::vector<uint32_t>> ImapSession::ResolveSet(const SequenceSet& set,
                                                      bool uid) {
  std::vector<uint32_t> out;
  if (set.saved) {
    // RFC 5182 §2.1: "$" is the saved result, minus expunged messages.
    for (uint32_t u : saved_search_) {
      if (IndexOfUid(u)) out.push_back(u);
    }
    return out;
  }
  if (messages_.empty()) {
    if (uid) return out;
    return Fail(ErrorCode::kProtocol, "No messages in mailbox");
  }

  // Turn each range into an index interval, then merge: linear in the
  // mailbox however many overlapping ranges a client sends.
  std::vector<std::pair<size_t, size_t>> spans;
  const size_t count = messages_.size();
  for (const UidRange& range : set.ranges) {
    if (uid) {
      uint32_t max_uid = messages_.back().uid;
      uint32_t a = range.first == kMaxUid ? max_uid : range.first;
      uint32_t b = range.last == kMaxUid ? max_uid : range.last;
      if (a > b) std::swap(a, b);
      auto lo = std::lower_bound(
          messages_.begin(), messages_.end(), a,
          [](const SessionMessage& m, uint32_t u) { return m.uid < u; });
      auto hi = std::upper_bound(
          messages_.begin(), messages_.end(), b,
          [](uint32_t u, const SessionMessage& m) { return u < m.uid; });
      if (lo < hi) {
        spans.emplace_back(lo - messages_.begin(), hi - messages_.begin());
      }
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
    spans.emplace_back(a - 1, b);
  }
  std::sort(spans.begin(), spans.end());
  size_t next = 0;
  for (const auto& [lo, hi] : spans) {
    for (size_t i = std::max(lo, next); i < hi; ++i) {
      out.push_back(messages_[i].uid);
    }
    next = std::max(next, hi);
  }
  return out;
}

std::string ImapSession::FlagsFetch(size_t index, bool with_uid) const {
  const SessionMessage& m = messages_[index];
  std::string line = std::to_string(index + 1) + " FETCH (";
  // RFC 7162 §3.2.4: with QRESYNC, unsolicited FETCH carries the UID.
  if (with_uid || qresync_enabled_) {
    line += "UID " + std::to_string(m.uid) + " ";
  }
  line += "FLAGS " + FormatFlags(m.flags);
  if (condstore_enabled_) line += " MODSEQ (" + std::to_string(m.modseq) + ")";
  line += ")";
  return line;
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
  messages_.clear();
  pending_expunges_.clear();
  recent_ = 0;
  saved_search_.clear();
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
      if (IndexOfUid(uid)) pending_expunges_.insert(uid);
    }
    uint32_t max_uid = messages_.empty() ? 0 : messages_.back().uid;
    for (MessageInfo& m : changes.changed) {
      if (auto index = IndexOfUid(m.uid)) {
        SessionMessage& known = messages_[*index];
        bool report = known.flags != m.flags ||
                      (condstore_enabled_ && known.modseq != m.modseq);
        known.flags = std::move(m.flags);
        known.modseq = m.modseq;
        if (report && !pending_expunges_.contains(m.uid)) {
          Untagged(FlagsFetch(*index, false));
        }
      } else if (m.uid > max_uid) {
        messages_.push_back({m.uid, std::move(m.flags), m.modseq});
        max_uid = m.uid;
        ++added;
      }
    }
    highest_modseq_ = std::max(highest_modseq_, info.highestmodseq);
  }

  if (allow_expunge && !pending_expunges_.empty()) {
    std::vector<uint32_t> gone(pending_expunges_.begin(),
                               pending_expunges_.end());
    if (!qresync_enabled_) {
      // From the highest sequence number down, so that each number sent
      // is still valid when the client applies it (RFC 3501 §7.4.1).
      for (size_t i = messages_.size(); i-- > 0;) {
        if (pending_expunges_.contains(messages_[i].uid)) {
          Untagged(std::to_string(i + 1) + " EXPUNGE");
        }
      }
    } else {
      // RFC 7162 §3.2.10: VANISHED replaces EXPUNGE under QRESYNC.
      Untagged("VANISHED " + FormatNumberSet(gone));
    }
    std::erase_if(messages_, [this](const SessionMessage& m) {
      return pending_expunges_.contains(m.uid);
    });
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
  // UNSEEN come from the listing, which SELECT reads anyway.
  FolderInfo info;
  std::vector<MessageInfo> messages;
  Changes changes;
  seen_generation_ = events_->generation();
  const std::string folder = *name;
  auto done = co_await WithAccount([&](AccountStore& s) -> Status {
    auto found = s.GetFolder(folder);
    if (!found) return Fail(found.error());
    info = std::move(*found);
    auto list = s.ListSummaries(folder);
    if (!list) return Fail(list.error());
    messages = std::move(*list);
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
  messages_.clear();
  messages_.reserve(messages.size());
  std::optional<size_t> first_unseen;
  std::set<std::string> keywords;  // RFC 3501 §7.2.6: listed in FLAGS
  for (MessageInfo& m : messages) {
    bool seen =
        std::find(m.flags.begin(), m.flags.end(), "\\Seen") != m.flags.end();
    if (!seen && !first_unseen) first_unseen = messages_.size() + 1;
    for (const std::string& flag : m.flags) {
      if (!flag.starts_with('\\')) keywords.insert(flag);
    }
    messages_.push_back({m.uid, std::move(m.flags), m.modseq});
  }
  SetState(ImapState::kSelected);

  std::string flags(kSystemFlags);
  for (const std::string& keyword : keywords) flags += " " + keyword;
  Untagged("FLAGS (" + flags + ")");
  Untagged(examine ? std::string("OK [PERMANENTFLAGS ()] Read-only mailbox")
                   : "OK [PERMANENTFLAGS (" + flags + " \\*)] Flags permitted");
  Untagged(std::to_string(messages_.size()) + " EXISTS");
  // TODO(corvus): \Recent is not tracked across sessions (it is a
  // per-session property that IMAP4rev2 dropped); RECENT counts only
  // messages that arrived while this session had the mailbox selected.
  Untagged("0 RECENT");
  if (first_unseen) {
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
      if (auto index = IndexOfUid(m.uid)) Untagged(FlagsFetch(*index, true));
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
