#include "directory/sqlite_directory.h"

#include <algorithm>
#include <ctime>
#include <deque>
#include <map>
#include <set>
#include <utility>

#include "common/config.h"
#include "common/log.h"
#include "directory/address.h"
#include "directory/password.h"
#include "directory/random.h"

namespace corvus {
namespace {

constexpr std::string_view kKindAccount = "account";
constexpr std::string_view kKindAlias = "alias";
constexpr std::string_view kKindList = "list";

constexpr size_t kAccountIdBytes = 16;  // 32 hex digits
constexpr size_t kMaxDisplayNameLength = 256;
constexpr size_t kMaxPasswordHashLength = 512;
constexpr size_t kMaxServerNameLength = 253;

// Schema migrations: kMigrations[i] takes version i to version i + 1.
// Released entries are never edited; a change is a new entry.
constexpr std::string_view kMigrations[] = {
    // 0 -> 1: the first schema.
    R"sql(
CREATE TABLE domains (
  name TEXT PRIMARY KEY,
  created INTEGER NOT NULL
) WITHOUT ROWID;

-- Every deliverable address, whatever it is. The primary key is what
-- makes an address an account, an alias or a list, never two of them.
CREATE TABLE addresses (
  address TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('account', 'alias', 'list')),
  domain TEXT NOT NULL REFERENCES domains (name)
) WITHOUT ROWID;
CREATE INDEX addresses_by_domain ON addresses (domain);

CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  address TEXT NOT NULL UNIQUE
      REFERENCES addresses (address) ON DELETE CASCADE,
  typed_address TEXT NOT NULL,  -- as the operator wrote it
  display_name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'locked', 'closed')),
  quota_bytes INTEGER NOT NULL CHECK (quota_bytes >= 0),
  home_server TEXT NOT NULL,
  created INTEGER NOT NULL
) WITHOUT ROWID;

-- Ids of deleted accounts: mailboxes and backups are keyed by id, so an
-- id must never come back for someone else.
CREATE TABLE retired_account_ids (
  id TEXT PRIMARY KEY
) WITHOUT ROWID;

-- Targets of aliases and members of lists; `owner` is the alias or list.
-- Targets are not foreign keys: they may be external or not exist yet.
CREATE TABLE expansions (
  owner TEXT NOT NULL REFERENCES addresses (address) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  target TEXT NOT NULL,
  PRIMARY KEY (owner, target)
) WITHOUT ROWID;

CREATE TABLE servers (
  name TEXT PRIMARY KEY,
  zone TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE server_roles (
  server TEXT NOT NULL REFERENCES servers (name) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  role TEXT NOT NULL,
  PRIMARY KEY (server, position)
) WITHOUT ROWID;

CREATE TABLE server_addresses (
  server TEXT NOT NULL REFERENCES servers (name) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  address TEXT NOT NULL,
  PRIMARY KEY (server, position)
) WITHOUT ROWID;
)sql",
};
static_assert(std::size(kMigrations) == SqliteDirectory::kSchemaVersion);

const std::set<std::string, std::less<>> kKnownRoles = {
    "mta", "proxy", "mailbox", "directory", "admin"};

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

Error Invalid(std::string message, std::string_view key,
              std::string_view value) {
  return Error{ErrorCode::kInvalid, std::move(message), {}}.With(
      std::string(key), SanitizeForLog(value));
}

Error WithKey(Error error, std::string_view key, std::string_view value) {
  return std::move(error).With(std::string(key), SanitizeForLog(value));
}

// Normalises an address given by a caller, naming it in the error.
Result<NormalizedAddress> ParseAddress(std::string_view text,
                                       std::string_view key = "address") {
  auto parsed = NormalizeAddress(text);
  if (!parsed) return Fail(WithKey(std::move(parsed.error()), key, text));
  return parsed;
}

Result<std::string> ParseDomain(std::string_view text) {
  auto domain = NormalizeDomain(text);
  if (!domain) return Fail(WithKey(std::move(domain.error()), "domain", text));
  return domain;
}

bool IsAccountId(std::string_view text) {
  return text.size() == 2 * kAccountIdBytes &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                  (c >= 'A' && c <= 'F');
         });
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string TrimBlanks(std::string_view text) {
  constexpr std::string_view kBlanks = " \t\r\n";
  const size_t first = text.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return "";
  return std::string(
      text.substr(first, text.find_last_not_of(kBlanks) - first + 1));
}

// Server, zone and home-server names: host-name characters only, so that
// they are safe in logs, file names and LDAP DNs alike.
bool IsValidServerName(std::string_view name) {
  if (name.empty() || name.size() > kMaxServerNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
  });
}

