// One account's mailbox metadata: folders, messages, flags, quota usage
// and the change journal, in one SQLite database per account
// (ROOT/accounts/<first two characters of id>/<id>.db, WAL mode,
// synchronous=FULL, so a transaction is durable when it commits).
//
// The journal. Every change — append/delivery, flag change, copy, move,
// expunge, folder create/rename/delete/subscribe — appends exactly one
// record to the `journal` table in the same transaction as the change, so
// the journal and the tables never disagree. Records are numbered by a
// per-account sequence (1, 2, 3, ... with no gaps) and carry a JSON
// payload with everything needed to replay the change on an empty
// account (folder names and ids, UIDs, blob names, sizes, flags, cached
// envelope and body structure). Backup ships the journal; live migration
// replays it.
//
// Modification sequences (RFC 7162). One per-account counter: every
// operation that changes something takes the next value, and every
// message it touches gets that value as its MODSEQ, as does the
// HIGHESTMODSEQ of each folder it changes. Expunged UIDs are kept with
// the modseq of their expunge so that QRESYNC can report VANISHED.
//
// The header cache. Each message's header block (the bytes before its
// body, as the MIME parser finds it) may be kept in the database, so
// that SEARCH on header fields reads a few hundred bytes per message
// from one table instead of opening and parsing every blob. It is a
// cache of the blob, not data of its own: it is not in the journal (a
// replay may rebuild it from the blob or go without), and a message
// without one (stored before schema 2, or appended without it) is
// searched from its blob, which fills the cache (CacheHeaders).
//
// Folder names are opaque UTF-8 strings with '/' as the hierarchy
// delimiter; "INBOX" is matched case-insensitively (RFC 3501 section
// 5.1) and always stored as "INBOX".
//
// TODO(corvus): no Replay() yet applies journal records to another
// database; the records carry the data, the code is missing. Costs
// restore and live migration, which need it.
// TODO(corvus): Append of several messages is not all-or-nothing on
// quota. Costs RFC 3502 MULTIAPPEND atomicity unless IMAP checks
// QuotaAllows() for the total first.
// TODO(corvus): folder names are not checked for valid UTF-8. Costs
// names that other clients cannot display.
//
// Thread safety: an AccountStore is not thread-safe; one thread at a
// time. MessageStore (store.h) hands it out under a per-account lock.
#ifndef CORVUS_STORE_ACCOUNT_STORE_H_
#define CORVUS_STORE_ACCOUNT_STORE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace corvus {

namespace store {
class Db;
}

inline constexpr char kHierarchyDelimiter = '/';
inline constexpr std::string_view kInbox = "INBOX";

// A closed range of UIDs; `last` may be kMaxUid to mean "*".
struct UidRange {
  uint32_t first = 1;
  uint32_t last = 1;
};
inline constexpr uint32_t kMaxUid = 0xffffffff;
using UidSet = std::vector<UidRange>;

// A UidSet holding exactly `uids`.
UidSet UidSetOf(std::initializer_list<uint32_t> uids);
// 1:* — every message.
UidSet AllUids();

struct FolderInfo {
  int64_t id = 0;
  std::string name;
  uint32_t uidvalidity = 0;
  uint32_t uidnext = 1;
  uint64_t highestmodseq = 0;
  std::string role;  // RFC 6154 special use, e.g. "\\Sent"; empty: none
  bool subscribed = true;
};

// What SELECT/EXAMINE and STATUS need.
struct FolderStatus {
  FolderInfo folder;
  uint32_t messages = 0;
  uint32_t unseen = 0;
  uint64_t size = 0;  // bytes of all messages
};

// What SELECT reports of a folder's messages, read without listing them.
struct FolderSummary {
  // Every message, as ascending runs of consecutive UIDs.
  UidSet uids;
  // The lowest UID without \Seen; 0 if every message has it.
  uint32_t first_unseen_uid = 0;
  // Every keyword in use, sorted.
  std::vector<std::string> keywords;
};

struct MessageInfo {
  uint32_t uid = 0;
  std::string blob;  // SHA-256 hex
  uint64_t size = 0;
  int64_t internal_date = 0;  // Unix seconds
  // Sorted, without duplicates; system flags spelled canonically
  // ("\\Seen"), keywords as given.
  std::vector<std::string> flags;
  uint64_t modseq = 0;
  // Cached by the caller at append time; empty unless asked for.
  std::string envelope;
  std::string body_structure;
};

