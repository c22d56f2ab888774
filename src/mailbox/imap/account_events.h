// AccountEvents: the in-process hub that tells IMAP sessions an account
// changed.
//
// Whatever changes an account's mailboxes — an LMTP delivery, an IMAP
// session's STORE, EXPUNGE, COPY or APPEND — calls Notify(account_id)
// after its transaction committed. Every session of that account holds a
// Subscription; Notify bumps the subscription's generation and wakes a
// session waiting in WaitChange() (IDLE) on whatever event loop it runs.
// Sessions compare generations to know whether re-reading the store is
// worth it, so a quiet account costs nothing per command.
//
// The hub also bounds the sessions per account: Subscribe() refuses past
// max_sessions_per_account, which keeps one account's clients from
// holding every connection slot and every store handle.
//
// Thread safety: every method of AccountEvents and Subscription may be
// called from any thread, except WaitChange(), which must run on the
// event loop of its caller's coroutine. Notify() takes one mutex, bumps
// an atomic per session of that account, and posts a wake-up only to
// sessions that are waiting: cheap enough for the delivery path.
#ifndef CORVUS_MAILBOX_IMAP_ACCOUNT_EVENTS_H_
#define CORVUS_MAILBOX_IMAP_ACCOUNT_EVENTS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "common/task.h"

namespace corvus::imap {

class AccountEvents {
 public:
  class Subscription;

  explicit AccountEvents(size_t max_sessions_per_account = 20)
      : max_sessions_(max_sessions_per_account) {}
  AccountEvents(const AccountEvents&) = delete;
  AccountEvents& operator=(const AccountEvents&) = delete;

  // Tells every session of `account_id` that the account changed.
  void Notify(std::string_view account_id);

  // Registers one session of `account_id`; the registration ends when the
  // returned object is destroyed. kTemporary if the account already has
  // max_sessions_per_account sessions.
  Result<std::unique_ptr<Subscription>> Subscribe(std::string_view account_id);

  // Sessions currently registered for `account_id`.
  size_t SessionCount(std::string_view account_id);

 private:
  struct State;
  void Unsubscribe(const std::string& account_id, State* state);

  const size_t max_sessions_;
  std::mutex mu_;
  // account id -> its sessions; guarded by mu_.
  std::unordered_map<std::string, std::vector<std::shared_ptr<State>>>
      accounts_;
};

class AccountEvents::Subscription {
 public:
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Bumped by every Notify() of the account.
  uint64_t generation() const;

  // Waits until generation() != `seen`, Wake() is called, or `timeout`
  // passes, and returns generation(). Requires the caller's event loop;
  // at most one waiter at a time.
  Task<uint64_t> WaitChange(uint64_t seen, std::chrono::milliseconds timeout);

  // Ends a pending (or the next) WaitChange() early without an event.
  void Wake();

 private:
  friend class AccountEvents;
  Subscription(AccountEvents& hub, std::string account_id,
               std::shared_ptr<State> state)
      : hub_(hub),
        account_id_(std::move(account_id)),
        state_(std::move(state)) {}

  AccountEvents& hub_;
  std::string account_id_;
  std::shared_ptr<State> state_;
};

}  // namespace corvus::imap

#endif  // CORVUS_MAILBOX_IMAP_ACCOUNT_EVENTS_H_