// Checks the fields of an account a caller may set.
Status ValidateAccountFields(const Account& account) {
  if (account.display_name.size() > kMaxDisplayNameLength) {
    return Fail(ErrorCode::kInvalid, "display name too long");
  }
  // Control characters would break header and LDIF output; UTF-8 is fine.
  for (const char c : account.display_name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) {
      return Fail(ErrorCode::kInvalid, "control character in display name");
    }
  }
  // A crypt(3) string is printable ASCII without spaces. The hash itself
  // is never put into the error.
  if (account.password_hash.size() > kMaxPasswordHashLength ||
      !std::all_of(account.password_hash.begin(), account.password_hash.end(),
                   [](char c) { return c > 0x20 && c < 0x7F; })) {
    return Fail(ErrorCode::kInvalid, "password hash is not a crypt(3) string");
  }
  if (account.quota_bytes < 0) {
    return Fail(ErrorCode::kInvalid, "negative quota");
  }
  if (!account.home_server.empty() && !IsValidServerName(account.home_server)) {
    return Fail(
        Invalid("bad home server name", "home_server", account.home_server));
  }
  return {};
}

// Normalises targets or members and drops repeats, keeping the first.
Result<std::vector<std::string>> NormalizeTargets(
    const std::vector<std::string>& targets, std::string_view key) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const std::string& target : targets) {
    auto parsed = ParseAddress(target, key);
    if (!parsed) return Fail(parsed.error());
    if (seen.insert(parsed->address).second) {
      out.push_back(std::move(parsed->address));
    }
  }
  return out;
}

// ---- Queries. Each requires the directory's mutex to be held. ----

Result<bool> DomainExists(SqliteDb& db, std::string_view domain) {
  auto stmt = db.Prepare("SELECT 1 FROM domains WHERE name = ?");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, domain);
  return stmt->Step();
}

// Runs a query that yields one integer, with one text parameter. The
// statement is finished when this returns: an unfinished read would make
// the enclosing COMMIT fail.
Result<int64_t> QueryInt(SqliteDb& db, std::string_view sql,
                         std::string_view param) {
  auto stmt = db.Prepare(sql);
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, param);
  auto row = stmt->Step();
  if (!row) return Fail(row.error());
  if (!*row) {
    return Fail(ErrorCode::kCorruption, "aggregate query returned no row");
  }
  return stmt->ColumnInt(0);
}

// Returns "account", "alias" or "list", or an empty string if the
// address is free.
Result<std::string> KindOf(SqliteDb& db, std::string_view address) {
  auto stmt = db.Prepare("SELECT kind FROM addresses WHERE address = ?");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, address);
  auto row = stmt->Step();
  if (!row) return Fail(row.error());
  return *row ? stmt->ColumnText(0) : std::string();
}

// Targets of an alias or members of a list, in their stored order.
Result<std::vector<std::string>> TargetsOf(SqliteDb& db,
                                           std::string_view owner) {
  auto stmt = db.Prepare(
      "SELECT target FROM expansions WHERE owner = ? ORDER BY position");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, owner);
  std::vector<std::string> targets;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return Fail(row.error());
    if (!*row) return targets;
    targets.push_back(stmt->ColumnText(0));
  }
}

constexpr char kAccountColumns[] =
    "id, address, display_name, password_hash, status, quota_bytes, "
    "home_server, created";

Result<Account> ReadAccountRow(const SqliteStatement& stmt) {
  Account account;
  account.id = stmt.ColumnText(0);
  account.address = stmt.ColumnText(1);
  account.display_name = stmt.ColumnText(2);
  account.password_hash = stmt.ColumnText(3);
  const std::string status = stmt.ColumnText(4);
  auto parsed = ParseAccountStatus(status);
  if (!parsed) {
    return Fail(Error{ErrorCode::kCorruption, "bad account status", {}}
                    .With("account", account.id)
                    .With("status", SanitizeForLog(status)));
  }
  account.status = *parsed;
  account.quota_bytes = stmt.ColumnInt(5);
  account.home_server = stmt.ColumnText(6);
  account.created = stmt.ColumnInt(7);
  return account;
}

// Finds an account by normalised address or by id; nullopt if absent.
Result<std::optional<Account>> FindAccount(SqliteDb& db,
                                           std::string_view column,
                                           std::string_view value) {
  auto stmt =
      db.Prepare(std::string("SELECT ") + kAccountColumns +
                 " FROM accounts WHERE " + std::string(column) + " = ?");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, value);
  auto row = stmt->Step();
  if (!row) return Fail(row.error());
  if (!*row) return std::optional<Account>();
  auto account = ReadAccountRow(*stmt);
  if (!account) return Fail(account.error());
  return std::optional<Account>(std::move(*account));
}

// Looks an account up by id (32 hex digits) or by any form of address.
Result<std::optional<Account>> FindAccountByAddressOrId(
    SqliteDb& db, std::string_view address_or_id) {
  if (IsAccountId(address_or_id)) {
    return FindAccount(db, "id", AsciiLower(address_or_id));
  }
  auto parsed = ParseAddress(address_or_id);
  if (!parsed) return Fail(parsed.error());
  return FindAccount(db, "address", parsed->address);
}

Result<bool> AccountIdTaken(SqliteDb& db, std::string_view id) {
  auto stmt = db.Prepare(
      "SELECT 1 FROM accounts WHERE id = ?1 "
      "UNION ALL SELECT 1 FROM retired_account_ids WHERE id = ?1");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, id);
  return stmt->Step();
}

