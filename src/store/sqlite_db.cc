#include "store/sqlite_db.h"

#include <chrono>
#include <utility>

namespace corvus::store {
namespace {

// Long enough to ride out a checkpoint or a collector scan, short enough
// that a stuck database surfaces as a temporary error to the caller.
constexpr int kBusyTimeoutMs = 10000;

ErrorCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorCode::kTemporary;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return ErrorCode::kIo;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return ErrorCode::kCorruption;
    case SQLITE_CONSTRAINT:
      return ErrorCode::kExists;
    default:
      return ErrorCode::kInvalid;
  }
}

}  // namespace

Stmt::Stmt(Stmt&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      in_use_(other.in_use_) {}

Stmt::~Stmt() {
  if (stmt_ == nullptr) return;
  if (in_use_ == nullptr) {
    sqlite3_finalize(stmt_);
    return;
  }
  // Back to the cache. A statement left mid-way would keep its read
  // snapshot open (and hold back WAL checkpoints) until its next use.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  *in_use_ = false;
}

Stmt& Stmt::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Stmt& Stmt::Bind(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindBlob(int index, std::string_view value) {
  sqlite3_bind_blob64(stmt_, index, value.data(), value.size(),
                      SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Fail(db_->LastError("sqlite step"));
}

Status Stmt::Run() {
  while (true) {
    auto row = Step();
    if (!row) {
      Reset();
      return Fail(row.error());
    }
    if (!*row) break;
  }
  Reset();
  return {};
}

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Stmt::Int(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string Stmt::Text(int column) const {
  const auto* text =
      reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return std::string(text, sqlite3_column_bytes(stmt_, column));
}

std::string_view Stmt::View(int column) const {
  // sqlite3_column_blob returns TEXT bytes unconverted, too.
  const void* data = sqlite3_column_blob(stmt_, column);
  if (data == nullptr) return {};
  return std::string_view(static_cast<const char*>(data),
                          sqlite3_column_bytes(stmt_, column));
}

bool Stmt::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Result<std::unique_ptr<Db>> Db::Open(const std::filesystem::path& path,
                                     Mode mode) {
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case Mode::kReadWrite:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case Mode::kReadWriteCreate:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case Mode::kReadOnly:
      flags |= SQLITE_OPEN_READONLY;
      break;
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error error{CodeFor(rc),
                std::string("cannot open database: ") +
                    (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)),
                {{"path", path.string()}}};
    sqlite3_close(raw);
    return Fail(std::move(error));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  return std::unique_ptr<Db>(new Db(raw, path));
}

Db::~Db() {
  for (auto& [sql, cached] : statements_) sqlite3_finalize(cached.stmt);
  sqlite3_close(db_);
}

Status Db::Exec(std::string_view sql) {
  std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return Fail(LastError("sqlite exec"));
  }
  return {};
}

Result<Stmt> Db::Prepare(std::string_view sql) {
  std::string key(sql);
  auto it = statements_.find(key);
  if (it != statements_.end() && !it->second.in_use) {
    it->second.in_use = true;
    return Stmt(this, it->second.stmt, &it->second.in_use);
  }

  const bool cache =
      it == statements_.end() && statements_.size() < kMaxCachedStatements;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                         cache ? SQLITE_PREPARE_PERSISTENT : 0, &stmt,
                         nullptr) != SQLITE_OK) {
    return Fail(LastError("sqlite prepare"));
  }
  if (!cache) return Stmt(this, stmt, nullptr);
  auto slot =
      statements_.emplace(std::move(key), CachedStatement{stmt, true}).first;
  return Stmt(this, stmt, &slot->second.in_use);
}

int64_t Db::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

int Db::Changes() const { return sqlite3_changes(db_); }

Error Db::LastError(std::string_view what) const {
  int rc = sqlite3_extended_errcode(db_);
  return Error{CodeFor(rc),
               std::string(what) + ": " + sqlite3_errmsg(db_),
               {{"path", path_.string()}}};
}

Result<Transaction> Transaction::Begin(Db& db) {
  auto begin = db.Prepare("BEGIN IMMEDIATE");
  if (!begin) return Fail(begin.error());
  if (auto st = begin->Run(); !st) return Fail(st.error());
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  if (db_ != nullptr) (void)db_->Exec("ROLLBACK");
}

Status Transaction::Commit() {
  auto commit = db_->Prepare("COMMIT");
  if (!commit) return Fail(commit.error());
  if (auto st = commit->Run(); !st) return st;
  db_ = nullptr;
  return {};
}

}  // namespace corvus::store
