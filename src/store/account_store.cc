#include "store/account_store.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "store/blob_store.h"
#include "store/sqlite_db.h"

namespace corvus {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using store::Db;
using store::Stmt;
using store::Transaction;

// 1: the first schema. 2: adds the header cache and the summary index
// (kSchemaV2, MigrateToV2).
constexpr int kSchemaVersion = 2;
constexpr size_t kMaxFolderName = 512;
// Of an account database, mapped for reading (see Open): room for some
// 100,000 small messages. Address space only; the pages are the kernel's
// page cache, shared, not a copy per account.
constexpr int64_t kMmapBytes = 256 << 20;
constexpr size_t kMaxFlagLength = 256;
constexpr std::string_view kDeletedFlag = "\\Deleted";
constexpr std::string_view kSeenFlag = "\\Seen";
constexpr std::string_view kQuotaReasonKey = "reason";
constexpr std::string_view kQuotaReason = "over_quota";

constexpr std::string_view kSchema = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES
  ('modseq', 0), ('journal_seq', 0), ('last_uidvalidity', 0);
CREATE TABLE quota_usage(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  bytes INTEGER NOT NULL,
  messages INTEGER NOT NULL
);
INSERT INTO quota_usage(id, bytes, messages) VALUES (1, 0, 0);
CREATE TABLE folders(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  uidvalidity INTEGER NOT NULL,
  uidnext INTEGER NOT NULL,
  highestmodseq INTEGER NOT NULL,
  role TEXT NOT NULL DEFAULT '',
  subscribed INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE messages(
  folder_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  blob TEXT NOT NULL,
  size INTEGER NOT NULL,
  internal_date INTEGER NOT NULL,
  flags TEXT NOT NULL,
  modseq INTEGER NOT NULL,
  envelope TEXT NOT NULL DEFAULT '',
  body_structure TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (folder_id, uid)
) WITHOUT ROWID;
CREATE INDEX messages_by_modseq ON messages(folder_id, modseq);
CREATE INDEX messages_by_blob ON messages(blob);
CREATE TABLE expunged(
  folder_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY (folder_id, uid)
) WITHOUT ROWID;
-- Deliveries already made, by the sending queue's id, so that a queue that
-- re-sends after a crash does not deliver twice.
CREATE TABLE deliveries(
  delivery_id TEXT PRIMARY KEY,
  uidvalidity INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  time INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX deliveries_by_time ON deliveries(time);
CREATE TABLE journal(
  seq INTEGER PRIMARY KEY,
  modseq INTEGER NOT NULL,
  time INTEGER NOT NULL,
  kind TEXT NOT NULL,
  data TEXT NOT NULL
);
)sql";

// Schema 2 adds:
// - message_headers: the header block of each message, for SEARCH (see
//   ListHeaders in account_store.h). The key is HeaderKey(folder_id,
//   uid), so one folder's headers are one stretch of the table's b-tree,
//   read in UID order; a table of its own keeps these bytes out of the
//   message rows.
// - messages_summary: a covering index of what SELECT and SEARCH read of
//   every message of a folder (ListSummaries). The message rows carry the
//   cached ENVELOPE and BODYSTRUCTURE, some 500 bytes each, so a scan of
//   the rows reads ten times the pages a scan of this index does.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE message_headers(
  key INTEGER PRIMARY KEY,
  header BLOB NOT NULL
);
CREATE INDEX messages_summary
  ON messages(folder_id, uid, flags, modseq, size, internal_date);
)sql";

constexpr AccountStore::DefaultFolder kDefaultFolders[] = {
    {"INBOX", ""},        {"Sent", "\\Sent"}, {"Drafts", "\\Drafts"},
    {"Trash", "\\Trash"}, {"Junk", "\\Junk"}, {"Archive", "\\Archive"},
};

constexpr std::string_view kSystemFlags[] = {
    "\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen",
};

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 3501 section 5.1: INBOX is case-insensitive, other names are not.
std::string CanonicalFolder(std::string_view name) {
  if (EqualsIgnoreCase(name, kInbox)) return std::string(kInbox);
  return std::string(name);
}

Status ValidateFolderName(std::string_view name) {
  auto invalid = [&](std::string why) {
    return Fail(Error{ErrorCode::kInvalid,
                      std::move(why),
                      {{"folder", std::string(name.substr(0, 100))}}});
  };
  if (name.empty()) return invalid("empty folder name");
  if (name.size() > kMaxFolderName) return invalid("folder name too long");
  if (name.front() == kHierarchyDelimiter ||
      name.back() == kHierarchyDelimiter) {
    return invalid("folder name starts or ends with the delimiter");
  }
  char previous = 0;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return invalid("control character in name");
    // LIST could never name a folder holding its own wildcards.
    if (c == '*' || c == '%') return invalid("wildcard in folder name");
    if (c == kHierarchyDelimiter && previous == kHierarchyDelimiter) {
      return invalid("empty hierarchy level in folder name");
    }
    previous = c;
  }
  return {};
}

std::string JoinFlags(const std::vector<std::string>& flags) {
  std::string out;
  for (const auto& flag : flags) {
    if (!out.empty()) out.push_back(' ');
    out += flag;
  }
  return out;
}

std::vector<std::string> SplitFlags(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t space = text.find(' ');
    std::string_view flag = text.substr(0, space);
    if (!flag.empty()) out.emplace_back(flag);
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return out;
}

bool HasFlag(const std::vector<std::string>& flags, std::string_view flag) {
  return std::binary_search(flags.begin(), flags.end(), flag);
}

// Sorted, merged ranges, each with first <= last.
UidSet NormalizeUidSet(const UidSet& uids) {
  UidSet sorted;
  for (UidRange r : uids) {
    if (r.first > r.last) std::swap(r.first, r.last);
    sorted.push_back(r);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](UidRange a, UidRange b) { return a.first < b.first; });
  UidSet merged;
  for (UidRange r : sorted) {
    if (!merged.empty() && static_cast<uint64_t>(r.first) <=
                               static_cast<uint64_t>(merged.back().last) + 1) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

Error OverQuota(uint64_t quota_bytes) {
  return Error{ErrorCode::kPermanent,
               "mailbox over quota",
               {{std::string(kQuotaReasonKey), std::string(kQuotaReason)},
                {"quota_bytes", std::to_string(quota_bytes)}}};
}

// The message_headers key of (folder_id, uid): folder ids are small
// positive integers, UIDs 32 bits.
int64_t HeaderKey(int64_t folder_id, uint32_t uid) {
  return (folder_id << 32) | uid;
}

// --- Small typed accessors used inside transactions. -------------------

Result<int64_t> GetMeta(Db& db, std::string_view key) {
  auto stmt = db.Prepare("SELECT value FROM meta WHERE key = ?");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, key);
  auto row = stmt->Step();
  if (!row) return Fail(row.error());
  if (!*row) {
    return Fail(Error{ErrorCode::kCorruption,
                      "missing meta key",
                      {{"key", std::string(key)}}});
  }
  return stmt->Int(0);
}