// Draws a fresh account id. 128 random bits make a collision all but
// impossible; the check makes "never reused" a guarantee, not a hope.
Result<std::string> NewAccountId(SqliteDb& db) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto id = RandomHex(kAccountIdBytes);
    if (!id) return Fail(id.error());
    auto taken = AccountIdTaken(db, *id);
    if (!taken) return Fail(taken.error());
    if (!*taken) return id;
  }
  return Fail(ErrorCode::kTemporary, "could not draw a fresh account id");
}

// True if expanding any of `starts` through aliases and lists reaches
// `goal`. Terminates because each address is visited once.
Result<bool> Reaches(SqliteDb& db, const std::vector<std::string>& starts,
                     std::string_view goal) {
  std::deque<std::string> pending(starts.begin(), starts.end());
  std::set<std::string, std::less<>> visited;
  while (!pending.empty()) {
    std::string address = std::move(pending.front());
    pending.pop_front();
    if (address == goal) return true;
    if (!visited.insert(address).second) continue;

    auto kind = KindOf(db, address);
    if (!kind) return Fail(kind.error());
    if (*kind != kKindAlias && *kind != kKindList) continue;
    auto targets = TargetsOf(db, address);
    if (!targets) return Fail(targets.error());
    pending.insert(pending.end(), targets->begin(), targets->end());
  }
  return false;
}

// Returns kExists naming what already holds `address`, or nothing.
Status CheckAddressFree(SqliteDb& db, std::string_view address) {
  auto kind = KindOf(db, address);
  if (!kind) return Fail(kind.error());
  if (kind->empty()) return {};
  return Fail(Error{ErrorCode::kExists, "address already in use", {}}
                  .With("address", std::string(address))
                  .With("taken_by", *kind));
}

Status CheckDomainLocal(SqliteDb& db, std::string_view domain) {
  auto exists = DomainExists(db, domain);
  if (!exists) return Fail(exists.error());
  if (*exists) return {};
  return Fail(
      Error{ErrorCode::kNotFound, "domain not in the directory", {}}.With(
          "domain", std::string(domain)));
}

Status InsertAddress(SqliteDb& db, const NormalizedAddress& address,
                     std::string_view kind) {
  auto stmt = db.Prepare(
      "INSERT INTO addresses (address, kind, domain) VALUES (?, ?, ?)");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, address.address).Bind(2, kind).Bind(3, address.domain);
  return stmt->Run();
}

Status InsertTarget(SqliteDb& db, std::string_view owner, int64_t position,
                    std::string_view target) {
  auto stmt = db.Prepare(
      "INSERT INTO expansions (owner, position, target) VALUES (?, ?, ?)");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, owner).Bind(2, position).Bind(3, target);
  return stmt->Run();
}

// Reads every alias or list with its targets, ordered by address.
Result<std::vector<std::pair<std::string, std::vector<std::string>>>>
ListExpansions(SqliteDb& db, std::string_view kind) {
  auto stmt = db.Prepare(
      "SELECT a.address, e.target FROM addresses a "
      "LEFT JOIN expansions e ON e.owner = a.address "
      "WHERE a.kind = ? ORDER BY a.address, e.position");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, kind);
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return Fail(row.error());
    if (!*row) return out;
    std::string owner = stmt->ColumnText(0);
    if (out.empty() || out.back().first != owner) {
      out.emplace_back(std::move(owner), std::vector<std::string>());
    }
    // A list without members comes back as one row with a NULL target.
    if (!stmt->ColumnIsNull(1)) {
      out.back().second.push_back(stmt->ColumnText(1));
    }
  }
}

// State of one Resolve() walk.
class Expansion {
 public:
  explicit Expansion(SqliteDb& db) : db_(db) {}

  // Adds what `address` stands for to the resolution. `depth` counts the
  // aliases and lists above it.
  Status Expand(const std::string& address, int depth) {
    // A cycle: this address is its own ancestor. Its members are already
    // being counted higher up, so cutting here loses nobody.
    if (on_path_.contains(address) ||
        depth > SqliteDirectory::kMaxExpansionDepth) {
      out_.loop_detected = true;
      return {};
    }
    // Reached before by another way, no deeper than now: its recipients
    // are already in. Reached before only deeper, it may have been cut
    // by the depth limit, so it is expanded again from here.
    if (auto it = expanded_at_.find(address);
        it != expanded_at_.end() && it->second <= depth) {
      return {};
    }

    auto local = IsLocal(std::string(DomainOfAddress(address)));
    if (!local) return Fail(local.error());
    if (!*local) {
      if (seen_external_.insert(address).second) {
        out_.external.push_back(address);
      }
      return {};
    }

    auto kind = KindOf(db_, address);
    if (!kind) return Fail(kind.error());
    if (*kind == kKindAccount) return AddAccount(address);
    if (kind->empty()) {
      if (seen_unknown_.insert(address).second) out_.unknown.push_back(address);
      return {};
    }
    return ExpandTargets(address, depth);
  }

  Resolution Take() { return std::move(out_); }

