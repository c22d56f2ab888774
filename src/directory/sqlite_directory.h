// The embedded directory backend: one SQLite file, for a single box.
//
// Layout (schema version kSchemaVersion, upgraded in place on Open):
// domains; one table of every deliverable address with its kind
// (account, alias or list), whose primary key keeps the namespace single;
// accounts; alias targets and list members, in the order given; account
// ids retired by deletion, so that an id is never handed out twice;
// servers with their roles and addresses.
//
// Every mutating call runs in one BEGIN IMMEDIATE transaction, checks
// first and writes last, so an error never leaves half an object behind.
// The file is in WAL mode with synchronous=FULL: directory writes are
// rare and an acknowledged change must survive a power cut. Other
// processes (the `corvus` command) may open the same file; SQLite's own
// locking and a busy timeout of kBusyTimeoutMs arbitrate, and a timeout
// is reported as kTemporary.
//
// Choices the Directory interface leaves open, made here:
//   - Alias targets and list members need not exist when they are added;
//     a local one that does not exist at Resolve time is reported in
//     Resolution::unknown (an operator may create an alias before the
//     account it points to).
//   - Resolve returns locked and closed accounts like active ones, with
//     their status: whether to bounce, hold or deliver is the caller's
//     policy, not the directory's.
//   - Resolve stops at kMaxExpansionDepth nested aliases or lists; the
//     branch past the limit is cut and reported as loop_detected, since
//     only a loop or a pathological layout gets that deep.
//   - Duplicate targets or members given to CreateAlias or CreateList are
//     kept once, at their first position.
//   - ListAccounts with a domain not in the directory is kNotFound.
//   - GetAccount and IsLocalDomain give kInvalid for text that is not an
//     address, an account id or a domain.
//   - UpdateAccount never changes the address; it is kNotFound if no
//     account has `account.id`.
//   - DeleteAccount leaves aliases and lists that name the account in
//     place; they resolve it as unknown from then on.
//   - Authenticate reports a failing database as that failure (kTemporary
//     when busy), not as "authentication failed": the client should be
//     told to retry, and the error says nothing about the account.
//
// TODO(corvus): renaming an account (a new primary address keeping the
// id) is not supported; today it takes delete and re-create, which
// changes the id and so the mailbox it maps to.
//
// Thread safety: safe from any thread. One connection is shared and a
// mutex serialises every call on it; Authenticate runs the slow password
// check after releasing the mutex, so logins do not queue behind it.
#ifndef CORVUS_DIRECTORY_SQLITE_DIRECTORY_H_
#define CORVUS_DIRECTORY_SQLITE_DIRECTORY_H_

#include <filesystem>
#include <memory>
#include <mutex>

#include "common/sqlite.h"
#include "directory/directory.h"

namespace corvus {

class SqliteDirectory : public Directory {
 public:
  static constexpr int kSchemaVersion = 1;
  static constexpr int kMaxExpansionDepth = 32;
  static constexpr int kBusyTimeoutMs = 5000;

  // Opens the directory at `path`, creating the file and its schema if
  // needed and upgrading an older schema. The folder must exist. Errors:
  // kIo (cannot open or write), kCorruption (not a database), kConfig
  // (the file was written by a newer Corvus with a schema this build
  // does not know).
  static Result<std::unique_ptr<Directory>> Open(
      const std::filesystem::path& path);

  Status CreateDomain(std::string_view name) override;
  Status DeleteDomain(std::string_view name) override;
  Result<std::vector<Domain>> ListDomains() override;
  Result<bool> IsLocalDomain(std::string_view name) override;

  Result<Account> CreateAccount(Account account) override;
  Result<Account> GetAccount(std::string_view address_or_id) override;
  Result<std::vector<Account>> ListAccounts(
      std::optional<std::string_view> domain) override;
  Status UpdateAccount(const Account& account) override;
  Status DeleteAccount(std::string_view address_or_id) override;
  Result<Account> Authenticate(std::string_view address,
                               std::string_view password) override;

  Status CreateAlias(const Alias& alias) override;
  Status DeleteAlias(std::string_view address) override;
  Result<std::vector<Alias>> ListAliases() override;

  Status CreateList(const MailingList& list) override;
  Status DeleteList(std::string_view address) override;
  Result<MailingList> GetList(std::string_view address) override;
  Result<std::vector<MailingList>> ListLists() override;
  Status AddListMember(std::string_view list, std::string_view member) override;
  Status RemoveListMember(std::string_view list,
                          std::string_view member) override;

  Result<Resolution> Resolve(std::string_view address) override;

  Status PutServer(const ServerInfo& server) override;
  Result<std::vector<ServerInfo>> ListServers() override;

 private:
  explicit SqliteDirectory(SqliteDb db) : db_(std::move(db)) {}

  // Creates an alias or a list: the two differ only in their kind, in
  // whether an empty target list is allowed, and in their wording.
  Status CreateExpansion(std::string_view kind, std::string_view address,
                         const std::vector<std::string>& targets);
  Status DeleteOfKind(std::string_view kind, std::string_view address);

  std::mutex mu_;
  SqliteDb db_;  // guarded by mu_
};

}  // namespace corvus

#endif  // CORVUS_DIRECTORY_SQLITE_DIRECTORY_H_