Status SetMeta(Db& db, std::string_view key, int64_t value) {
  auto stmt = db.Prepare("UPDATE meta SET value = ? WHERE key = ?");
  if (!stmt) return Fail(stmt.error());
  return stmt->Bind(1, value).Bind(2, key).Run();
}

// Takes the next value of a per-account counter.
Result<uint64_t> NextCounter(Db& db, std::string_view key) {
  auto value = GetMeta(db, key);
  if (!value) return Fail(value.error());
  if (auto st = SetMeta(db, key, *value + 1); !st) return Fail(st.error());
  return static_cast<uint64_t>(*value + 1);
}

Result<uint64_t> NextModseq(Db& db) { return NextCounter(db, "modseq"); }

// Appends one journal record; every change calls this inside its own
// transaction, which is what keeps the journal and the tables in step.
Status AppendJournal(Db& db, uint64_t modseq, std::string_view kind,
                     const json& data) {
  auto seq = NextCounter(db, "journal_seq");
  if (!seq) return Fail(seq.error());
  auto stmt = db.Prepare(
      "INSERT INTO journal(seq, modseq, time, kind, data) "
      "VALUES (?, ?, ?, ?, ?)");
  if (!stmt) return Fail(stmt.error());
  return stmt->Bind(1, static_cast<int64_t>(*seq))
      .Bind(2, static_cast<int64_t>(modseq))
      .Bind(3, Now())
      .Bind(4, kind)
      .Bind(5, data.dump())
      .Run();
}

Result<uint32_t> NextUidValidity(Db& db) {
  auto last = GetMeta(db, "last_uidvalidity");
  if (!last) return Fail(last.error());
  // Time-based so that a folder deleted and re-created (even after a
  // restore) gets a new value, strictly increasing within the account.
  int64_t value = std::max<int64_t>(Now(), *last + 1) & 0xffffffff;
  if (value == 0) value = 1;
  if (auto st = SetMeta(db, "last_uidvalidity", value); !st) {
    return Fail(st.error());
  }
  return static_cast<uint32_t>(value);
}

constexpr std::string_view kFolderColumns =
    "id, name, uidvalidity, uidnext, highestmodseq, role, subscribed";

FolderInfo ReadFolder(const Stmt& stmt) {
  FolderInfo f;
  f.id = stmt.Int(0);
  f.name = stmt.Text(1);
  f.uidvalidity = static_cast<uint32_t>(stmt.Int(2));
  f.uidnext = static_cast<uint32_t>(stmt.Int(3));
  f.highestmodseq = static_cast<uint64_t>(stmt.Int(4));
  f.role = stmt.Text(5);
  f.subscribed = stmt.Int(6) != 0;
  return f;
}

Result<std::optional<FolderInfo>> FindFolder(Db& db, std::string_view name) {
  auto stmt = db.Prepare("SELECT " + std::string(kFolderColumns) +
                         " FROM folders WHERE name = ?");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, CanonicalFolder(name));
  auto row = stmt->Step();
  if (!row) return Fail(row.error());
  if (!*row) return std::optional<FolderInfo>();
  return std::optional<FolderInfo>(ReadFolder(*stmt));
}

Result<FolderInfo> RequireFolder(Db& db, std::string_view name) {
  auto folder = FindFolder(db, name);
  if (!folder) return Fail(folder.error());
  if (!*folder) {
    return Fail(Error{ErrorCode::kNotFound,
                      "no such folder",
                      {{"folder", std::string(name.substr(0, 100))}}});
  }
  return **folder;
}

Status UpdateFolderCounters(Db& db, const FolderInfo& f) {
  auto stmt = db.Prepare(
      "UPDATE folders SET uidnext = ?, highestmodseq = ? WHERE id = ?");
  if (!stmt) return Fail(stmt.error());
  return stmt->Bind(1, static_cast<int64_t>(f.uidnext))
      .Bind(2, static_cast<int64_t>(f.highestmodseq))
      .Bind(3, f.id)
      .Run();
}

Result<QuotaUsage> ReadUsage(Db& db) {
  auto stmt = db.Prepare("SELECT bytes, messages FROM quota_usage");
  if (!stmt) return Fail(stmt.error());
  auto row = stmt->Step();
  if (!row) return Fail(row.error());
  if (!*row) return Fail(Error{ErrorCode::kCorruption, "no quota row", {}});
  return QuotaUsage{static_cast<uint64_t>(stmt->Int(0)),
                    static_cast<uint64_t>(stmt->Int(1))};
}

Status AddUsage(Db& db, int64_t bytes, int64_t messages) {
  auto stmt = db.Prepare(
      "UPDATE quota_usage SET bytes = bytes + ?, messages = messages + ?");
  if (!stmt) return Fail(stmt.error());
  return stmt->Bind(1, bytes).Bind(2, messages).Run();
}

bool Fits(const QuotaUsage& usage, uint64_t quota_bytes, uint64_t extra) {
  return quota_bytes == 0 || usage.bytes + extra <= quota_bytes;
}

Status CreateFolderRow(Db& db, FolderInfo& f, uint64_t modseq) {
  auto uidvalidity = NextUidValidity(db);
  if (!uidvalidity) return Fail(uidvalidity.error());
  f.uidvalidity = *uidvalidity;
  f.uidnext = 1;
  f.highestmodseq = modseq;
  auto stmt = db.Prepare(
      "INSERT INTO folders(name, uidvalidity, uidnext, highestmodseq, role, "
      "subscribed) VALUES (?, ?, 1, ?, ?, ?)");
  if (!stmt) return Fail(stmt.error());
  if (auto st = stmt->Bind(1, f.name)
                    .Bind(2, static_cast<int64_t>(f.uidvalidity))
                    .Bind(3, static_cast<int64_t>(modseq))
                    .Bind(4, f.role)
                    .Bind(5, int64_t{f.subscribed ? 1 : 0})
                    .Run();
      !st) {
    return st;
  }
  f.id = db.LastInsertRowId();
  return AppendJournal(db, modseq, "folder_create",
                       {{"folder_id", f.id},
                        {"folder", f.name},
                        {"uidvalidity", f.uidvalidity},
                        {"role", f.role},
                        {"subscribed", f.subscribed}});
}

// Creates a folder inside the caller's transaction.
Result<FolderInfo> CreateFolderIn(Db& db, std::string_view name,
                                  std::string_view role) {
  std::string canonical = CanonicalFolder(name);
  if (auto st = ValidateFolderName(canonical); !st) return Fail(st.error());
  auto existing = FindFolder(db, canonical);
  if (!existing) return Fail(existing.error());
  if (*existing) {
    return Fail(
        Error{ErrorCode::kExists, "folder exists", {{"folder", canonical}}});
  }
  auto modseq = NextModseq(db);
  if (!modseq) return Fail(modseq.error());
  FolderInfo f;
  f.name = canonical;
  f.role = std::string(role);
  if (auto st = CreateFolderRow(db, f, *modseq); !st) return Fail(st.error());
  return f;
}