 private:
  Status ExpandTargets(const std::string& address, int depth) {
    auto targets = TargetsOf(db_, address);
    if (!targets) return Fail(targets.error());
    on_path_.insert(address);
    for (const std::string& target : *targets) {
      if (auto status = Expand(target, depth + 1); !status) return status;
    }
    on_path_.erase(address);
    expanded_at_[address] = depth;
    return {};
  }

  Status AddAccount(const std::string& address) {
    auto account = FindAccount(db_, "address", address);
    if (!account) return Fail(account.error());
    if (!*account) {
      return Fail(Error{
          ErrorCode::kCorruption,
          "address of kind account has no account row",
          {}}.With("address", address));
    }
    if (seen_accounts_.insert((*account)->id).second) {
      out_.accounts.push_back(std::move(**account));
    }
    return {};
  }

  Result<bool> IsLocal(const std::string& domain) {
    if (auto it = local_domains_.find(domain); it != local_domains_.end()) {
      return it->second;
    }
    auto exists = DomainExists(db_, domain);
    if (!exists) return Fail(exists.error());
    local_domains_.emplace(domain, *exists);
    return *exists;
  }

  SqliteDb& db_;
  Resolution out_;
  std::set<std::string> on_path_;  // aliases and lists being expanded
  // Aliases and lists expanded, with the shallowest depth they were at.
  std::map<std::string, int> expanded_at_;
  std::set<std::string> seen_accounts_, seen_external_, seen_unknown_;
  std::map<std::string, bool> local_domains_;
};

// The stored schema version; 0 for a new file. The statement is done
// with when this returns, so that the caller's COMMIT is not blocked.
Result<int64_t> ReadSchemaVersion(SqliteDb& db) {
  auto stmt = db.Prepare("SELECT max(version) FROM schema_version");
  if (!stmt) return Fail(stmt.error());
  auto row = stmt->Step();
  if (!row) return Fail(row.error());
  return stmt->ColumnInt(0);  // NULL, from an empty table, reads as 0
}

// Brings the schema up to kSchemaVersion, one migration per transaction.
Status Migrate(SqliteDb& db) {
  if (auto status = db.Exec("CREATE TABLE IF NOT EXISTS schema_version ("
                            "version INTEGER NOT NULL)");
      !status) {
    return status;
  }
  for (;;) {
    auto txn = SqliteTransaction::Begin(db);
    if (!txn) return Fail(txn.error());
    auto version = ReadSchemaVersion(db);
    if (!version) return Fail(version.error());
    if (*version == SqliteDirectory::kSchemaVersion) return {};
    if (*version < 0 || *version > SqliteDirectory::kSchemaVersion) {
      return Fail(Error{
          ErrorCode::kConfig, "directory schema is newer than this build", {}}
                      .With("found", std::to_string(*version))
                      .With("known",
                            std::to_string(SqliteDirectory::kSchemaVersion)));
    }

    if (auto status = db.Exec(kMigrations[*version]); !status) {
      return Fail(std::move(status.error())
                      .With("migration", std::to_string(*version + 1)));
    }
    if (auto status = db.Exec("DELETE FROM schema_version"); !status) {
      return status;
    }
    auto insert = db.Prepare("INSERT INTO schema_version (version) VALUES (?)");
    if (!insert) return Fail(insert.error());
    insert->Bind(1, *version + 1);
    if (auto status = insert->Run(); !status) return status;
    if (auto status = txn->Commit(); !status) return status;
  }
}

// Switches the file to WAL mode; the pragma answers with the mode in
// force, which stays "delete" if the file system cannot do WAL.
Status EnableWal(SqliteDb& db) {
  auto mode = db.Prepare("PRAGMA journal_mode = WAL");
  if (!mode) return Fail(mode.error());
  auto row = mode->Step();
  if (!row) return Fail(row.error());
  if (!*row || mode->ColumnText(0) != "wal") {
    return Fail(ErrorCode::kIo, "cannot switch to WAL mode");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Directory>> SqliteDirectory::Open(
    const std::filesystem::path& path) {
  auto db = SqliteDb::Open(path, kBusyTimeoutMs);
  if (!db) return Fail(db.error());

  // WAL lets readers (every role) proceed while the admin role writes.
  if (auto status = EnableWal(*db); !status) {
    return Fail(std::move(status.error()).With("path", path.string()));
  }
  if (auto status = db->Exec("PRAGMA synchronous = FULL"); !status) {
    return Fail(status.error());
  }
  if (auto status = Migrate(*db); !status) {
    return Fail(std::move(status.error()).With("path", path.string()));
  }
  return std::unique_ptr<Directory>(new SqliteDirectory(std::move(*db)));
}

// ---- Domains ----

Status SqliteDirectory::CreateDomain(std::string_view name) {
  auto domain = ParseDomain(name);
  if (!domain) return Fail(domain.error());

  std::lock_guard lock(mu_);
  auto txn = SqliteTransaction::Begin(db_);
  if (!txn) return Fail(txn.error());
  auto exists = DomainExists(db_, *domain);
  if (!exists) return Fail(exists.error());
  if (*exists) {
    return Fail(Error{ErrorCode::kExists, "domain already exists", {}}.With(
        "domain", *domain));
  }
  auto stmt = db_.Prepare("INSERT INTO domains (name, created) VALUES (?, ?)");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, *domain).Bind(2, Now());
  if (auto status = stmt->Run(); !status) return status;
  return txn->Commit();
}

Status SqliteDirectory::DeleteDomain(std::string_view name) {
  auto domain = ParseDomain(name);
  if (!domain) return Fail(domain.error());

  std::lock_guard lock(mu_);
  auto txn = SqliteTransaction::Begin(db_);
  if (!txn) return Fail(txn.error());
  if (auto status = CheckDomainLocal(db_, *domain); !status) return status;

  // Refused rather than cascaded: deleting a domain must never delete
  // mailboxes as a side effect.
  auto users =
      QueryInt(db_, "SELECT count(*) FROM addresses WHERE domain = ?", *domain);
  if (!users) return Fail(users.error());
  if (*users > 0) {
    return Fail(Error{ErrorCode::kInvalid, "domain still in use", {}}
                    .With("domain", *domain)
                    .With("addresses", std::to_string(*users)));
  }

  auto stmt = db_.Prepare("DELETE FROM domains WHERE name = ?");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, *domain);
  if (auto status = stmt->Run(); !status) return status;
  return txn->Commit();
}

