// A POP3 session's view of one account: the lock that makes the session
// the account's only POP3 client, the snapshot of INBOX taken at login,
// and the UPDATE step (RFC 1939 section 6) that applies the session's
// changes to the store.
//
// Locking. RFC 1939 section 4 asks the server to acquire an exclusive
// lock on the maildrop at login, so that no two POP3 sessions remove
// each other's messages or see message numbers shift under them.
// Pop3LockRegistry is that lock, held in memory and keyed by account id.
// It is enough because an account has exactly one home mailbox server at
// a time (DESIGN.md section 1) and every POP3 session of the account runs
// on that server, in the one process that hosts its mailbox role; the
// proxy routes logins there. Both POP3 listeners of a process (pop3 and
// pop3s) must therefore share one registry: Pop3LockRegistry::Shared().
// The lock does not exclude IMAP or LMTP, which may add, flag or expunge
// messages meanwhile; the snapshot is unaffected, and UPDATE only touches
// messages that still exist.
//
// TODO(corvus): the registry does not follow an account that is
// live-migrated to another server while a POP3 session is open; the
// migration would have to wait for the lock or cut the session. Costs: a
// session during migration may expunge on the old home after the copy.
//
// Thread safety: Pop3LockRegistry is safe from any thread. A Maildrop
// belongs to one session; its blocking methods (Load, ReadMessage,
// Commit) must run through Offload() and take the account's store handle
// only for their own duration (store.h's locking rule).
#ifndef CORVUS_MAILBOX_POP3_MAILDROP_H_
#define CORVUS_MAILBOX_POP3_MAILDROP_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/result.h"
#include "store/store.h"

namespace corvus::pop3 {

class Pop3LockRegistry;

// Holds one account's POP3 lock until destroyed.
class Pop3Lock {
 public:
  Pop3Lock(Pop3Lock&& other) noexcept;
  Pop3Lock& operator=(Pop3Lock&&) = delete;
  ~Pop3Lock();

 private:
  friend class Pop3LockRegistry;
  Pop3Lock(std::shared_ptr<Pop3LockRegistry> registry, std::string account);

  std::shared_ptr<Pop3LockRegistry> registry_;  // null once moved from
  std::string account_;
};

class Pop3LockRegistry : public std::enable_shared_from_this<Pop3LockRegistry> {
 public:
  // The registry of this process; what every POP3 listener should use.
  static std::shared_ptr<Pop3LockRegistry> Shared();

  // Takes the lock of `account_id`, or returns nullopt if another session
  // holds it. Requires that the registry is owned by a shared_ptr.
  std::optional<Pop3Lock> TryLock(std::string_view account_id);
  bool IsLocked(std::string_view account_id);

 private:
  friend class Pop3Lock;
  void Unlock(const std::string& account_id);

  std::mutex mu_;
  std::unordered_set<std::string> locked_;  // guarded by mu_
};

// One message of the snapshot, in POP3 message-number order (number =
// index + 1, ascending UID).
struct MaildropMessage {
  uint32_t uid = 0;
  std::string blob;
  uint64_t size = 0;       // octets as stored, CRLF endings: what RETR sends
  bool deleted = false;    // marked by DELE in this session
  bool retrieved = false;  // sent by RETR in this session (gets \Seen)
};

// What UPDATE did, for the log.
struct UpdateResult {
  size_t expunged = 0;
  size_t seen = 0;
};

class Maildrop {
 public:
  // Snapshots INBOX of `account_id`, creating the account's database if
  // it has none yet (an account that never got mail has an empty INBOX).
  // Blocking. Errors from the store pass through (kIo, kCorruption,
  // kInvalid for a malformed id).
  static Result<Maildrop> Load(MessageStore& store,
                               std::string_view account_id);

  const std::string& account_id() const { return account_id_; }
  uint32_t uidvalidity() const { return uidvalidity_; }
  const std::vector<MaildropMessage>& messages() const { return messages_; }

  // The message numbered `number` (1-based), or nullptr if there is no
  // such number in the snapshot. Deleted messages are returned; callers
  // decide how to refuse them.
  MaildropMessage* Find(uint32_t number);

  // Messages not marked deleted, and their total size (STAT).
  size_t LiveCount() const;
  uint64_t LiveSize() const;

  // RSET: clears every deleted mark.
  void UndeleteAll();

  // The unique-id listing of UIDL (RFC 1939 section 7): "<uidvalidity>.<uid>",
  // stable across sessions for as long as INBOX keeps its UIDVALIDITY.
  std::string UniqueId(const MaildropMessage& message) const;

  // The stored bytes of `message`. Blocking. kNotFound if its blob has
  // gone (expunged elsewhere and collected).
  Result<std::string> ReadMessage(MessageStore& store,
                                  const MaildropMessage& message) const;

  // UPDATE: adds \Seen to retrieved messages and expunges deleted ones,
  // in that order, under one store handle. Messages removed meanwhile by
  // another client are skipped. Blocking. On error some changes may have
  // been applied (each store call is its own transaction).
  Result<UpdateResult> Commit(MessageStore& store) const;

 private:
  std::string account_id_;
  uint32_t uidvalidity_ = 0;
  std::vector<MaildropMessage> messages_;
};

}  // namespace corvus::pop3

#endif  // CORVUS_MAILBOX_POP3_MAILDROP_H_