// The columns ReadMessage() reads; the cached renderings last, so that a
// listing without them (most) selects only the first six and SQLite
// need not decode the big ones.
constexpr std::string_view kMessageColumns =
    "uid, blob, size, internal_date, flags, modseq";
constexpr std::string_view kCacheColumns = ", envelope, body_structure";

// What ListSummaries reads, all in the messages_summary index.
constexpr std::string_view kSummaryColumns =
    "uid, flags, modseq, size, internal_date";

MessageInfo ReadSummary(const Stmt& stmt) {
  MessageInfo m;
  m.uid = static_cast<uint32_t>(stmt.Int(0));
  m.flags = SplitFlags(stmt.View(1));
  m.modseq = static_cast<uint64_t>(stmt.Int(2));
  m.size = static_cast<uint64_t>(stmt.Int(3));
  m.internal_date = stmt.Int(4);
  return m;
}

MessageInfo ReadMessage(const Stmt& stmt, bool with_cache) {
  MessageInfo m;
  m.uid = static_cast<uint32_t>(stmt.Int(0));
  m.blob = stmt.Text(1);
  m.size = static_cast<uint64_t>(stmt.Int(2));
  m.internal_date = stmt.Int(3);
  m.flags = SplitFlags(stmt.Text(4));
  m.modseq = static_cast<uint64_t>(stmt.Int(5));
  if (with_cache) {
    m.envelope = stmt.Text(6);
    m.body_structure = stmt.Text(7);
  }
  return m;
}

// Runs `stmt`, whose parameters are a folder id and a first and last
// UID, once per range of `uids`, and returns read(row) of every row.
Result<std::vector<MessageInfo>> ReadUidRanges(
    Stmt& stmt, int64_t folder_id, const UidSet& uids,
    const std::function<MessageInfo(const Stmt&)>& read) {
  std::vector<MessageInfo> out;
  for (UidRange r : NormalizeUidSet(uids)) {
    stmt.Bind(1, folder_id)
        .Bind(2, static_cast<int64_t>(r.first))
        .Bind(3, static_cast<int64_t>(r.last));
    while (true) {
      auto row = stmt.Step();
      if (!row) return Fail(row.error());
      if (!*row) break;
      out.push_back(read(stmt));
    }
    stmt.Reset();
  }
  return out;
}

Result<std::vector<MessageInfo>> SelectMessages(Db& db, int64_t folder_id,
                                                const UidSet& uids,
                                                bool with_cache) {
  auto stmt =
      db.Prepare("SELECT " + std::string(kMessageColumns) +
                 std::string(with_cache ? kCacheColumns : "") +
                 " FROM messages WHERE folder_id = ? AND uid BETWEEN ? AND ? "
                 "ORDER BY uid");
  if (!stmt) return Fail(stmt.error());
  return ReadUidRanges(*stmt, folder_id, uids, [with_cache](const Stmt& row) {
    return ReadMessage(row, with_cache);
  });
}

Status InsertMessage(Db& db, int64_t folder_id, const MessageInfo& m) {
  auto stmt = db.Prepare(
      "INSERT INTO messages(folder_id, uid, blob, size, internal_date, "
      "flags, modseq, envelope, body_structure) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!stmt) return Fail(stmt.error());
  return stmt->Bind(1, folder_id)
      .Bind(2, static_cast<int64_t>(m.uid))
      .Bind(3, m.blob)
      .Bind(4, static_cast<int64_t>(m.size))
      .Bind(5, m.internal_date)
      .Bind(6, JoinFlags(m.flags))
      .Bind(7, static_cast<int64_t>(m.modseq))
      .Bind(8, m.envelope)
      .Bind(9, m.body_structure)
      .Run();
}

Status InsertHeader(Db& db, int64_t folder_id, uint32_t uid,
                    std::string_view header) {
  auto stmt =
      db.Prepare("INSERT INTO message_headers(key, header) VALUES (?, ?)");
  if (!stmt) return Fail(stmt.error());
  return stmt->Bind(1, HeaderKey(folder_id, uid)).BindBlob(2, header).Run();
}

// Removes messages and remembers their UIDs for VANISHED (RFC 7162
// section 3.2.10), all under `modseq`.
Status RemoveMessages(Db& db, int64_t folder_id,
                      const std::vector<MessageInfo>& messages,
                      uint64_t modseq) {
  auto del = db.Prepare("DELETE FROM messages WHERE folder_id = ? AND uid = ?");
  if (!del) return Fail(del.error());
  auto keep = db.Prepare(
      "INSERT OR REPLACE INTO expunged(folder_id, uid, modseq) "
      "VALUES (?, ?, ?)");
  if (!keep) return Fail(keep.error());
  auto del_header = db.Prepare("DELETE FROM message_headers WHERE key = ?");
  if (!del_header) return Fail(del_header.error());
  for (const auto& m : messages) {
    if (auto st =
            del->Bind(1, folder_id).Bind(2, static_cast<int64_t>(m.uid)).Run();
        !st) {
      return st;
    }
    if (auto st = del_header->Bind(1, HeaderKey(folder_id, m.uid)).Run(); !st) {
      return st;
    }
    if (auto st = keep->Bind(1, folder_id)
                      .Bind(2, static_cast<int64_t>(m.uid))
                      .Bind(3, static_cast<int64_t>(modseq))
                      .Run();
        !st) {
      return st;
    }
  }
  return {};
}

// Copies `messages` of folder `source_id` into `dest` with fresh UIDs
// under `modseq`, cached headers included; fills `result` and advances
// dest's counters in the database.
Status CopyInto(Db& db, int64_t source_id,
                const std::vector<MessageInfo>& messages, FolderInfo& dest,
                uint64_t modseq, CopyResult& result) {
  result.dest_uidvalidity = dest.uidvalidity;
  auto copy_header = db.Prepare(
      "INSERT INTO message_headers(key, header) "
      "SELECT ?, header FROM message_headers WHERE key = ?");
  if (!copy_header) return Fail(copy_header.error());
  for (MessageInfo m : messages) {
    uint32_t source_uid = m.uid;
    m.uid = dest.uidnext++;
    m.modseq = modseq;
    if (auto st = InsertMessage(db, dest.id, m); !st) return st;
    if (auto st = copy_header->Bind(1, HeaderKey(dest.id, m.uid))
                      .Bind(2, HeaderKey(source_id, source_uid))
                      .Run();
        !st) {
      return st;
    }
    result.uids.emplace_back(source_uid, m.uid);
  }
  dest.highestmodseq = modseq;
  return UpdateFolderCounters(db, dest);
}

json UidPairs(const CopyResult& result) {
  json pairs = json::array();
  for (auto [from, to] : result.uids) pairs.push_back({from, to});
  return pairs;
}

// Moves (or copies) within the caller's transaction. Copy checks quota;
// move does not change usage.
Result<CopyResult> Transfer(Db& db, std::string_view from, const UidSet& uids,
                            std::string_view to, bool move,
                            uint64_t quota_bytes) {
  auto source = RequireFolder(db, from);
  if (!source) return Fail(source.error());
  auto dest = RequireFolder(db, to);
  if (!dest) return Fail(dest.error());
  auto messages = SelectMessages(db, source->id, uids, /*with_cache=*/true);
  if (!messages) return Fail(messages.error());
  CopyResult result;
  result.dest_uidvalidity = dest->uidvalidity;
  if (messages->empty()) return result;

  uint64_t bytes = 0;
  for (const auto& m : *messages) bytes += m.size;
  if (!move) {
    auto usage = ReadUsage(db);
    if (!usage) return Fail(usage.error());
    // RFC 9208 section 4.3: COPY that would exceed the limit fails whole.
    if (!Fits(*usage, quota_bytes, bytes)) return Fail(OverQuota(quota_bytes));
  }

  auto modseq = NextModseq(db);
  if (!modseq) return Fail(modseq.error());
  if (auto st = CopyInto(db, source->id, *messages, *dest, *modseq, result);
      !st) {
    return Fail(st.error());
  }
  if (move) {
    if (auto st = RemoveMessages(db, source->id, *messages, *modseq); !st) {
      return Fail(st.error());
    }
    // A move within one folder already advanced it in CopyInto; writing
    // the stale `source` copy back would undo its new UIDNEXT.
    if (source->id != dest->id) {
      source->highestmodseq = *modseq;
      if (auto st = UpdateFolderCounters(db, *source); !st) {
        return Fail(st.error());
      }
    }
  } else if (auto st = AddUsage(db, static_cast<int64_t>(bytes),
                                static_cast<int64_t>(messages->size()));
             !st) {
    return Fail(st.error());
  }

  json record = {{"from_id", source->id},
                 {"from", source->name},
                 {"to_id", dest->id},
                 {"to", dest->name},
                 {"uids", UidPairs(result)}};
  if (auto st = AppendJournal(db, *modseq, move ? "move" : "copy", record);
      !st) {
    return Fail(st.error());
  }
  return result;
}

Status InitSchema(Db& db) {
  auto txn = Transaction::Begin(db);
  if (!txn) return Fail(txn.error());
  if (auto st = db.Exec(kSchema); !st) return st;
  if (auto st = db.Exec(kSchemaV2); !st) return st;
  for (const auto& d : kDefaultFolders) {
    auto f = CreateFolderIn(db, d.name, d.role);
    if (!f) return Fail(f.error());
  }
  if (auto st =
          db.Exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
      !st) {
    return st;
  }
  return txn->Commit();
}

// Schema 1 to 2: adds the header cache, empty, and the summary index.
// Messages stored before have no cached header; SEARCH reads their blobs
// instead.
Status MigrateToV2(Db& db) {
  auto txn = Transaction::Begin(db);
  if (!txn) return Fail(txn.error());
  if (auto st = db.Exec(kSchemaV2); !st) return st;
  if (auto st = db.Exec("PRAGMA user_version = 2"); !st) return st;
  return txn->Commit();
}

}  // namespace

