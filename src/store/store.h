// The message store of one mailbox server: blobs plus per-account
// databases under one root (config.DataPath(config.store.path)):
//
//   ROOT/blobs/ab/cd/<sha256>      message bodies (blob_store.h)
//   ROOT/incoming/*.tmp            blob staging
//   ROOT/accounts/ab/<id>.db       one SQLite file per account
//                                  (account_store.h); "ab" is the first
//                                  two characters of the account id
//
// Delivery order (invariant 2 of DESIGN.md): a message's blob is durable
// before any account row references it, always. DeliverMessage() writes
// the blob once for all recipients, then commits one row per recipient
// account; when it returns, every recipient reported kOk is durable and
// the caller may answer 250 for it (invariant 1).
//
// Blob pins. Between writing a blob and committing the rows that
// reference it, the blob is an orphan on disk. MessageStore pins it for
// that window; the orphan collector (collector.h) never removes a pinned
// blob, nor one pinned at any moment of its scan. See BlobPins.
//
// Thread safety and locking rule: every public method may be called from
// any thread. Each account has one mutex; an AccountHandle holds it for
// its whole life, so at most one thread uses an account's database at a
// time, and deliveries, IMAP commands and the collector to one account
// run one after the other. Hold a handle for one operation or a short
// group of operations (e.g. list then expunge), never across a network
// wait or a co_await, and never hold two handles at once (that order is
// not defined, so it could deadlock). All calls block on disk; coroutine
// callers wrap them in Offload().
//
// Deliveries from the mta role are coalesced in front of this class
// (mailbox/lmtp_delivery.h gathers concurrent ones into DeliverMessages);
// a lone DeliverMessage() call pays its own flushes.
#ifndef CORVUS_STORE_STORE_H_
#define CORVUS_STORE_STORE_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "common/result.h"
#include "store/account_store.h"
#include "store/blob_store.h"

namespace corvus {

// Blobs that a delivery in flight is about to reference.
//
// The collector's protocol: BeginScan(); compute which old blobs no row
// references; FinishScan(candidates, remove). FinishScan removes, under
// the pin lock, only candidates that were not pinned at any moment since
// BeginScan. That closes the race in which a delivery deduplicates onto an
// old orphan after the collector read the account databases: such a
// delivery pinned the blob during the scan, so the blob is spared; and a
// delivery that pins after FinishScan finds the blob gone and writes it
// afresh.
//
// Thread safety: all methods are safe from any thread.
class BlobPins {
 public:
  void Pin(const std::string& hash);
  // Requires a matching Pin().
  void Unpin(const std::string& hash);
  bool IsPinned(const std::string& hash);

  // Starts a scan. kTemporary if one is already running.
  Status BeginScan();
  // Ends the scan started by BeginScan(): calls `remove` for each of
  // `candidates` not pinned since then, holding the pin lock (so no
  // delivery can pin it meanwhile). Returns how many `remove` accepted
  // (returned true).
  size_t FinishScan(std::span<const std::string> candidates,
                    const std::function<bool(const std::string&)>& remove);
  // Ends a scan without removing anything (the scan failed).
  void AbortScan();

 private:
  std::mutex mu_;
  std::unordered_map<std::string, int> pinned_;  // guarded by mu_
  bool scanning_ = false;                        // guarded by mu_
  // Every hash pinned at BeginScan or since; guarded by mu_.
  std::unordered_set<std::string> touched_;
};

// Holds a pin for its lifetime.
class BlobPin {
 public:
  BlobPin(BlobPins& pins, std::string hash);
  BlobPin(BlobPin&& other) noexcept;
  BlobPin& operator=(BlobPin&&) = delete;
  ~BlobPin();

