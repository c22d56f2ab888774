// FETCH and UID FETCH (RFC 3501 §6.4.5, §7.4.2), with CONDSTORE
// CHANGEDSINCE and MODSEQ, and QRESYNC VANISHED (RFC 7162).
//
// Bodies are served by slicing the stored bytes with the offsets of the
// MIME parser, never by re-serialising; the whole message (BODY[],
// RFC822, BINARY[]) is the stored bytes as they are, so it is never
// parsed. ENVELOPE and BODYSTRUCTURE come from the renderings cached at
// delivery when present.
//
// Blobs are read in batches, one trip to the blocking pool for up to
// kBatchBytes of messages, and responses go out in writes of about
// 64 KiB (FlushProgress): a FETCH of many small messages costs a few
// thread hops and writes, not several per message.
#include <algorithm>

#include "common/log.h"
#include "mailbox/imap/binary_section.h"
#include "mailbox/imap/session.h"
#include "mime/imap_render.h"
#include "mime/message.h"
#include "mime/section.h"

namespace corvus::imap {
namespace {

// Bytes of stored messages read per trip to the blocking pool; a bigger
// message is read alone. Small enough that the first responses are on
// their way (and the client busy with them) while the next batch is read.
constexpr uint64_t kBatchBytes = 256 * 1024;
// Messages per trip, whatever their size; bounds the batch's bookkeeping.
constexpr size_t kBatchMessages = 512;

bool IsBodyItem(const FetchItem& item) {
  switch (item.attr) {
    case FetchAttr::kBodySection:
    case FetchAttr::kBinary:
    case FetchAttr::kBinarySize:
    case FetchAttr::kRfc822:
    case FetchAttr::kRfc822Header:
    case FetchAttr::kRfc822Text:
      return true;
    default:
      return false;
  }
}

// RFC 3501 §6.4.5: these set \Seen; BODY.PEEK and RFC822.HEADER do not.
bool SetsSeen(const FetchItem& item) {
  return ((item.attr == FetchAttr::kBodySection ||
           item.attr == FetchAttr::kBinary) &&
          !item.peek) ||
         item.attr == FetchAttr::kRfc822 || item.attr == FetchAttr::kRfc822Text;
}

bool HasAttr(const std::vector<FetchItem>& items, FetchAttr attr) {
  return std::any_of(items.begin(), items.end(),
                     [attr](const FetchItem& i) { return i.attr == attr; });
}

// Appends `data` as an IMAP literal.
void AppendLiteral(std::string& out, std::string_view data) {
  out += '{';
  out += std::to_string(data.size());
  out += "}\r\n";
  out += data;
}

// The bytes of one message and, once needed, its part tree.
class LoadedMessage {
 public:
  LoadedMessage() = default;
  explicit LoadedMessage(std::string raw) : raw_(std::move(raw)) {}
  const std::string& raw() const { return raw_; }
  const mime::Message& parsed() {
    if (!parsed_) parsed_ = mime::ParseMessage(raw_);
    return *parsed_;
  }