Result<std::vector<Domain>> SqliteDirectory::ListDomains() {
  std::lock_guard lock(mu_);
  auto stmt = db_.Prepare("SELECT name, created FROM domains ORDER BY name");
  if (!stmt) return Fail(stmt.error());
  std::vector<Domain> domains;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return Fail(row.error());
    if (!*row) return domains;
    domains.push_back(Domain{stmt->ColumnText(0), stmt->ColumnInt(1)});
  }
}

Result<bool> SqliteDirectory::IsLocalDomain(std::string_view name) {
  auto domain = ParseDomain(name);
  if (!domain) return Fail(domain.error());
  std::lock_guard lock(mu_);
  return DomainExists(db_, *domain);
}

// ---- Accounts ----

Result<Account> SqliteDirectory::CreateAccount(Account account) {
  auto address = ParseAddress(account.address);
  if (!address) return Fail(address.error());
  if (auto status = ValidateAccountFields(account); !status) {
    return Fail(status.error());
  }
  // Kept as typed, for display, less the blanks around it.
  const std::string typed_address = TrimBlanks(account.address);

  std::lock_guard lock(mu_);
  auto txn = SqliteTransaction::Begin(db_);
  if (!txn) return Fail(txn.error());
  if (auto status = CheckDomainLocal(db_, address->domain); !status) {
    return Fail(status.error());
  }
  if (auto status = CheckAddressFree(db_, address->address); !status) {
    return Fail(status.error());
  }
  auto id = NewAccountId(db_);
  if (!id) return Fail(id.error());

  account.id = std::move(*id);
  account.address = address->address;
  account.created = Now();
  if (auto status = InsertAddress(db_, *address, kKindAccount); !status) {
    return Fail(status.error());
  }
  auto stmt = db_.Prepare(
      "INSERT INTO accounts (id, address, typed_address, display_name, "
      "password_hash, status, quota_bytes, home_server, created) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, account.id)
      .Bind(2, account.address)
      .Bind(3, typed_address)
      .Bind(4, account.display_name)
      .Bind(5, account.password_hash)
      .Bind(6, AccountStatusName(account.status))
      .Bind(7, account.quota_bytes)
      .Bind(8, account.home_server)
      .Bind(9, account.created);
  if (auto status = stmt->Run(); !status) return Fail(status.error());
  if (auto status = txn->Commit(); !status) return Fail(status.error());
  return account;
}

Result<Account> SqliteDirectory::GetAccount(std::string_view address_or_id) {
  std::lock_guard lock(mu_);
  auto account = FindAccountByAddressOrId(db_, address_or_id);
  if (!account) return Fail(account.error());
  if (!*account) {
    return Fail(Error{ErrorCode::kNotFound, "no such account", {}}.With(
        "account", SanitizeForLog(address_or_id)));
  }
  return std::move(**account);
}

Result<std::vector<Account>> SqliteDirectory::ListAccounts(
    std::optional<std::string_view> domain) {
  std::string domain_name;
  if (domain) {
    auto parsed = ParseDomain(*domain);
    if (!parsed) return Fail(parsed.error());
    domain_name = std::move(*parsed);
  }

  std::lock_guard lock(mu_);
  if (domain) {
    if (auto status = CheckDomainLocal(db_, domain_name); !status) {
      return Fail(status.error());
    }
  }
  // Accounts of one domain are those whose address row names it.
  auto stmt = db_.Prepare(
      std::string("SELECT ") + kAccountColumns +
      " FROM accounts WHERE ?1 IS NULL OR address IN "
      "(SELECT address FROM addresses WHERE domain = ?1) ORDER BY address");
  if (!stmt) return Fail(stmt.error());
  if (domain) stmt->Bind(1, domain_name);
  std::vector<Account> accounts;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return Fail(row.error());
    if (!*row) return accounts;
    auto account = ReadAccountRow(*stmt);
    if (!account) return Fail(account.error());
    accounts.push_back(std::move(*account));
  }
}

