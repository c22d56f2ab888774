#include "common/sqlite.h"

#include <sqlite3.h>

#include <utility>

namespace corvus {
namespace {

constexpr char kConstraintKey[] = "sqlite_constraint";

ErrorCode CodeFor(int rc) {
  switch (rc & 0xFF) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorCode::kTemporary;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return ErrorCode::kCorruption;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return ErrorCode::kIo;
    default:
      return ErrorCode::kPermanent;
  }
}

Error ErrorFrom(sqlite3* db, int rc, std::string_view what) {
  Error error{CodeFor(rc),
              "sqlite " + std::string(what) + ": " +
                  (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)),
              {}};
  if ((rc & 0xFF) == SQLITE_CONSTRAINT) {
    error = std::move(error).With(kConstraintKey, "1");
  }
  return error;
}

}  // namespace

Result<SqliteDb> SqliteDb::Open(const std::filesystem::path& path,
                                int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  SqliteDb db(raw);  // closes `raw` on every path below
  if (rc != SQLITE_OK) {
    Error error{CodeFor(rc),
                std::string("cannot open database: ") +
                    (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)),
                {}};
    return Fail(std::move(error).With("path", path.string()));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);

  // Reading a page proves the file is a database before anything else.
  if (auto status = db.Exec("PRAGMA foreign_keys = ON;"
                            "SELECT count(*) FROM sqlite_schema;");
      !status) {
    return Fail(std::move(status.error()).With("path", path.string()));
  }
  return db;
}

SqliteDb::SqliteDb(SqliteDb&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      cache_(std::move(other.cache_)) {}

SqliteDb& SqliteDb::operator=(SqliteDb&& other) noexcept {
  if (this != &other) {
    Close();
    db_ = std::exchange(other.db_, nullptr);
    cache_ = std::move(other.cache_);
  }
  return *this;
}

SqliteDb::~SqliteDb() { Close(); }

void SqliteDb::Close() {
  cache_.clear();
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
}

Status SqliteDb::Exec(std::string_view sql) {
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Fail(LastError(rc, "exec"));
  return {};
}

Result<SqliteStatement> SqliteDb::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(),
                                    static_cast<int>(sql.size()), &stmt,
                                    nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Fail(LastError(rc, "prepare"));
  }
  return SqliteStatement(stmt);
}

Result<CachedStatement> SqliteDb::Cached(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it == cache_.end()) {
    auto stmt = Prepare(sql);
    if (!stmt) return Fail(stmt.error());
    it = cache_
             .emplace(std::string(sql),
                      std::make_unique<SqliteStatement>(std::move(*stmt)))
             .first;
  }
  return CachedStatement(it->second.get());
}

Error SqliteDb::LastError(int rc, std::string_view what) const {
  return ErrorFrom(db_, rc, what);
}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      bind_error_(other.bind_error_) {}

SqliteStatement::~SqliteStatement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

SqliteStatement& SqliteStatement::Bind(int index, std::string_view text) {
  const int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(),
                                     SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::BindBlob(int index,
                                           std::string_view bytes) {
  const int rc = sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(),
                                     SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

Result<bool> SqliteStatement::Step() {
  if (bind_error_ != 0) {
    return Fail(ErrorFrom(sqlite3_db_handle(stmt_), bind_error_, "bind"));
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Fail(ErrorFrom(sqlite3_db_handle(stmt_), rc, "step"));
}

Status SqliteStatement::Run() {
  // Bounded by the statement itself; writes used here return no rows.
  for (;;) {
    auto row = Step();
    if (!row) return Fail(row.error());
    if (!*row) return {};
  }
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = 0;
}

std::string SqliteStatement::ColumnText(int column) const {
  // sqlite3_column_blob returns text columns unchanged too.
  const auto* text =
      static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  if (text == nullptr) return "";
  return std::string(text,
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

int64_t SqliteStatement::ColumnInt(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

bool SqliteStatement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t SqliteStatement::Changes() const {
  return sqlite3_changes64(sqlite3_db_handle(stmt_));
}

Result<SqliteTransaction> SqliteTransaction::Begin(SqliteDb& db) {
  if (auto status = db.Exec("BEGIN IMMEDIATE"); !status) {
    return Fail(status.error());
  }
  return SqliteTransaction(&db);
}

SqliteTransaction::SqliteTransaction(SqliteTransaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)) {}

SqliteTransaction::~SqliteTransaction() {
  // A failed ROLLBACK leaves nothing to do: SQLite has already rolled
  // back or will on the next statement.
  if (db_ != nullptr) (void)db_->Exec("ROLLBACK");
}

Status SqliteTransaction::Commit() {
  if (auto status = db_->Exec("COMMIT"); !status) return status;
  db_ = nullptr;
  return {};
}

bool IsConstraintError(const Error& error) {
  for (const auto& [key, value] : error.context) {
    if (key == kConstraintKey) return true;
  }
  return false;
}

}  // namespace corvus