 private:
  std::string raw_;
  std::optional<mime::Message> parsed_;
};

// Appends one section item ("BODY[1]<0> {5}\r\nhello") to `out`.
void AppendSection(std::string& out, std::string_view label,
                   const FetchItem& item, LoadedMessage& message) {
  out += label;
  // BODY[] is the stored message itself: no part tree needed.
  std::optional<mime::SectionData> data;
  if (!item.section.empty()) {
    auto extracted =
        mime::ExtractSection(message.raw(), message.parsed(), item.section);
    if (!extracted) {
      // A part the message does not have reads as empty (RFC 9051 §6.4.5
      // leaves the choice to the server; an empty string is what most
      // clients cope with).
      out += " \"\"";
      return;
    }
    data = std::move(*extracted);
  }
  std::string_view bytes =
      data ? data->View(message.raw()) : std::string_view(message.raw());
  if (item.partial) {
    auto [origin, count] = *item.partial;
    bytes = origin >= bytes.size() ? std::string_view()
                                   : bytes.substr(origin, count);
    out += "<" + std::to_string(origin) + ">";
  }
  out += ' ';
  AppendLiteral(out, bytes);
}

// Appends "BINARY[1]<0> ~{n}\r\n..." or "BINARY.SIZE[1] n"; NIL for a
// part the message lacks.
void AppendBinary(std::string& out, const FetchItem& item,
                  const std::string* decoded) {
  bool size_only = item.attr == FetchAttr::kBinarySize;
  out += (size_only ? "BINARY.SIZE[" : "BINARY[") + item.section + "]";
  if (decoded == nullptr) {
    out += size_only ? " 0" : " NIL";
    return;
  }
  if (size_only) {
    out += " " + std::to_string(decoded->size());
    return;
  }
  std::string_view bytes = *decoded;
  if (item.partial) {
    auto [origin, count] = *item.partial;
    bytes = origin >= bytes.size() ? std::string_view()
                                   : bytes.substr(origin, count);
    out += "<" + std::to_string(origin) + ">";
  }
  // RFC 3516 §4.3: literal8 ("~{n}") when the bytes hold NUL.
  out += bytes.find('\0') != std::string_view::npos ? " ~" : " ";
  AppendLiteral(out, bytes);
}

// Appends the FETCH items of message `m` to `line`, separated by
// spaces. `loaded` holds the stored bytes when an item needs them.
// Returns the reply that must end the command instead when an item
// cannot be served (RFC 3516 BINARY of an unknown encoding).
std::optional<Completion> AppendItems(std::string& line,
                                      const std::vector<FetchItem>& items,
                                      const MessageInfo& m,
                                      LoadedMessage& loaded) {
  bool first = true;
  auto next = [&]() -> std::string& {
    if (!first) line.push_back(' ');
    first = false;
    return line;
  };
  for (const FetchItem& item : items) {
    switch (item.attr) {
      case FetchAttr::kFlags:
        next() += "FLAGS " + FormatFlags(m.flags);
        break;
      case FetchAttr::kUid:
        next() += "UID " + std::to_string(m.uid);
        break;
      case FetchAttr::kInternalDate:
        next() += "INTERNALDATE \"" + FormatDateTime(m.internal_date) + "\"";
        break;
      case FetchAttr::kRfc822Size:
        next() += "RFC822.SIZE " + std::to_string(m.size);
        break;
      case FetchAttr::kModseq:
        next() += "MODSEQ (" + std::to_string(m.modseq) + ")";
        break;
      case FetchAttr::kEnvelope:
        next() += "ENVELOPE ";
        // Without a cached rendering the blob was read.
        line += !m.envelope.empty()
                    ? m.envelope
                    : mime::ImapEnvelope(loaded.parsed().root.envelope.value_or(
                          mime::Envelope{}));
        break;
      case FetchAttr::kBodyStructure:
        next() += "BODYSTRUCTURE ";
        line += m.body_structure.empty()
                    ? mime::ImapBodyStructure(loaded.parsed().root, true)
                    : m.body_structure;
        break;
      case FetchAttr::kBody:
        next() +=
            "BODY " + mime::ImapBodyStructure(loaded.parsed().root, false);
        break;
      case FetchAttr::kBodySection:
        AppendSection(next(), "BODY[" + item.section + "]", item, loaded);
        break;
      case FetchAttr::kRfc822:
        next() += "RFC822 ";
        AppendLiteral(line, loaded.raw());
        break;
      case FetchAttr::kRfc822Header: {
        FetchItem header(FetchAttr::kBodySection, true, "HEADER");
        AppendSection(next(), "RFC822.HEADER", header, loaded);
        break;
      }
      case FetchAttr::kRfc822Text: {
        FetchItem text(FetchAttr::kBodySection, false, "TEXT");
        AppendSection(next(), "RFC822.TEXT", text, loaded);
        break;
      }
      case FetchAttr::kBinary:
      case FetchAttr::kBinarySize: {
        // BINARY[] is the whole message unchanged (RFC 3516 §4.1): no
        // part tree, no copy.
        if (item.section.empty()) {
          AppendBinary(next(), item, &loaded.raw());
          break;
        }
        auto decoded =
            DecodeBinarySection(loaded.raw(), loaded.parsed(), item.section);
        if (!decoded && decoded.error().code == ErrorCode::kPermanent) {
          // RFC 3516 §4.2: an encoding we cannot undo.
          return Completion::No("[UNKNOWN-CTE] " + decoded.error().message);
        }
        if (!decoded && decoded.error().code == ErrorCode::kInvalid) {
          return Completion::Bad("Invalid binary section");
        }
        AppendBinary(next(), item, decoded ? &*decoded : nullptr);
        break;
      }
    }
  }
  return std::nullopt;
}

// RFC 3501 §6.4.5: sets \Seen on those of `listed` that lack it, and
// brings their flags and modseq in `listed` up to date.
Result<StoreFlagsResult> SetSeen(AccountStore& store, std::string_view folder,
                                 std::vector<MessageInfo>& listed) {
  std::vector<uint32_t> unseen;
  for (const MessageInfo& m : listed) {
    if (std::find(m.flags.begin(), m.flags.end(), "\\Seen") == m.flags.end()) {
      unseen.push_back(m.uid);
    }
  }
  if (unseen.empty()) return StoreFlagsResult{};
  const std::string seen[] = {"\\Seen"};
  auto stored = store.StoreFlags(folder, ToUidSet(unseen), FlagOp::kAdd, seen);
  if (!stored) return stored;
  // Both lists are in UID order.
  auto m = listed.begin();
  for (const FlagUpdate& update : stored->updated) {
    while (m != listed.end() && m->uid < update.uid) ++m;
    if (m != listed.end() && m->uid == update.uid) {
      m->flags = update.flags;
      m->modseq = update.modseq;
    }
  }
  return stored;
}

}  // namespace

UidSet ToUidSet(const std::vector<uint32_t>& uids) {
  UidSet set;
  for (uint32_t uid : uids) {
    if (!set.empty() && set.back().last + 1 == uid) {
      set.back().last = uid;
    } else {
      set.push_back({uid, uid});
    }
  }
  return set;
}

Task<Completion> ImapSession::CmdFetch(const ImapCommand& command) {
  auto request = ParseFetch(command.args);
  if (!request) co_return Completion::Bad(request.error().message);
  // RFC 7162 §3.2.6: VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE.
  if (request->vanished &&
      (!command.uid || !qresync_enabled_ || !request->changed_since)) {
    co_return Completion::Bad("VANISHED needs UID FETCH with CHANGEDSINCE");
  }
  std::vector<FetchItem> items = std::move(request->items);
  for (const FetchItem& item : items) {
    if (item.attr == FetchAttr::kBinary ||
        item.attr == FetchAttr::kBinarySize) {
      // RFC 3516 §6: section-binary is part numbers only.
      if (item.section.find_first_not_of("0123456789.") != std::string::npos) {
        co_return Completion::Bad("Invalid binary section");
      }
      continue;
    }
    if (!item.section.empty()) {
      // Refuse bad section syntax up front, before any \Seen is set.
      auto probe =
          mime::ExtractSection("", mime::ParseMessage(""), item.section);
      if (!probe && probe.error().code == ErrorCode::kInvalid) {
        co_return Completion::Bad("Invalid section");
      }
    }
  }
  auto uids = ResolveSet(request->set, command.uid);
  if (!uids) co_return Completion::Bad(uids.error().message);

  // RFC 3501 §6.4.8: UID FETCH always returns UID. RFC 7162 §3.1.4:
  // CHANGEDSINCE implies MODSEQ; both enable CONDSTORE.
  if (command.uid && !HasAttr(items, FetchAttr::kUid)) {
    items.insert(items.begin(), FetchItem(FetchAttr::kUid));
  }
  if (request->changed_since && !HasAttr(items, FetchAttr::kModseq)) {
    items.push_back(FetchItem(FetchAttr::kModseq));
  }
  if (HasAttr(items, FetchAttr::kModseq)) condstore_enabled_ = true;
  const bool needs_body = std::any_of(items.begin(), items.end(), IsBodyItem);
  const bool needs_cache = HasAttr(items, FetchAttr::kEnvelope) ||
                           HasAttr(items, FetchAttr::kBodyStructure) ||
                           HasAttr(items, FetchAttr::kBody);
  const bool sets_seen =
      !read_only_ && std::any_of(items.begin(), items.end(), SetsSeen);

  std::vector<MessageInfo> listed;
  StoreFlagsResult seen_result;
  std::vector<uint32_t> vanished;
  const std::string folder = folder_;
  const UidSet wanted = ToUidSet(*uids);
  const std::optional<uint64_t> changed_since = request->changed_since;
  const bool want_vanished = request->vanished;
  const SequenceSet requested = request->set;
  auto done = co_await WithAccount([&](AccountStore& s) -> Status {
    if (!wanted.empty()) {
      // Without bodies or cached renderings, the compact summaries do.
      auto list = needs_body || needs_cache
                      ? s.ListMessages(folder, wanted, needs_cache)
                      : s.ListSummaries(folder, wanted);
      if (!list) return Fail(list.error());
      listed = std::move(*list);
    }
    if (sets_seen) {
      auto stored = SetSeen(s, folder, listed);
      if (!stored) return Fail(stored.error());
      seen_result = std::move(*stored);
    }
    if (want_vanished) {
      auto changes = s.ChangesSince(folder, *changed_since);
      if (!changes) return Fail(changes.error());
      for (uint32_t uid : changes->vanished) {
        for (const UidRange& r : requested.ranges) {
          uint32_t lo = std::min(r.first, r.last);
          uint32_t hi = std::max(r.first, r.last);
          if (uid >= lo && uid <= hi) {
            vanished.push_back(uid);
            break;
          }
        }
      }
    }
    return Status{};
  });
  if (!done) co_return StoreFailure(done.error());

  // Our own \Seen changes: noted as shown, so Sync() does not report
  // them again, and shown with the new flags (RFC 3501 §6.4.5).
  std::set<uint32_t> flags_changed;
  for (const FlagUpdate& update : seen_result.updated) {
    if (messages_.Contains(update.uid)) {
      FlagsShown(update.uid, update.modseq);
      flags_changed.insert(update.uid);
    }
  }
  if (!flags_changed.empty()) NotifyChange();
  if (!vanished.empty()) {
    Untagged("VANISHED (EARLIER) " + FormatNumberSet(vanished));
  }

  // The messages to answer for, in UID order, and whether each needs its
  // stored bytes.
  std::vector<const MessageInfo*> targets;
  std::vector<uint32_t> numbers;  // message sequence numbers
  for (const MessageInfo& m : listed) {
    auto seq = messages_.Seq(m.uid);
    if (!seq) continue;
    if (changed_since && m.modseq <= *changed_since) continue;
    targets.push_back(&m);
    numbers.push_back(*seq);
  }
  const bool wants_envelope = HasAttr(items, FetchAttr::kEnvelope);
  const bool wants_structure = HasAttr(items, FetchAttr::kBodyStructure);
  const bool wants_body = HasAttr(items, FetchAttr::kBody);
  auto needs_bytes = [&](const MessageInfo& m) {
    return needs_body || wants_body || (wants_envelope && m.envelope.empty()) ||
           (wants_structure && m.body_structure.empty());
  };

  MessageStore& store = deps_.store;
  std::string line;
  for (size_t next = 0; next < targets.size();) {
    // The batch [next, end): up to kBatchBytes to read, at least one.
    size_t end = next;
    size_t reads = 0;
    uint64_t bytes = 0;
    while (end < targets.size() && end - next < kBatchMessages &&
           (reads == 0 || bytes < kBatchBytes)) {
      if (needs_bytes(*targets[end])) {
        ++reads;
        bytes += targets[end]->size;
      }
      ++end;
    }

    std::vector<LoadedMessage> loaded(end - next);
    std::optional<Error> read_error;
    if (reads > 0) {
      co_await Offload([&] {
        for (size_t i = next; i < end; ++i) {
          if (!needs_bytes(*targets[i])) continue;
          auto raw = store.blobs().Read(targets[i]->blob, targets[i]->size);
          if (!raw) {
            // Answer for the messages before it, then fail.
            read_error = raw.error();
            end = i;
            return;
          }
          loaded[i - next] = LoadedMessage(std::move(*raw));
        }
      });
    }

    for (size_t i = next; i < end; ++i) {
      const MessageInfo& m = *targets[i];
      line = std::to_string(numbers[i]) + " FETCH (";
      auto refused = AppendItems(line, items, m, loaded[i - next]);
      if (refused) co_return *refused;
      if (flags_changed.contains(m.uid) && !HasAttr(items, FetchAttr::kFlags)) {
        line += " FLAGS " + FormatFlags(m.flags);
      }
      line += ")";
      Untagged(line);
      co_await FlushProgress();
      if (closing_) co_return Completion::No("Connection lost");
    }
    if (read_error) {
      conn_.log().Error("imap_blob_missing", {{"blob", targets[end]->blob},
                                              {"error", read_error->message}});
      co_return Completion::No("[SERVERBUG] Message unavailable");
    }
    next = end;
  }
  co_return Completion::Ok(command.uid ? "UID FETCH completed"
                                       : "FETCH completed");
}

}  // namespace corvus::imap