Status SqliteDirectory::UpdateAccount(const Account& account) {
  if (auto status = ValidateAccountFields(account); !status) return status;

  std::lock_guard lock(mu_);
  auto txn = SqliteTransaction::Begin(db_);
  if (!txn) return Fail(txn.error());
  auto stmt = db_.Prepare(
      "UPDATE accounts SET display_name = ?, password_hash = ?, status = ?, "
      "quota_bytes = ?, home_server = ? WHERE id = ?");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, account.display_name)
      .Bind(2, account.password_hash)
      .Bind(3, AccountStatusName(account.status))
      .Bind(4, account.quota_bytes)
      .Bind(5, account.home_server)
      .Bind(6, AsciiLower(account.id));
  if (auto status = stmt->Run(); !status) return status;
  if (stmt->Changes() == 0) {
    return Fail(Error{ErrorCode::kNotFound, "no such account", {}}.With(
        "account", SanitizeForLog(account.id)));
  }
  return txn->Commit();
}

Status SqliteDirectory::DeleteAccount(std::string_view address_or_id) {
  std::lock_guard lock(mu_);
  auto txn = SqliteTransaction::Begin(db_);
  if (!txn) return Fail(txn.error());
  auto account = FindAccountByAddressOrId(db_, address_or_id);
  if (!account) return Fail(account.error());
  if (!*account) {
    return Fail(Error{ErrorCode::kNotFound, "no such account", {}}.With(
        "account", SanitizeForLog(address_or_id)));
  }

  // The address row owns the account row (ON DELETE CASCADE).
  auto remove = db_.Prepare("DELETE FROM addresses WHERE address = ?");
  if (!remove) return Fail(remove.error());
  remove->Bind(1, (*account)->address);
  if (auto status = remove->Run(); !status) return status;
  auto retire = db_.Prepare("INSERT INTO retired_account_ids (id) VALUES (?)");
  if (!retire) return Fail(retire.error());
  retire->Bind(1, (*account)->id);
  if (auto status = retire->Run(); !status) return status;
  return txn->Commit();
}

Result<Account> SqliteDirectory::Authenticate(std::string_view address,
                                              std::string_view password) {
  // One error for every refusal, so that a client cannot probe which
  // addresses exist or which accounts are locked.
  const auto refuse = [] {
    return Fail(ErrorCode::kPermanent, "authentication failed");
  };
  auto parsed = NormalizeAddress(address);
  if (!parsed) {
    VerifyPasswordDecoy(password);
    return refuse();
  }

  std::optional<Account> account;
  {
    std::lock_guard lock(mu_);
    auto found = FindAccount(db_, "address", parsed->address);
    if (!found) return Fail(found.error());
    account = std::move(*found);
  }

  // The password check runs outside the mutex: it is slow on purpose.
  if (!account || account->status != AccountStatus::kActive ||
      account->password_hash.empty()) {
    VerifyPasswordDecoy(password);
    return refuse();
  }
  if (!VerifyPassword(password, account->password_hash)) return refuse();
  return std::move(*account);
}

// ---- Aliases and lists ----

Status SqliteDirectory::CreateExpansion(
    std::string_view kind, std::string_view address_text,
    const std::vector<std::string>& raw_targets) {
  const bool is_alias = kind == kKindAlias;
  auto address = ParseAddress(address_text);
  if (!address) return Fail(address.error());
  if (is_alias && raw_targets.empty()) {
    return Fail(Invalid("alias has no targets", "address", address->address));
  }
  auto targets = NormalizeTargets(raw_targets, is_alias ? "target" : "member");
  if (!targets) return Fail(targets.error());
  if (std::find(targets->begin(), targets->end(), address->address) !=
      targets->end()) {
    return Fail(Invalid(
        is_alias ? "alias would point at itself" : "list would contain itself",
        "address", address->address));
  }

  std::lock_guard lock(mu_);
  auto txn = SqliteTransaction::Begin(db_);
  if (!txn) return Fail(txn.error());
  if (auto status = CheckDomainLocal(db_, address->domain); !status) {
    return status;
  }
  if (auto status = CheckAddressFree(db_, address->address); !status) {
    return status;
  }
  // Other aliases or lists may already name this address as a target;
  // if one of ours leads back to them, creating it would close a loop.
  auto loops = Reaches(db_, *targets, address->address);
  if (!loops) return Fail(loops.error());
  if (*loops) {
    return Fail(Invalid(std::string(kind) + " would close a loop", "address",
                        address->address));
  }

  if (auto status = InsertAddress(db_, *address, kind); !status) {
    return status;
  }
  for (size_t i = 0; i < targets->size(); ++i) {
    if (auto status = InsertTarget(db_, address->address,
                                   static_cast<int64_t>(i), (*targets)[i]);
        !status) {
      return status;
    }
  }
  return txn->Commit();
}