UidSet UidSetOf(std::initializer_list<uint32_t> uids) {
  UidSet out;
  for (uint32_t uid : uids) out.push_back({uid, uid});
  return out;
}

UidSet AllUids() { return {{1, kMaxUid}}; }

bool IsOverQuota(const Error& error) {
  for (const auto& [key, value] : error.context) {
    if (key == kQuotaReasonKey && value == kQuotaReason) return true;
  }
  return false;
}

Result<std::vector<std::string>> NormalizeFlags(
    std::span<const std::string> flags) {
  std::vector<std::string> out;
  for (const std::string& flag : flags) {
    auto invalid = [&](std::string_view why) {
      return Fail(Error{ErrorCode::kInvalid,
                        std::string(why),
                        {{"flag", flag.substr(0, 100)}}});
    };
    if (flag.empty()) return invalid("empty flag");
    if (flag.size() > kMaxFlagLength) return invalid("flag too long");
    if (flag.front() == '\\') {
      if (EqualsIgnoreCase(flag, "\\Recent")) continue;
      auto known = std::find_if(
          std::begin(kSystemFlags), std::end(kSystemFlags),
          [&](std::string_view s) { return EqualsIgnoreCase(s, flag); });
      if (known == std::end(kSystemFlags)) {
        return invalid("unknown system flag");
      }
      out.emplace_back(*known);
      continue;
    }
    // RFC 3501 section 9: a keyword is an atom.
    for (char c : flag) {
      auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u >= 0x7f ||
          std::string_view("(){%*\"\\]").find(c) != std::string_view::npos) {
        return invalid("flag is not an atom");
      }
    }
    out.push_back(flag);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::span<const AccountStore::DefaultFolder> AccountStore::DefaultFolders() {
  return kDefaultFolders;
}

AccountStore::AccountStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}

AccountStore::~AccountStore() = default;

const fs::path& AccountStore::path() const { return db_->path(); }

Result<std::unique_ptr<AccountStore>> AccountStore::Open(const fs::path& path,
                                                         bool create) {
  std::error_code ec;
  bool existed = fs::exists(path, ec);
  if (!existed && !create) {
    return Fail(Error{ErrorCode::kNotFound,
                      "no such account database",
                      {{"path", path.string()}}});
  }
  if (!existed) {
    fs::create_directories(path.parent_path(), ec);
    if (ec) {
      return Fail(Error{ErrorCode::kIo,
                        "cannot make folder: " + ec.message(),
                        {{"path", path.parent_path().string()}}});
    }
  }

  auto db = Db::Open(
      path, create ? Db::Mode::kReadWriteCreate : Db::Mode::kReadWrite);
  if (!db) return Fail(db.error());
  // WAL with synchronous=FULL: each COMMIT flushes the log, so a commit
  // that returned is durable (invariant 1 rests on this). Reads go
  // through a memory map of up to kMmapBytes of the file: a SELECT or
  // SEARCH scans every row of a folder, and SQLite's own page cache
  // (2 MiB) would read each page of a large one with a pread(2) call
  // every time. Writes still go through write(2) and the WAL.
  if (auto st = (*db)->Exec("PRAGMA journal_mode = WAL; "
                            "PRAGMA synchronous = FULL; "
                            "PRAGMA mmap_size = " +
                            std::to_string(kMmapBytes) + ";");
      !st) {
    return Fail(st.error());
  }

  auto version = (*db)->Prepare("PRAGMA user_version");
  if (!version) return Fail(version.error());
  auto row = version->Step();
  if (!row) return Fail(row.error());
  int64_t schema = *row ? version->Int(0) : 0;
  version->Reset();
  if (schema == 0) {
    if (!create) {
      return Fail(Error{ErrorCode::kCorruption,
                        "account database has no schema",
                        {{"path", path.string()}}});
    }
    if (auto st = InitSchema(**db); !st) return Fail(st.error());
    // SQLite flushes the file's contents, not the folder entries that
    // name it (and its fan-out folder).
    if (auto st = SyncFolder(path.parent_path()); !st) {
      return Fail(st.error());
    }
    if (auto st = SyncFolder(path.parent_path().parent_path()); !st) {
      return Fail(st.error());
    }
  } else if (schema == 1) {
    if (auto st = MigrateToV2(**db); !st) return Fail(st.error());
  } else if (schema != kSchemaVersion) {
    return Fail(
        Error{ErrorCode::kCorruption,
              "unknown schema version",
              {{"path", path.string()}, {"version", std::to_string(schema)}}});
  }
  return std::unique_ptr<AccountStore>(new AccountStore(std::move(*db)));
}