 private:
  BlobPins* pins_;
  std::string hash_;
};

struct StoreOptions {
  std::filesystem::path root;
  // Account databases kept open; idle ones beyond this are closed, least
  // recently used first. Accounts in use are never closed, so the bound
  // can be exceeded while more than this many are busy at once.
  size_t max_open_accounts = 256;
};

// One recipient of a delivery.
struct Recipient {
  std::string account_id;
  std::string folder = std::string(kInbox);
  // The account's quota from the directory; 0: unlimited. Recipients of
  // the same account in one call must agree; the first one counts.
  uint64_t quota_bytes = 0;
  std::vector<std::string> flags;  // e.g. from a Sieve addflag
};

// One message to deliver.
struct Delivery {
  std::string_view data;       // the whole message, as it will be served
  int64_t internal_date = 0;   // Unix seconds; 0: now
  std::string envelope;        // cached IMAP ENVELOPE text, may be empty
  std::string body_structure;  // cached BODYSTRUCTURE text, may be empty
  // Length of the header block at the start of `data`
  // (mime::MessageHeaderRange) to keep in the header cache; 0: none.
  size_t header_size = 0;
  // Non-empty: the sending queue's id; a repeat with the same id is not
  // stored again (see NewMessage::delivery_id).
  std::string delivery_id;
  std::vector<Recipient> recipients;
};

enum class DeliveryStatus { kOk, kOverQuota, kNoSuchFolder, kError };

struct RecipientResult {
  DeliveryStatus status = DeliveryStatus::kError;
  uint32_t uidvalidity = 0;    // kOk only
  uint32_t uid = 0;            // kOk only
  std::optional<Error> error;  // kError only
};

// True if `id` is usable as an account id in file names: 2 to 128
// characters of [a-z0-9._-], starting with a letter or digit.
bool IsValidAccountId(std::string_view id);

class MessageStore {
 public:
  // Exclusive use of one account's database; see the locking rule above.
  class AccountHandle {
   public:
    AccountStore* operator->() const { return entry_->store.get(); }
    AccountStore& operator*() const { return *entry_->store; }

   private:
    friend class MessageStore;
    struct Entry {
      std::mutex mu;
      std::unique_ptr<AccountStore> store;  // guarded by mu; null until open
    };
    AccountHandle(std::shared_ptr<Entry> entry,
                  std::unique_lock<std::mutex> lock)
        : entry_(std::move(entry)), lock_(std::move(lock)) {}

    // Declared first so that it is released last, after the lock.
    std::shared_ptr<Entry> entry_;
    std::unique_lock<std::mutex> lock_;
  };

  // Opens the store at config.DataPath(config.store.path).
  static Result<std::unique_ptr<MessageStore>> Open(const Config& config);
  // Opens (creating folders as needed) the store at options.root.
  // kIo if the folders cannot be made.
  static Result<std::unique_ptr<MessageStore>> Open(StoreOptions options);
  ~MessageStore();

  // Locks and returns the account's database, opening it if needed. With
  // `create`, a missing account gets a new database with the default
  // folders; without, it is kNotFound. kInvalid for a malformed id.
  Result<AccountHandle> OpenAccount(std::string_view account_id, bool create);
  // Ids of every account with a database on this server, sorted.
  Result<std::vector<std::string>> ListAccountIds();
  // Where the account's database lives. Requires IsValidAccountId(id).
  std::filesystem::path AccountPath(std::string_view account_id) const;

  // Delivers one message to each recipient: writes the blob once
  // (durable, pinned), then commits a row in each account's database
  // (durable). Returns one result per recipient, in order. The call as a
  // whole fails only if the blob could not be stored, in which case no
  // recipient got the message.
  Result<std::vector<RecipientResult>> DeliverMessage(const Delivery& delivery);

  // Group commit: stores all blobs (one syncfs for two or more new ones),
  // then gives each account one transaction for all its messages with its
  // flush deferred, then makes every commit durable with one syncfs. A
  // batch thus costs two flushes however many messages and accounts it
  // holds. Requires accounts/ and blobs/ on one filesystem (both live
  // under the store root). Returns results[i][j] for
  // deliveries[i].recipients[j].
  Result<std::vector<std::vector<RecipientResult>>> DeliverMessages(
      std::span<const Delivery> deliveries);

  BlobStore& blobs() { return *blobs_; }
  BlobPins& pins() { return pins_; }
  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path accounts_dir() const { return root_ / "accounts"; }

 private:
  MessageStore(StoreOptions options, std::unique_ptr<BlobStore> blobs);

  // Drops idle cached accounts beyond the bound. Requires cache_mu_.
  void EvictIdleLocked();

  std::filesystem::path root_;
  size_t max_open_accounts_;
  std::unique_ptr<BlobStore> blobs_;
  BlobPins pins_;
  Logger log_;

  std::mutex cache_mu_;
  // Most recently used first; guarded by cache_mu_.
  std::list<std::string> lru_;
  struct CacheSlot {
    std::shared_ptr<AccountHandle::Entry> entry;
    std::list<std::string>::iterator lru_position;
  };
  std::unordered_map<std::string, CacheSlot> cache_;  // guarded by cache_mu_
};

}  // namespace corvus

#endif  // CORVUS_STORE_STORE_H_
