// The directory: domains, accounts, aliases, distribution lists, servers.
//
// Every role reads the directory; only the admin role and the `corvus`
// command write it. Directory is an interface so that the embedded SQLite
// backend (single box) and the LDAP backend (multi-server) are
// interchangeable without touching callers.
//
// Addresses: look-ups are case-insensitive on both the local part and the
// domain. Every address is stored and compared in its normalised form
// (see address.h); the display form an operator typed is kept only for
// the account's primary address.
//
// Thread safety: implementations must be safe to call from any thread.
#ifndef CORVUS_DIRECTORY_DIRECTORY_H_
#define CORVUS_DIRECTORY_DIRECTORY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace corvus {

struct Domain {
  std::string name;  // normalised, e.g. "example.com"
  int64_t created = 0;  // Unix seconds
};

enum class AccountStatus { kActive, kLocked, kClosed };
std::string_view AccountStatusName(AccountStatus status);
std::optional<AccountStatus> ParseAccountStatus(std::string_view name);

struct Account {
  std::string id;       // stable, never reused: 32 lower-case hex digits
  std::string address;  // primary address, normalised
  std::string display_name;
  std::string password_hash;  // crypt(3) string; empty: no password login
  AccountStatus status = AccountStatus::kActive;
  int64_t quota_bytes = 0;  // 0: unlimited
  std::string home_server;  // server name; empty: this (single) server
  int64_t created = 0;
};

struct Alias {
  std::string address;               // normalised
  std::vector<std::string> targets;  // normalised, at least one
};

struct MailingList {
  std::string address;               // normalised
  std::vector<std::string> members;  // normalised; local or external
};

struct ServerInfo {
  std::string name;
  std::string zone;
  std::vector<std::string> roles;
  // Where other roles reach this server, by protocol: "lmtp" ->
  // "10.0.0.5:24". Kept as "protocol=host:port" strings.
  std::vector<std::string> addresses;
};

// The final recipients an address resolves to, after aliases and lists.
struct Resolution {
  // Local accounts, each at most once, in first-seen order.
  std::vector<Account> accounts;
  // External addresses (domains not in the directory), each at most once.
  std::vector<std::string> external;
  // Local addresses reached during expansion that are not accounts,
  // aliases or lists (a dangling alias target, say); reported, not fatal.
  std::vector<std::string> unknown;
  // True if expansion met a cycle; the cycle is cut, members still count.
  bool loop_detected = false;
};

class Directory {
 public:
  virtual ~Directory() = default;

  // Domains. CreateDomain: kInvalid for a bad name, kExists if present.
  // DeleteDomain: kNotFound, or kInvalid while accounts, aliases or lists
  // still use the domain.
  virtual Status CreateDomain(std::string_view name) = 0;
  virtual Status DeleteDomain(std::string_view name) = 0;
  virtual Result<std::vector<Domain>> ListDomains() = 0;
  virtual Result<bool> IsLocalDomain(std::string_view name) = 0;

  // Accounts. CreateAccount fills in id and created; `account.address`
  // may be in any case. Errors: kInvalid (bad address or quota), kNotFound
  // (domain not in the directory), kExists (address taken by an account,
  // alias or list).
  virtual Result<Account> CreateAccount(Account account) = 0;
  // Looks an account up by address or by id. kNotFound if absent.
  virtual Result<Account> GetAccount(std::string_view address_or_id) = 0;
  // All accounts, or those of one domain, ordered by address.
  virtual Result<std::vector<Account>> ListAccounts(
      std::optional<std::string_view> domain) = 0;
  // Replaces the mutable fields (display name, password hash, status,
  // quota, home server) of the account with `account.id`.
  virtual Status UpdateAccount(const Account& account) = 0;
  virtual Status DeleteAccount(std::string_view address_or_id) = 0;

  // Checks a password. Returns the account on success; kPermanent
  // "authentication failed" for a wrong password, an unknown address or
  // a locked or closed account alike, so callers cannot tell them apart.
  virtual Result<Account> Authenticate(std::string_view address,
                                       std::string_view password) = 0;

  // Aliases. CreateAlias: kInvalid (bad address, no targets), kNotFound
  // (alias domain not local), kExists (address taken), kInvalid if it
  // would close a loop.
  virtual Status CreateAlias(const Alias& alias) = 0;
  virtual Status DeleteAlias(std::string_view address) = 0;
  virtual Result<std::vector<Alias>> ListAliases() = 0;

  // Distribution lists. AddListMember returns kInvalid if the member
  // would make the list contain itself, kExists if already a member.
  virtual Status CreateList(const MailingList& list) = 0;
  virtual Status DeleteList(std::string_view address) = 0;
  virtual Result<MailingList> GetList(std::string_view address) = 0;
  virtual Result<std::vector<MailingList>> ListLists() = 0;
  virtual Status AddListMember(std::string_view list,
                               std::string_view member) = 0;
  virtual Status RemoveListMember(std::string_view list,
                                  std::string_view member) = 0;

  // Expands `address` through aliases and lists to final recipients.
  // Returns kNotFound if the address is in a local domain but is neither
  // an account, an alias nor a list; kInvalid if it is not an address.
  // An address in a non-local domain resolves to itself as external.
  virtual Result<Resolution> Resolve(std::string_view address) = 0;

  // Servers of the deployment.
  virtual Status PutServer(const ServerInfo& server) = 0;  // insert/replace
  virtual Result<std::vector<ServerInfo>> ListServers() = 0;
};

}  // namespace corvus

#endif  // CORVUS_DIRECTORY_DIRECTORY_H_