Result<std::vector<FolderInfo>> AccountStore::ListFolders() {
  auto stmt = db_->Prepare("SELECT " + std::string(kFolderColumns) +
                           " FROM folders ORDER BY name");
  if (!stmt) return Fail(stmt.error());
  std::vector<FolderInfo> out;
  while (true) {
    auto row = stmt->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    out.push_back(ReadFolder(*stmt));
  }
  return out;
}

Result<FolderInfo> AccountStore::GetFolder(std::string_view name) {
  return RequireFolder(*db_, name);
}

Result<FolderInfo> AccountStore::CreateFolder(std::string_view name,
                                              std::string_view role) {
  auto txn = Transaction::Begin(*db_);
  if (!txn) return Fail(txn.error());
  auto f = CreateFolderIn(*db_, name, role);
  if (!f) return Fail(f.error());
  if (auto st = txn->Commit(); !st) return Fail(st.error());
  return f;
}

Status AccountStore::RenameFolder(std::string_view from_name,
                                  std::string_view to_name) {
  std::string from = CanonicalFolder(from_name);
  std::string to = CanonicalFolder(to_name);
  if (auto st = ValidateFolderName(to); !st) return st;
  auto txn = Transaction::Begin(*db_);
  if (!txn) return Fail(txn.error());
  auto source = RequireFolder(*db_, from);
  if (!source) return Fail(source.error());
  auto clash = FindFolder(*db_, to);
  if (!clash) return Fail(clash.error());
  if (*clash) {
    return Fail(Error{ErrorCode::kExists, "folder exists", {{"folder", to}}});
  }

  // RFC 3501 section 6.3.5: renaming INBOX moves its messages to the new
  // name and leaves INBOX in place, empty.
  if (from == kInbox) {
    auto dest = CreateFolderIn(*db_, to, "");
    if (!dest) return Fail(dest.error());
    auto moved = Transfer(*db_, kInbox, AllUids(), to, /*move=*/true, 0);
    if (!moved) return Fail(moved.error());
    return txn->Commit();
  }

  std::string prefix = from + kHierarchyDelimiter;
  if (to.starts_with(prefix)) {
    return Fail(Error{ErrorCode::kInvalid,
                      "cannot rename into an inferior",
                      {{"folder", from}}});
  }
  // RFC 3501 section 6.3.5: inferior names MUST be renamed too.
  auto folders = ListFolders();
  if (!folders) return Fail(folders.error());
  json renamed = json::array();
  auto update = db_->Prepare("UPDATE folders SET name = ? WHERE id = ?");
  if (!update) return Fail(update.error());
  for (const auto& f : *folders) {
    if (f.id != source->id && !f.name.starts_with(prefix)) continue;
    std::string new_name = to + f.name.substr(from.size());
    auto taken = FindFolder(*db_, new_name);
    if (!taken) return Fail(taken.error());
    if (*taken) {
      return Fail(
          Error{ErrorCode::kExists, "folder exists", {{"folder", new_name}}});
    }
    if (auto st = update->Bind(1, new_name).Bind(2, f.id).Run(); !st) {
      return st;
    }
    renamed.push_back(
        {{"folder_id", f.id}, {"from", f.name}, {"to", new_name}});
  }

  auto modseq = NextModseq(*db_);
  if (!modseq) return Fail(modseq.error());
  if (auto st =
          AppendJournal(*db_, *modseq, "folder_rename",
                        {{"from", from}, {"to", to}, {"folders", renamed}});
      !st) {
    return st;
  }
  return txn->Commit();
}

Status AccountStore::DeleteFolder(std::string_view name) {
  std::string canonical = CanonicalFolder(name);
  // RFC 3501 section 6.3.4: it is an error to delete INBOX.
  if (canonical == kInbox) {
    return Fail(Error{ErrorCode::kInvalid, "cannot delete INBOX", {}});
  }
  auto txn = Transaction::Begin(*db_);
  if (!txn) return Fail(txn.error());
  auto f = RequireFolder(*db_, canonical);
  if (!f) return Fail(f.error());

  auto totals = db_->Prepare(
      "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM messages "
      "WHERE folder_id = ?");
  if (!totals) return Fail(totals.error());
  totals->Bind(1, f->id);
  auto row = totals->Step();
  if (!row) return Fail(row.error());
  int64_t bytes = totals->Int(0);
  int64_t count = totals->Int(1);
  totals->Reset();

  for (const char* sql : {"DELETE FROM messages WHERE folder_id = ?",
                          "DELETE FROM expunged WHERE folder_id = ?",
                          "DELETE FROM folders WHERE id = ?"}) {
    auto stmt = db_->Prepare(sql);
    if (!stmt) return Fail(stmt.error());
    if (auto st = stmt->Bind(1, f->id).Run(); !st) return st;
  }
  auto headers =
      db_->Prepare("DELETE FROM message_headers WHERE key BETWEEN ? AND ?");
  if (!headers) return Fail(headers.error());
  if (auto st = headers->Bind(1, HeaderKey(f->id, 0))
                    .Bind(2, HeaderKey(f->id, kMaxUid))
                    .Run();
      !st) {
    return st;
  }
  if (auto st = AddUsage(*db_, -bytes, -count); !st) return st;

  auto modseq = NextModseq(*db_);
  if (!modseq) return Fail(modseq.error());
  if (auto st = AppendJournal(*db_, *modseq, "folder_delete",
                              {{"folder_id", f->id}, {"folder", f->name}});
      !st) {
    return st;
  }
  return txn->Commit();
}