Status SqliteDirectory::DeleteOfKind(std::string_view kind,
                                     std::string_view address_text) {
  auto address = ParseAddress(address_text);
  if (!address) return Fail(address.error());

  std::lock_guard lock(mu_);
  auto txn = SqliteTransaction::Begin(db_);
  if (!txn) return Fail(txn.error());
  auto found = KindOf(db_, address->address);
  if (!found) return Fail(found.error());
  if (*found != kind) {
    return Fail(
        Error{ErrorCode::kNotFound, "no such " + std::string(kind), {}}.With(
            "address", address->address));
  }
  // Targets and members go with it (ON DELETE CASCADE).
  auto stmt = db_.Prepare("DELETE FROM addresses WHERE address = ?");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, address->address);
  if (auto status = stmt->Run(); !status) return status;
  return txn->Commit();
}

Status SqliteDirectory::CreateAlias(const Alias& alias) {
  return CreateExpansion(kKindAlias, alias.address, alias.targets);
}

Status SqliteDirectory::DeleteAlias(std::string_view address) {
  return DeleteOfKind(kKindAlias, address);
}

Result<std::vector<Alias>> SqliteDirectory::ListAliases() {
  std::lock_guard lock(mu_);
  auto rows = ListExpansions(db_, kKindAlias);
  if (!rows) return Fail(rows.error());
  std::vector<Alias> aliases;
  for (auto& [address, targets] : *rows) {
    aliases.push_back(Alias{std::move(address), std::move(targets)});
  }
  return aliases;
}

Status SqliteDirectory::CreateList(const MailingList& list) {
  return CreateExpansion(kKindList, list.address, list.members);
}

Status SqliteDirectory::DeleteList(std::string_view address) {
  return DeleteOfKind(kKindList, address);
}

Result<MailingList> SqliteDirectory::GetList(std::string_view address_text) {
  auto address = ParseAddress(address_text);
  if (!address) return Fail(address.error());

  std::lock_guard lock(mu_);
  auto kind = KindOf(db_, address->address);
  if (!kind) return Fail(kind.error());
  if (*kind != kKindList) {
    return Fail(Error{ErrorCode::kNotFound, "no such list", {}}.With(
        "address", address->address));
  }
  auto members = TargetsOf(db_, address->address);
  if (!members) return Fail(members.error());
  return MailingList{address->address, std::move(*members)};
}

Result<std::vector<MailingList>> SqliteDirectory::ListLists() {
  std::lock_guard lock(mu_);
  auto rows = ListExpansions(db_, kKindList);
  if (!rows) return Fail(rows.error());
  std::vector<MailingList> lists;
  for (auto& [address, members] : *rows) {
    lists.push_back(MailingList{std::move(address), std::move(members)});
  }
  return lists;
}

Status SqliteDirectory::AddListMember(std::string_view list_text,
                                      std::string_view member_text) {
  auto list = ParseAddress(list_text, "list");
  if (!list) return Fail(list.error());
  auto member = ParseAddress(member_text, "member");
  if (!member) return Fail(member.error());

  std::lock_guard lock(mu_);
  auto txn = SqliteTransaction::Begin(db_);
  if (!txn) return Fail(txn.error());
  auto kind = KindOf(db_, list->address);
  if (!kind) return Fail(kind.error());
  if (*kind != kKindList) {
    return Fail(Error{ErrorCode::kNotFound, "no such list", {}}.With(
        "list", list->address));
  }
  auto members = TargetsOf(db_, list->address);
  if (!members) return Fail(members.error());
  if (std::find(members->begin(), members->end(), member->address) !=
      members->end()) {
    return Fail(Error{ErrorCode::kExists, "already a member", {}}
                    .With("list", list->address)
                    .With("member", member->address));
  }
  auto loops = Reaches(db_, {member->address}, list->address);
  if (!loops) return Fail(loops.error());
  if (*loops) {
    return Fail(Invalid("list would contain itself", "member", member->address)
                    .With("list", list->address));
  }

  auto next = QueryInt(
      db_,
      "SELECT coalesce(max(position) + 1, 0) FROM expansions WHERE owner = ?",
      list->address);
  if (!next) return Fail(next.error());
  if (auto status = InsertTarget(db_, list->address, *next, member->address);
      !status) {
    return status;
  }
  return txn->Commit();
}

Status SqliteDirectory::RemoveListMember(std::string_view list_text,
                                         std::string_view member_text) {
  auto list = ParseAddress(list_text, "list");
  if (!list) return Fail(list.error());
  auto member = ParseAddress(member_text, "member");
  if (!member) return Fail(member.error());

  std::lock_guard lock(mu_);
  auto txn = SqliteTransaction::Begin(db_);
  if (!txn) return Fail(txn.error());
  auto kind = KindOf(db_, list->address);
  if (!kind) return Fail(kind.error());
  if (*kind != kKindList) {
    return Fail(Error{ErrorCode::kNotFound, "no such list", {}}.With(
        "list", list->address));
  }
  auto stmt =
      db_.Prepare("DELETE FROM expansions WHERE owner = ? AND target = ?");
  if (!stmt) return Fail(stmt.error());
  stmt->Bind(1, list->address).Bind(2, member->address);
  if (auto status = stmt->Run(); !status) return status;
  if (stmt->Changes() == 0) {
    return Fail(Error{ErrorCode::kNotFound, "not a member", {}}
                    .With("list", list->address)
                    .With("member", member->address));
  }
  return txn->Commit();
}