// A message to append. The blob must already be durable (invariant 2).
struct NewMessage {
  std::string folder;
  std::string blob;
  uint64_t size = 0;
  int64_t internal_date = 0;
  std::vector<std::string> flags;
  std::string envelope;
  std::string body_structure;
  // Non-empty: an id that makes the append idempotent. A second append
  // with the same id returns the first one's UID and adds nothing (a
  // queue re-sending after a crash). Remembered for 91 days.
  std::string delivery_id;
  // The message's header block (mime::MessageHeaderRange) for the header
  // cache; empty: none cached.
  std::string header;
};

// One message's cached header block.
struct CachedHeader {
  uint32_t uid = 0;
  std::string header;
};

enum class AppendStatus { kOk, kOverQuota, kNoSuchFolder };

struct AppendResult {
  AppendStatus status = AppendStatus::kOk;
  uint32_t uidvalidity = 0;  // set when kOk
  uint32_t uid = 0;          // set when kOk
  uint64_t modseq = 0;       // set when kOk
};

enum class FlagOp { kAdd, kRemove, kReplace };

struct FlagUpdate {
  uint32_t uid = 0;
  std::vector<std::string> flags;  // after the change
  uint64_t modseq = 0;
};

struct StoreFlagsResult {
  // Messages whose flags changed, with their new flags and modseq.
  std::vector<FlagUpdate> updated;
  // RFC 7162 section 3.1.3: UIDs left alone because their modseq was
  // above the caller's UNCHANGEDSINCE; reported as [MODIFIED ...].
  std::vector<uint32_t> modified;
};

struct CopyResult {
  uint32_t dest_uidvalidity = 0;
  // Pairs (source uid, new destination uid), in source UID order; what
  // COPYUID (RFC 4315) reports.
  std::vector<std::pair<uint32_t, uint32_t>> uids;
};

struct Changes {
  std::vector<MessageInfo> changed;  // modseq above the given one
  std::vector<uint32_t> vanished;    // expunged after the given modseq
};

struct QuotaUsage {
  uint64_t bytes = 0;
  uint64_t messages = 0;
};

struct JournalEntry {
  uint64_t seq = 0;
  uint64_t modseq = 0;
  int64_t time = 0;  // Unix seconds
  std::string kind;  // "append", "flags", "copy", "move", "expunge",
                     // "folder_create", "folder_rename", "folder_delete",
                     // "subscribe"
  std::string data;  // JSON object
};

// True if `error` is a quota refusal (IMAP [OVERQUOTA], LMTP 552/452).
bool IsOverQuota(const Error& error);

class AccountStore {
 public:
  // The special-use folders every new account gets (RFC 6154), in order.
  struct DefaultFolder {
    std::string_view name;
    std::string_view role;
  };
  static std::span<const DefaultFolder> DefaultFolders();

  // Opens the database at `path`. With `create`, makes the file (and its
  // parent folder) if missing and gives a new account its default
  // folders; without, a missing file is kNotFound.
  static Result<std::unique_ptr<AccountStore>> Open(
      const std::filesystem::path& path, bool create);
  ~AccountStore();

  // --- Folders -------------------------------------------------------

  Result<std::vector<FolderInfo>> ListFolders();
  // kNotFound if there is no such folder.
  Result<FolderInfo> GetFolder(std::string_view name);
  // Creates a folder with a fresh UIDVALIDITY. kExists if the name is
  // taken, kInvalid if it is empty, has an empty hierarchy level or a
  // control character.
  Result<FolderInfo> CreateFolder(std::string_view name,
                                  std::string_view role = {});
  // Renames `from` and its inferiors (RFC 3501 section 6.3.5). Renaming
  // INBOX instead moves all its messages into a new folder `to` and
  // leaves INBOX empty. kNotFound, kExists, kInvalid.
  Status RenameFolder(std::string_view from, std::string_view to);
  // Deletes the folder and its messages (inferiors stay). kInvalid for
  // INBOX (RFC 3501 section 6.3.4), kNotFound if absent.
  Status DeleteFolder(std::string_view name);
  Status SetSubscribed(std::string_view name, bool subscribed);

  // --- Messages ------------------------------------------------------

  // SELECT/EXAMINE/STATUS data. kNotFound if there is no such folder.
  Result<FolderStatus> Select(std::string_view folder);

  // Appends every message in one transaction (group commit) and returns
  // one result per message, in order. A message that would take usage
  // above `quota_bytes` (0: unlimited) or names a missing folder is
  // refused alone; the others still go in. Errors are for the batch as a
  // whole (I/O, corruption, invalid flags), in which case nothing
  // changed.
  Result<std::vector<AppendResult>> Append(std::span<const NewMessage> batch,
                                           uint64_t quota_bytes);