Status AccountStore::SetSubscribed(std::string_view name, bool subscribed) {
  auto txn = Transaction::Begin(*db_);
  if (!txn) return Fail(txn.error());
  auto f = RequireFolder(*db_, name);
  if (!f) return Fail(f.error());
  if (f->subscribed == subscribed) return {};
  auto stmt = db_->Prepare("UPDATE folders SET subscribed = ? WHERE id = ?");
  if (!stmt) return Fail(stmt.error());
  if (auto st = stmt->Bind(1, int64_t{subscribed ? 1 : 0}).Bind(2, f->id).Run();
      !st) {
    return st;
  }
  auto modseq = NextModseq(*db_);
  if (!modseq) return Fail(modseq.error());
  if (auto st = AppendJournal(*db_, *modseq, "subscribe",
                              {{"folder_id", f->id},
                               {"folder", f->name},
                               {"subscribed", subscribed}});
      !st) {
    return st;
  }
  return txn->Commit();
}

Result<FolderStatus> AccountStore::Select(std::string_view folder) {
  auto f = RequireFolder(*db_, folder);
  if (!f) return Fail(f.error());
  // Keywords cannot hold a backslash (they are atoms), so " \Seen " only
  // matches the system flag.
  auto stmt = db_->Prepare(
      "SELECT COUNT(*), "
      "COALESCE(SUM((' ' || flags || ' ') NOT LIKE '% \\Seen %'), 0), "
      "COALESCE(SUM(size), 0) FROM messages WHERE folder_id = ?");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, f->id);
  auto row = stmt->Step();
  if (!row) return Fail(row.error());
  FolderStatus status;
  status.folder = *f;
  status.messages = static_cast<uint32_t>(stmt->Int(0));
  status.unseen = static_cast<uint32_t>(stmt->Int(1));
  status.size = static_cast<uint64_t>(stmt->Int(2));
  return status;
}

namespace {

// How long a delivery id is remembered: longer than any queue keeps a
// message (queue.max_lifetime_seconds tops out at 90 days).
constexpr int64_t kDeliveryMemorySeconds = 91 * 86400;

// The result of an earlier delivery with `delivery_id`, if there was one.
Result<std::optional<AppendResult>> FindDelivery(Db& db,
                                                 std::string_view delivery_id) {
  auto stmt = db.Prepare(
      "SELECT uidvalidity, uid FROM deliveries WHERE delivery_id = ?");
  if (!stmt) return Fail(stmt.error());
  auto row = stmt->Bind(1, delivery_id).Step();
  if (!row) return Fail(row.error());
  if (!*row) return std::optional<AppendResult>();
  return std::optional<AppendResult>(AppendResult{
      AppendStatus::kOk, static_cast<uint32_t>(stmt->Int(0)),
      static_cast<uint32_t>(stmt->Int(1)), 0});
}

// Remembers a delivery and forgets those older than the memory.
Status RecordDelivery(Db& db, std::string_view delivery_id,
                      uint32_t uidvalidity, uint32_t uid) {
  int64_t now = Now();
  auto insert = db.Prepare(
      "INSERT INTO deliveries (delivery_id, uidvalidity, uid, time)"
      " VALUES (?, ?, ?, ?)");
  if (!insert) return Fail(insert.error());
  if (auto st = insert->Bind(1, delivery_id)
                    .Bind(2, int64_t{uidvalidity})
                    .Bind(3, int64_t{uid})
                    .Bind(4, now)
                    .Run();
      !st) {
    return st;
  }
  auto prune = db.Prepare("DELETE FROM deliveries WHERE time < ?");
  if (!prune) return Fail(prune.error());
  return prune->Bind(1, now - kDeliveryMemorySeconds).Run();
}

}  // namespace

Status AccountStore::DeferFlushes(bool deferred) {
  return db_->Exec(deferred ? "PRAGMA synchronous = NORMAL"
                            : "PRAGMA synchronous = FULL");
}

Result<std::vector<AppendResult>> AccountStore::Append(
    std::span<const NewMessage> batch, uint64_t quota_bytes) {
  // Validate everything first so that bad input changes nothing.
  std::vector<std::vector<std::string>> flags;
  flags.reserve(batch.size());
  for (const auto& m : batch) {
    auto normalized = NormalizeFlags(m.flags);
    if (!normalized) return Fail(normalized.error());
    flags.push_back(std::move(*normalized));
    if (!IsBlobHash(m.blob)) {
      return Fail(Error{ErrorCode::kInvalid,
                        "malformed blob name",
                        {{"blob", m.blob.substr(0, 80)}}});
    }
  }

  auto txn = Transaction::Begin(*db_);
  if (!txn) return Fail(txn.error());
  auto usage = ReadUsage(*db_);
  if (!usage) return Fail(usage.error());
  std::map<std::string, std::optional<FolderInfo>> folders;
  std::vector<AppendResult> results;

  for (size_t i = 0; i < batch.size(); ++i) {
    const NewMessage& m = batch[i];
    std::string name = CanonicalFolder(m.folder);
    if (!folders.contains(name)) {
      auto found = FindFolder(*db_, name);
      if (!found) return Fail(found.error());
      folders[name] = std::move(*found);
    }
    std::optional<FolderInfo>& folder = folders[name];
    AppendResult result;
    if (!m.delivery_id.empty()) {
      auto earlier = FindDelivery(*db_, m.delivery_id);
      if (!earlier) return Fail(earlier.error());
      if (*earlier) {
        results.push_back(**earlier);
        continue;
      }
    }
    if (!folder) {
      result.status = AppendStatus::kNoSuchFolder;
      results.push_back(result);
      continue;
    }
    if (!Fits(*usage, quota_bytes, m.size)) {
      result.status = AppendStatus::kOverQuota;
      results.push_back(result);
      continue;
    }

    auto modseq = NextModseq(*db_);
    if (!modseq) return Fail(modseq.error());
    MessageInfo row{folder->uidnext++, m.blob,  m.size,     m.internal_date,
                    flags[i],          *modseq, m.envelope, m.body_structure};
    folder->highestmodseq = *modseq;
    if (auto st = InsertMessage(*db_, folder->id, row); !st) {
      return Fail(st.error());
    }
    if (!m.header.empty()) {
      if (auto st = InsertHeader(*db_, folder->id, row.uid, m.header); !st) {
        return Fail(st.error());
      }
    }
    if (auto st = UpdateFolderCounters(*db_, *folder); !st) {
      return Fail(st.error());
    }
    usage->bytes += m.size;
    usage->messages += 1;
    json record = {{"folder_id", folder->id},
                   {"folder", folder->name},
                   {"uid", row.uid},
                   {"blob", row.blob},
                   {"size", row.size},
                   {"internal_date", row.internal_date},
                   {"flags", row.flags},
                   {"envelope", row.envelope},
                   {"body_structure", row.body_structure}};
    if (auto st = AppendJournal(*db_, *modseq, "append", record); !st) {
      return Fail(st.error());
    }
    if (!m.delivery_id.empty()) {
      if (auto st = RecordDelivery(*db_, m.delivery_id, folder->uidvalidity,
                                   row.uid);
          !st) {
        return Fail(st.error());
      }
    }
    results.push_back(
        {AppendStatus::kOk, folder->uidvalidity, row.uid, *modseq});
  }

  auto stmt = db_->Prepare("UPDATE quota_usage SET bytes = ?, messages = ?");
  if (!stmt) return Fail(stmt.error());
  if (auto st = stmt->Bind(1, static_cast<int64_t>(usage->bytes))
                    .Bind(2, static_cast<int64_t>(usage->messages))
                    .Run();
      !st) {
    return Fail(st.error());
  }
  if (auto st = txn->Commit(); !st) return Fail(st.error());
  return results;
}

