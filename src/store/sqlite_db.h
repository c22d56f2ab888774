// A thin RAII layer over the SQLite C API for the store's databases.
//
// Db owns one connection; Stmt is one use of a prepared statement. Db
// keeps the statements it prepared, keyed by their SQL, for the life of
// the connection: the store runs the same few dozen statements for every
// command, and compiling one costs more than running it on a small
// table. A Stmt hands its statement back to the cache (reset, bindings
// cleared) when it is destroyed; a statement already in use (the same SQL
// prepared twice at once) gets a private copy instead. Every failure
// becomes an Error (kIo for disk trouble, kCorruption for a damaged file,
// kTemporary for a busy database, kInvalid otherwise) that names the
// database file, so callers never see raw SQLite codes.
//
// Thread safety: a Db and its Stmts belong to one thread at a time; the
// caller serialises access (the store does so per account).
#ifndef CORVUS_STORE_SQLITE_DB_H_
#define CORVUS_STORE_SQLITE_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"

namespace corvus::store {

class Db;

// One use of a prepared statement. Bind parameters are 1-based, as in
// SQLite. Must not outlive its Db.
class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt();

  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, std::string_view value);
  // Binds bytes that need not be UTF-8 text (SQLite BLOB).
  Stmt& BindBlob(int index, std::string_view value);
  Stmt& BindNull(int index);

  // Advances to the next row. Returns true if a row is available, false
  // when the statement is done.
  Result<bool> Step();
  // Runs the statement to completion, ignoring any rows.
  Status Run();
  // Resets so that the statement can be bound and run again.
  void Reset();

  int64_t Int(int column) const;
  std::string Text(int column) const;
  // The column's bytes (TEXT or BLOB), valid until the next Step(),
  // Reset() or column access that converts its type.
  std::string_view View(int column) const;
  bool IsNull(int column) const;

 private:
  friend class Db;
  // `in_use`: the cache's flag for a cached statement, cleared when this
  // use ends; null for a private statement, finalized instead.
  Stmt(const Db* db, sqlite3_stmt* stmt, bool* in_use)
      : db_(db), stmt_(stmt), in_use_(in_use) {}

  const Db* db_;
  sqlite3_stmt* stmt_;
  bool* in_use_;
};

class Db {
 public:
  enum class Mode { kReadWrite, kReadWriteCreate, kReadOnly };

  // Opens `path`. A kReadWriteCreate open creates the file if missing.
  // Every connection gets a busy timeout, so a concurrent writer from
  // another connection makes the caller wait instead of fail.
  static Result<std::unique_ptr<Db>> Open(const std::filesystem::path& path,
                                          Mode mode);
  ~Db();

  // Runs one or more statements that take no parameters.
  Status Exec(std::string_view sql);
  // The statement for `sql`, compiled on first use and cached (see the
  // top of this file). `sql` should be one of a bounded set of texts: the
  // cache stops growing at kMaxCachedStatements, and later texts are
  // compiled per call.
  Result<Stmt> Prepare(std::string_view sql);
  int64_t LastInsertRowId() const;
  int Changes() const;

  // Converts the connection's last failure into an Error.
  Error LastError(std::string_view what) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  static constexpr size_t kMaxCachedStatements = 128;

  struct CachedStatement {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };

  Db(sqlite3* db, std::filesystem::path path)
      : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::filesystem::path path_;
  // Elements never move (unordered_map nodes), so a Stmt may point at
  // its entry's in_use flag.
  std::unordered_map<std::string, CachedStatement> statements_;
};

// Runs BEGIN IMMEDIATE on construction and ROLLBACK on destruction unless
// Commit() succeeded. IMMEDIATE takes the write lock up front, so a
// read-then-write transaction never fails half way with SQLITE_BUSY.
class Transaction {
 public:
  static Result<Transaction> Begin(Db& db);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  // COMMIT. Under synchronous=FULL in WAL mode the change is on disk when
  // this returns ok.
  Status Commit();

 private:
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_;
};

}  // namespace corvus::store

#endif  // CORVUS_STORE_SQLITE_DB_H_