  // The UIDs, first unseen message and keywords of `folder` (RFC 3501
  // sections 6.3.1 and 7.2.6), in one pass that holds no per-message
  // data, so that many sessions selecting a large folder at once stay
  // small. kNotFound if there is no such folder.
  Result<FolderSummary> SummarizeFolder(std::string_view folder);

  // Messages of `folder` in UID order, restricted to `uids`. With
  // `with_cache`, also the cached envelope and body structure.
  Result<std::vector<MessageInfo>> ListMessages(std::string_view folder,
                                                const UidSet& uids = AllUids(),
                                                bool with_cache = false);

  // ListMessages without the blob name (left empty) and the cached
  // renderings, read from a compact index instead of the message rows:
  // what SELECT and SEARCH need of every message of a folder.
  Result<std::vector<MessageInfo>> ListSummaries(
      std::string_view folder, const UidSet& uids = AllUids());

  // The cached header blocks of the messages of `folder` in `uids`, in
  // UID order. Messages without one are left out. kNotFound if there is
  // no such folder.
  Result<std::vector<CachedHeader>> ListHeaders(std::string_view folder,
                                                const UidSet& uids = AllUids());

  // Fills the header cache of messages of `folder` that have none (the
  // caller read their blobs anyway, e.g. to search them). Entries for
  // UIDs that are gone, or already cached, are skipped. A cache write: its
  // flush is left to the next commit, since losing it loses nothing.
  Status CacheHeaders(std::string_view folder,
                      std::span<const CachedHeader> headers);

  // STORE / UID STORE. Messages whose flags would not change keep their
  // modseq. With `unchanged_since`, a message whose modseq is above it is
  // left alone and listed in `modified` (RFC 7162 section 3.1.3).
  Result<StoreFlagsResult> StoreFlags(
      std::string_view folder, const UidSet& uids, FlagOp op,
      std::span<const std::string> flags,
      std::optional<uint64_t> unchanged_since = std::nullopt);

  // COPY: new UIDs in `to`, same blobs, flags and dates. Quota counts each
  // copy; if the copies would exceed `quota_bytes` (0: unlimited) nothing
  // is copied and the error satisfies IsOverQuota(). Copying nothing is
  // ok with an empty result.
  Result<CopyResult> Copy(std::string_view from, const UidSet& uids,
                          std::string_view to, uint64_t quota_bytes);
  // MOVE (RFC 6851): like Copy, then the source messages are expunged, in
  // one transaction. Quota usage does not change.
  Result<CopyResult> Move(std::string_view from, const UidSet& uids,
                          std::string_view to);

  // EXPUNGE / UID EXPUNGE: removes the messages in `uids` that carry
  // \Deleted. Returns the expunged UIDs in ascending order.
  Result<std::vector<uint32_t>> Expunge(std::string_view folder,
                                        const UidSet& uids = AllUids());

  // CONDSTORE/QRESYNC: messages changed and UIDs expunged after `modseq`.
  Result<Changes> ChangesSince(std::string_view folder, uint64_t modseq);

  // --- Quota and journal ----------------------------------------------

  Result<QuotaUsage> Usage();
  // True if `extra_bytes` more would still fit under `quota_bytes`
  // (0: unlimited).
  Result<bool> QuotaAllows(uint64_t quota_bytes, uint64_t extra_bytes);

  // Journal records with seq > `after`, at most `limit`, ascending.
  Result<std::vector<JournalEntry>> ReadJournal(uint64_t after,
                                                size_t limit = 1000);
  // Highest journal seq and current modseq counter (0 for none).
  Result<uint64_t> LastJournalSeq();
  Result<uint64_t> CurrentModseq();

  // With `deferred`, commits stop flushing the log (SQLite synchronous =
  // NORMAL): the caller promises one syncfs(2) that covers them before it
  // reports anything durable. MessageStore uses it so that a batch of
  // deliveries to many accounts pays one flush, not one per account.
  Status DeferFlushes(bool deferred);

  // Every blob referenced by a message of this account, sorted, unique.
  Result<std::vector<std::string>> ReferencedBlobs();

  const std::filesystem::path& path() const;

 private:
  explicit AccountStore(std::unique_ptr<store::Db> db);
  std::unique_ptr<store::Db> db_;
};

// Returns the canonical, sorted, duplicate-free form of `flags`, or
// kInvalid if one is empty, has a space, control or IMAP special
// character, or is an unknown system flag. \Recent is dropped: it is a
// session property (RFC 3501 section 2.3.2) and is never stored.
Result<std::vector<std::string>> NormalizeFlags(
    std::span<const std::string> flags);

}  // namespace corvus

#endif  // CORVUS_STORE_ACCOUNT_STORE_H_