Result<std::vector<MessageInfo>> AccountStore::ListMessages(
    std::string_view folder, const UidSet& uids, bool with_cache) {
  auto f = RequireFolder(*db_, folder);
  if (!f) return Fail(f.error());
  return SelectMessages(*db_, f->id, uids, with_cache);
}

Result<FolderSummary> AccountStore::SummarizeFolder(std::string_view folder) {
  auto f = RequireFolder(*db_, folder);
  if (!f) return Fail(f.error());
  auto stmt = db_->Prepare(
      "SELECT uid, flags FROM messages INDEXED BY messages_summary "
      "WHERE folder_id = ? ORDER BY uid");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, f->id);

  FolderSummary summary;
  std::set<std::string, std::less<>> keywords;
  while (true) {
    auto row = stmt->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    auto uid = static_cast<uint32_t>(stmt->Int(0));
    if (!summary.uids.empty() &&
        uint64_t{summary.uids.back().last} + 1 == uid) {
      summary.uids.back().last = uid;
    } else {
      summary.uids.push_back({uid, uid});
    }

    // Flags are stored canonical and space-separated; most messages have
    // few or none, so they are scanned in place.
    const std::string flags = stmt->Text(1);
    bool seen = false;
    for (std::string_view rest = flags; !rest.empty();) {
      size_t space = rest.find(' ');
      std::string_view flag = rest.substr(0, space);
      rest = space == std::string_view::npos ? "" : rest.substr(space + 1);
      if (flag == kSeenFlag) {
        seen = true;
      } else if (!flag.empty() && !flag.starts_with('\\') &&
                 !keywords.contains(flag)) {
        keywords.emplace(flag);
      }
    }
    if (!seen && summary.first_unseen_uid == 0) {
      summary.first_unseen_uid = uid;
    }
  }
  summary.keywords.assign(keywords.begin(), keywords.end());
  return summary;
}

Result<std::vector<MessageInfo>> AccountStore::ListSummaries(
    std::string_view folder, const UidSet& uids) {
  auto f = RequireFolder(*db_, folder);
  if (!f) return Fail(f.error());
  auto stmt = db_->Prepare("SELECT " + std::string(kSummaryColumns) +
                           " FROM messages INDEXED BY messages_summary "
                           "WHERE folder_id = ? AND uid BETWEEN ? AND ? "
                           "ORDER BY uid");
  if (!stmt) return Fail(stmt.error());
  return ReadUidRanges(*stmt, f->id, uids, ReadSummary);
}

Result<std::vector<CachedHeader>> AccountStore::ListHeaders(
    std::string_view folder, const UidSet& uids) {
  auto f = RequireFolder(*db_, folder);
  if (!f) return Fail(f.error());
  auto stmt = db_->Prepare(
      "SELECT key, header FROM message_headers WHERE key BETWEEN ? AND ? "
      "ORDER BY key");
  if (!stmt) return Fail(stmt.error());
  std::vector<CachedHeader> out;
  for (UidRange r : NormalizeUidSet(uids)) {
    stmt->Bind(1, HeaderKey(f->id, r.first)).Bind(2, HeaderKey(f->id, r.last));
    while (true) {
      auto row = stmt->Step();
      if (!row) return Fail(row.error());
      if (!*row) break;
      out.push_back({static_cast<uint32_t>(stmt->Int(0) & 0xffffffff),
                     std::string(stmt->View(1))});
    }
    stmt->Reset();
  }
  return out;
}

Status AccountStore::CacheHeaders(std::string_view folder,
                                  std::span<const CachedHeader> headers) {
  if (headers.empty()) return {};
  // WAL with synchronous=NORMAL stays consistent through a crash; it may
  // only lose this commit, which the next FULL one would have flushed.
  if (auto st = DeferFlushes(true); !st) return st;
  auto written = [&]() -> Status {
    auto txn = Transaction::Begin(*db_);
    if (!txn) return Fail(txn.error());
    auto f = RequireFolder(*db_, folder);
    if (!f) return Fail(f.error());
    auto insert = db_->Prepare(
        "INSERT OR IGNORE INTO message_headers(key, header) "
        "SELECT ?, ? WHERE EXISTS "
        "(SELECT 1 FROM messages WHERE folder_id = ? AND uid = ?)");
    if (!insert) return Fail(insert.error());
    for (const CachedHeader& h : headers) {
      if (auto st = insert->Bind(1, HeaderKey(f->id, h.uid))
                        .BindBlob(2, h.header)
                        .Bind(3, f->id)
                        .Bind(4, static_cast<int64_t>(h.uid))
                        .Run();
          !st) {
        return st;
      }
    }
    return txn->Commit();
  }();
  if (auto st = DeferFlushes(false); !st) return st;
  return written;
}

Result<StoreFlagsResult> AccountStore::StoreFlags(
    std::string_view folder, const UidSet& uids, FlagOp op,
    std::span<const std::string> flags,
    std::optional<uint64_t> unchanged_since) {
  auto wanted = NormalizeFlags(flags);
  if (!wanted) return Fail(wanted.error());
  auto txn = Transaction::Begin(*db_);
  if (!txn) return Fail(txn.error());
  auto f = RequireFolder(*db_, folder);
  if (!f) return Fail(f.error());
  auto messages = SelectMessages(*db_, f->id, uids, /*with_cache=*/false);
  if (!messages) return Fail(messages.error());

  StoreFlagsResult result;
  std::optional<uint64_t> modseq;  // taken on the first real change
  auto update = db_->Prepare(
      "UPDATE messages SET flags = ?, modseq = ? "
      "WHERE folder_id = ? AND uid = ?");
  if (!update) return Fail(update.error());
  json changes = json::array();
  for (const auto& m : *messages) {
    if (unchanged_since && m.modseq > *unchanged_since) {
      result.modified.push_back(m.uid);
      continue;
    }
    std::vector<std::string> next;
    switch (op) {
      case FlagOp::kReplace:
        next = *wanted;
        break;
      case FlagOp::kAdd:
        std::set_union(m.flags.begin(), m.flags.end(), wanted->begin(),
                       wanted->end(), std::back_inserter(next));
        break;
      case FlagOp::kRemove:
        std::set_difference(m.flags.begin(), m.flags.end(), wanted->begin(),
                            wanted->end(), std::back_inserter(next));
        break;
    }
    if (next == m.flags) continue;
    if (!modseq) {
      auto taken = NextModseq(*db_);
      if (!taken) return Fail(taken.error());
      modseq = *taken;
    }
    if (auto st = update->Bind(1, JoinFlags(next))
                      .Bind(2, static_cast<int64_t>(*modseq))
                      .Bind(3, f->id)
                      .Bind(4, static_cast<int64_t>(m.uid))
                      .Run();
        !st) {
      return Fail(st.error());
    }
    changes.push_back({{"uid", m.uid}, {"flags", next}});
    result.updated.push_back({m.uid, std::move(next), *modseq});
  }
  if (!modseq) return result;  // nothing changed, nothing to journal

  f->highestmodseq = *modseq;
  if (auto st = UpdateFolderCounters(*db_, *f); !st) return Fail(st.error());
  if (auto st = AppendJournal(
          *db_, *modseq, "flags",
          {{"folder_id", f->id}, {"folder", f->name}, {"changes", changes}});
      !st) {
    return Fail(st.error());
  }
  if (auto st = txn->Commit(); !st) return Fail(st.error());
  return result;
}

