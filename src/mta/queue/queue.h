// The mta role's durable message queue.
//
// A message is accepted into the queue with its envelope and its final
// recipients (aliases and lists already expanded), and stays there until
// every recipient is either delivered or has failed for good. Everything
// lives in one SQLite database (queue.db, WAL, synchronous=FULL): the
// message bytes, the envelope and per-recipient state. Keeping the bytes in
// the database lets concurrent acceptances share one flush: Enqueue() uses
// group commit, so N messages arriving together cost one fsync, not N.
//
// Crash safety: Enqueue() returns only after the transaction holding the
// message and its recipients is durable, so an SMTP 250 after it never
// loses mail. A recipient is marked delivered only after the next hop
// answered 250; a crash between the two re-delivers that one recipient
// (the mailbox store drops such a repeat by its queue id, see
// store/message_store.h).
//
// Thread safety: every method may be called from any thread. Enqueue()
// blocks until its batch is durable; call it through Offload().
#ifndef CORVUS_MTA_QUEUE_QUEUE_H_
#define CORVUS_MTA_QUEUE_QUEUE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/group_commit.h"
#include "common/result.h"
#include "common/sqlite.h"

namespace corvus {

enum class RecipientState { kPending, kDelivered, kFailed };
std::string_view RecipientStateName(RecipientState state);

struct QueueRecipient {
  std::string address;   // final recipient, normalised
  std::string original;  // as the client gave it in RCPT TO
  RecipientState state = RecipientState::kPending;
  int attempts = 0;
  int64_t next_attempt = 0;  // Unix seconds
  std::string last_error;    // last reply or failure reason
};

struct QueuedMessage {
  std::string id;      // kept if set (the session's id), else assigned
  std::string sender;  // MAIL FROM, empty for the null sender
  int64_t created = 0; // Unix seconds; set by Enqueue unless set
  int64_t size = 0;    // bytes of data
  std::string client;  // "name[addr]" of the submitting client
  bool smtputf8 = false;
  bool body_8bit = false;
  std::vector<QueueRecipient> recipients;
};

// One recipient's outcome, for Queue::Update().
struct RecipientUpdate {
  std::string id;       // queue id
  std::string address;  // final recipient
  RecipientState state = RecipientState::kPending;
  std::string reply;  // the next hop's reply or the reason
  // For kPending (deferred): when to try again.
  std::optional<int64_t> next_attempt;
};

class Queue {
 public:
  // Opens or creates the queue in folder `path`. kIo or kCorruption.
  static Result<std::unique_ptr<Queue>> Open(const std::filesystem::path& path);
  ~Queue();

  // Makes `message` and `data` durable and returns the new queue id.
  // Recipients must be non-empty. Blocks until the group commit that
  // carries this message is on disk.
  Result<std::string> Enqueue(QueuedMessage message, std::string_view data);

  // Messages with at least one pending recipient due at or before `now`,
  // oldest first, at most `limit`, each with only its due recipients.
  // Messages whose id is in `skip` (being delivered) are left out.
  Result<std::vector<QueuedMessage>> Due(int64_t now, int limit,
                                         const std::set<std::string>& skip);
  // The earliest next_attempt among pending recipients, if any.
  Result<std::optional<int64_t>> NextDue();

  Result<std::string> ReadData(std::string_view id);
  // The message with all its recipients. kNotFound if absent.
  Result<QueuedMessage> Get(std::string_view id);
  // Every queued message with all recipients, oldest first.
  Result<std::vector<QueuedMessage>> List();

  // Records delivery outcomes. When no recipient of a message is pending
  // any more, the message leaves the queue. Updates from concurrent
  // callers share one transaction (group commit). kNotFound if a named
  // recipient is not queued (the others are still applied).
  Status Update(const std::vector<RecipientUpdate>& updates);

  // One-recipient shorthands for Update().
  Status MarkDelivered(std::string_view id, std::string_view address,
                       std::string_view reply);
  Status MarkDeferred(std::string_view id, std::string_view address,
                      std::string_view reply, int64_t next_attempt);
  Status MarkFailed(std::string_view id, std::string_view address,
                    std::string_view reply);

  // Makes every pending recipient due now (`corvus queue flush`).
  Result<int64_t> FlushAll();
  // Removes a message whatever its state (`corvus queue delete`).
  Status Delete(std::string_view id);

 private:
  struct PendingEnqueue;
  explicit Queue(SqliteDb db);
  Status CommitBatch(const std::vector<const PendingEnqueue*>& batch);
  std::vector<Status> CommitUpdates(
      const std::vector<const std::vector<RecipientUpdate>*>& batch);
  Result<std::vector<QueueRecipient>> LoadRecipients(std::string_view id,
                                                     bool due_only,
                                                     int64_t now);

  std::mutex db_mu_;  // guards db_
  SqliteDb db_;
  // Enqueues arriving together share one transaction and one flush.
  GroupCommit<PendingEnqueue, Status> group_commit_;
  // Outcomes recorded together share one transaction too.
  GroupCommit<std::vector<RecipientUpdate>, Status> update_commit_;
};

}  // namespace corvus

#endif  // CORVUS_MTA_QUEUE_QUEUE_H_
