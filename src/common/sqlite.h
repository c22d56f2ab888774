// A thin RAII layer over the SQLite C API shared by every
// Corvus database (directory, queue, store).
//
// SqliteDb owns one connection, SqliteStatement one prepared statement,
// SqliteTransaction one BEGIN IMMEDIATE ... COMMIT bracket that rolls
// back unless committed. Every SQLite failure becomes an Error whose
// category follows the SQLite result code: busy or locked -> kTemporary,
// corrupt or not-a-database -> kCorruption, I/O, full or cannot-open ->
// kIo, anything else -> kPermanent. Constraint violations are reported
// as kPermanent with `sqlite_constraint` set; callers that expect one
// check for it before they write.
//
// Thread safety: none. A connection and its statements belong to one
// thread at a time; each owner serialises access
// (SqliteDirectory with its mutex, the queue with its own).
#ifndef CORVUS_COMMON_SQLITE_H_
#define CORVUS_COMMON_SQLITE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace corvus {

class SqliteStatement;
class CachedStatement;

class SqliteDb {
 public:
  // Opens or creates the database at `path`, with a busy timeout of
  // `busy_timeout_ms` and foreign keys on. Returns kIo if it cannot be
  // opened, kCorruption if it is not a database.
  static Result<SqliteDb> Open(const std::filesystem::path& path,
                               int busy_timeout_ms);

  SqliteDb(SqliteDb&& other) noexcept;
  SqliteDb& operator=(SqliteDb&& other) noexcept;
  ~SqliteDb();

  // Runs one or more statements that return no rows we need.
  Status Exec(std::string_view sql);

  // Prepares one statement. Errors as described at the top.
  Result<SqliteStatement> Prepare(std::string_view sql);

  // The statement for `sql`, prepared on its first use and then kept with
  // the connection, for paths that run the same SQL again and again. The
  // borrow resets it when it ends. Never borrow the same SQL twice at once.
  Result<CachedStatement> Cached(std::string_view sql);

  // Converts the connection's last error, with result code `rc`.
  Error LastError(int rc, std::string_view what) const;

  sqlite3* handle() const { return db_; }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  void Close();

  sqlite3* db_ = nullptr;
  // Statements of Cached(), by SQL text. Finalised before the connection
  // closes.
  std::unordered_map<std::string, std::unique_ptr<SqliteStatement>> cache_;
};

class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  ~SqliteStatement();

  // Binds parameter `index` (1-based). Text is copied by SQLite.
  SqliteStatement& Bind(int index, std::string_view text);
  SqliteStatement& Bind(int index, int64_t value);
  // Binds bytes that may hold NULs or invalid UTF-8 (message data).
  SqliteStatement& BindBlob(int index, std::string_view bytes);

  // Advances. Returns true if a row is ready, false when done.
  Result<bool> Step();
  // Steps until done, for statements that return no rows.
  Status Run();
  // Rewinds the statement and clears its bindings for the next use.
  void Reset();

  // Text or blob bytes of `column`, NULs included.
  std::string ColumnText(int column) const;
  int64_t ColumnInt(int column) const;
  bool ColumnIsNull(int column) const;

  // Rows changed by the last Run() or Step() on this connection.
  int64_t Changes() const;

 private:
  friend class SqliteDb;
  explicit SqliteStatement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  sqlite3_stmt* stmt_;
  // Set if a Bind failed; reported by the next Step so that Bind chains.
  int bind_error_ = 0;
};

// A statement borrowed from SqliteDb::Cached(). Ending the borrow resets
// the statement, so that a half-read SELECT never keeps a read snapshot
// (and with it the WAL) pinned until its next use.
class CachedStatement {
 public:
  CachedStatement(CachedStatement&& other) noexcept
      : stmt_(std::exchange(other.stmt_, nullptr)) {}
  CachedStatement& operator=(CachedStatement&&) = delete;
  ~CachedStatement() {
    if (stmt_ != nullptr) stmt_->Reset();
  }

  SqliteStatement* operator->() const { return stmt_; }
  SqliteStatement& operator*() const { return *stmt_; }

 private:
  friend class SqliteDb;
  explicit CachedStatement(SqliteStatement* stmt) : stmt_(stmt) {}
  SqliteStatement* stmt_;
};

// BEGIN IMMEDIATE takes the write lock up front, so that a transaction
// that reads before it writes never fails half-way with SQLITE_BUSY.
class SqliteTransaction {
 public:
  static Result<SqliteTransaction> Begin(SqliteDb& db);
  SqliteTransaction(SqliteTransaction&& other) noexcept;
  SqliteTransaction& operator=(SqliteTransaction&&) = delete;
  // Rolls back if Commit() has not succeeded.
  ~SqliteTransaction();

  Status Commit();

 private:
  explicit SqliteTransaction(SqliteDb* db) : db_(db) {}
  SqliteDb* db_;  // null once committed or moved from
};

// True if `error` came from a SQLite constraint violation.
bool IsConstraintError(const Error& error);

}  // namespace corvus

#endif  // CORVUS_COMMON_SQLITE_H_