Result<CopyResult> AccountStore::Copy(std::string_view from, const UidSet& uids,
                                      std::string_view to,
                                      uint64_t quota_bytes) {
  auto txn = Transaction::Begin(*db_);
  if (!txn) return Fail(txn.error());
  auto result = Transfer(*db_, from, uids, to, /*move=*/false, quota_bytes);
  if (!result) return result;
  if (auto st = txn->Commit(); !st) return Fail(st.error());
  return result;
}

Result<CopyResult> AccountStore::Move(std::string_view from, const UidSet& uids,
                                      std::string_view to) {
  auto txn = Transaction::Begin(*db_);
  if (!txn) return Fail(txn.error());
  auto result = Transfer(*db_, from, uids, to, /*move=*/true, 0);
  if (!result) return result;
  if (auto st = txn->Commit(); !st) return Fail(st.error());
  return result;
}

Result<std::vector<uint32_t>> AccountStore::Expunge(std::string_view folder,
                                                    const UidSet& uids) {
  auto txn = Transaction::Begin(*db_);
  if (!txn) return Fail(txn.error());
  auto f = RequireFolder(*db_, folder);
  if (!f) return Fail(f.error());
  auto messages = SelectMessages(*db_, f->id, uids, /*with_cache=*/false);
  if (!messages) return Fail(messages.error());
  std::erase_if(*messages, [](const MessageInfo& m) {
    return !HasFlag(m.flags, kDeletedFlag);
  });
  std::vector<uint32_t> expunged;
  if (messages->empty()) return expunged;

  auto modseq = NextModseq(*db_);
  if (!modseq) return Fail(modseq.error());
  if (auto st = RemoveMessages(*db_, f->id, *messages, *modseq); !st) {
    return Fail(st.error());
  }
  int64_t bytes = 0;
  for (const auto& m : *messages) {
    bytes += static_cast<int64_t>(m.size);
    expunged.push_back(m.uid);
  }
  if (auto st = AddUsage(*db_, -bytes, -static_cast<int64_t>(messages->size()));
      !st) {
    return Fail(st.error());
  }
  f->highestmodseq = *modseq;
  if (auto st = UpdateFolderCounters(*db_, *f); !st) return Fail(st.error());
  if (auto st = AppendJournal(
          *db_, *modseq, "expunge",
          {{"folder_id", f->id}, {"folder", f->name}, {"uids", expunged}});
      !st) {
    return Fail(st.error());
  }
  if (auto st = txn->Commit(); !st) return Fail(st.error());
  return expunged;
}

Result<Changes> AccountStore::ChangesSince(std::string_view folder,
                                           uint64_t modseq) {
  auto f = RequireFolder(*db_, folder);
  if (!f) return Fail(f.error());
  Changes changes;
  // By the modseq index, sorted here: with ORDER BY uid SQLite walks the
  // whole folder in UID order instead, which for the usual caller (a
  // session catching up on a few changes) reads every row.
  auto changed = db_->Prepare("SELECT " + std::string(kMessageColumns) +
                              " FROM messages INDEXED BY messages_by_modseq "
                              "WHERE folder_id = ? AND modseq > ?");
  if (!changed) return Fail(changed.error());
  changed->Bind(1, f->id).Bind(2, static_cast<int64_t>(modseq));
  while (true) {
    auto row = changed->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    changes.changed.push_back(ReadMessage(*changed, /*with_cache=*/false));
  }
  std::sort(
      changes.changed.begin(), changes.changed.end(),
      [](const MessageInfo& a, const MessageInfo& b) { return a.uid < b.uid; });

  auto vanished = db_->Prepare(
      "SELECT uid FROM expunged WHERE folder_id = ? AND modseq > ? "
      "ORDER BY uid");
  if (!vanished) return Fail(vanished.error());
  vanished->Bind(1, f->id).Bind(2, static_cast<int64_t>(modseq));
  while (true) {
    auto row = vanished->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    changes.vanished.push_back(static_cast<uint32_t>(vanished->Int(0)));
  }
  return changes;
}

Result<QuotaUsage> AccountStore::Usage() { return ReadUsage(*db_); }

Result<bool> AccountStore::QuotaAllows(uint64_t quota_bytes,
                                       uint64_t extra_bytes) {
  auto usage = ReadUsage(*db_);
  if (!usage) return Fail(usage.error());
  return Fits(*usage, quota_bytes, extra_bytes);
}

Result<std::vector<JournalEntry>> AccountStore::ReadJournal(uint64_t after,
                                                            size_t limit) {
  auto stmt = db_->Prepare(
      "SELECT seq, modseq, time, kind, data FROM journal WHERE seq > ? "
      "ORDER BY seq LIMIT ?");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, static_cast<int64_t>(after))
      .Bind(2, static_cast<int64_t>(limit));
  std::vector<JournalEntry> out;
  while (true) {
    auto row = stmt->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    out.push_back({static_cast<uint64_t>(stmt->Int(0)),
                   static_cast<uint64_t>(stmt->Int(1)), stmt->Int(2),
                   stmt->Text(3), stmt->Text(4)});
  }
  return out;
}

Result<uint64_t> AccountStore::LastJournalSeq() {
  auto value = GetMeta(*db_, "journal_seq");
  if (!value) return Fail(value.error());
  return static_cast<uint64_t>(*value);
}

Result<uint64_t> AccountStore::CurrentModseq() {
  auto value = GetMeta(*db_, "modseq");
  if (!value) return Fail(value.error());
  return static_cast<uint64_t>(*value);
}

Result<std::vector<std::string>> AccountStore::ReferencedBlobs() {
  auto stmt = db_->Prepare("SELECT DISTINCT blob FROM messages ORDER BY blob");
  if (!stmt) return Fail(stmt.error());
  std::vector<std::string> out;
  while (true) {
    auto row = stmt->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    out.push_back(stmt->Text(0));
  }
  return out;
}

}  // namespace corvus