// ---- Resolution ----

Result<Resolution> SqliteDirectory::Resolve(std::string_view address_text) {
  auto address = ParseAddress(address_text);
  if (!address) return Fail(address.error());

  std::lock_guard lock(mu_);
  auto local = DomainExists(db_, address->domain);
  if (!local) return Fail(local.error());
  if (*local) {
    auto kind = KindOf(db_, address->address);
    if (!kind) return Fail(kind.error());
    if (kind->empty()) {
      return Fail(Error{ErrorCode::kNotFound, "no such address", {}}.With(
          "address", address->address));
    }
  }
  Expansion expansion(db_);
  if (auto status = expansion.Expand(address->address, 0); !status) {
    return Fail(status.error());
  }
  return expansion.Take();
}

// ---- Servers ----

Status SqliteDirectory::PutServer(const ServerInfo& server) {
  if (!IsValidServerName(server.name)) {
    return Fail(Invalid("bad server name", "server", server.name));
  }
  if (!IsValidServerName(server.zone)) {
    return Fail(Invalid("bad zone name", "zone", server.zone));
  }
  std::set<std::string_view> roles;
  for (const std::string& role : server.roles) {
    if (!kKnownRoles.contains(role)) {
      return Fail(Invalid("unknown role", "role", role));
    }
    if (!roles.insert(role).second) {
      return Fail(Invalid("role listed twice", "role", role));
    }
  }
  // "protocol=host:port", where the endpoint parses like a listen address.
  for (const std::string& entry : server.addresses) {
    const size_t eq = entry.find('=');
    const std::string_view protocol = std::string_view(entry).substr(0, eq);
    if (eq == std::string::npos || protocol.empty() ||
        !std::all_of(protocol.begin(), protocol.end(),
                     [](char c) { return c >= 'a' && c <= 'z'; }) ||
        !ParseEndpoint(std::string_view(entry).substr(eq + 1))) {
      return Fail(Invalid("server address is not protocol=host:port", "address",
                          entry));
    }
  }

  std::lock_guard lock(mu_);
  auto txn = SqliteTransaction::Begin(db_);
  if (!txn) return Fail(txn.error());
  // Replace: the old roles and addresses go with the old row.
  auto remove = db_.Prepare("DELETE FROM servers WHERE name = ?");
  if (!remove) return Fail(remove.error());
  remove->Bind(1, server.name);
  if (auto status = remove->Run(); !status) return status;
  auto insert = db_.Prepare("INSERT INTO servers (name, zone) VALUES (?, ?)");
  if (!insert) return Fail(insert.error());
  insert->Bind(1, server.name).Bind(2, server.zone);
  if (auto status = insert->Run(); !status) return status;

  const std::pair<const char*, const std::vector<std::string>*> children[] = {
      {"INSERT INTO server_roles (server, position, role) VALUES (?, ?, ?)",
       &server.roles},
      {"INSERT INTO server_addresses (server, position, address) "
       "VALUES (?, ?, ?)",
       &server.addresses},
  };
  for (const auto& [sql, values] : children) {
    for (size_t i = 0; i < values->size(); ++i) {
      auto stmt = db_.Prepare(sql);
      if (!stmt) return Fail(stmt.error());
      stmt->Bind(1, server.name)
          .Bind(2, static_cast<int64_t>(i))
          .Bind(3, (*values)[i]);
      if (auto status = stmt->Run(); !status) return status;
    }
  }
  return txn->Commit();
}

Result<std::vector<ServerInfo>> SqliteDirectory::ListServers() {
  std::lock_guard lock(mu_);
  auto stmt = db_.Prepare("SELECT name, zone FROM servers ORDER BY name");
  if (!stmt) return Fail(stmt.error());
  std::vector<ServerInfo> servers;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    servers.push_back(
        ServerInfo{stmt->ColumnText(0), stmt->ColumnText(1), {}, {}});
  }

  for (ServerInfo& server : servers) {
    const std::pair<const char*, std::vector<std::string>*> children[] = {
        {"SELECT role FROM server_roles WHERE server = ? ORDER BY position",
         &server.roles},
        {"SELECT address FROM server_addresses WHERE server = ? "
         "ORDER BY position",
         &server.addresses},
    };
    for (const auto& [sql, values] : children) {
      auto child = db_.Prepare(sql);
      if (!child) return Fail(child.error());
      child->Bind(1, server.name);
      for (;;) {
        auto row = child->Step();
        if (!row) return Fail(row.error());
        if (!*row) break;
        values->push_back(child->ColumnText(0));
      }
    }
  }
  return servers;
}

}  // namespace corvus
