// The queue manager: takes messages from the queue, hands each to its
// next hops, and records every recipient's outcome.
//
// Messages reach it two ways. A message the SMTP side has just made
// durable is handed over with its data (Handoff()), so the common case
// never reads it back from the queue. Everything else (retries, mail
// left from before a restart, hand-overs dropped because too much was
// waiting) is found by scanning the queue: on Notify(), and once a
// second for retries that came due.
//
// Messages whose every recipient lives on this process's own mailbox role
// travel in batches: one store batch (one blob flush, one commit flush)
// and one queue update for all of them, so the flushes per message fall
// as the load rises. Any other message is delivered on its own: per
// attempt, its recipients are grouped by route, so it goes once per
// mailbox server however many of its recipients live there.
//
// A 2xx marks a recipient delivered; a 5xx, or a 4xx past the queue
// lifetime, fails it and the sender gets one bounce for all such
// recipients of the attempt; any other outcome defers it with exponential
// back-off (retry_initial_seconds doubling up to retry_max_seconds).
//
// Every outcome is logged at notice with the fixed suffix
//   queue_id=... from=<...> to=<...>
//
// Thread safety: Run() is one coroutine on one event loop, and the
// deliveries it starts run on that loop too; Notify() and Handoff() may
// be called from any thread.
#ifndef CORVUS_MTA_QUEUE_DELIVERY_AGENT_H_
#define CORVUS_MTA_QUEUE_DELIVERY_AGENT_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "common/task.h"
#include "mta/queue/mail_client.h"
#include "mta/queue/queue.h"
#include "mta/queue/router.h"
#include "mta/smtp/smtp_interfaces.h"

namespace corvus {

class DeliveryAgent {
 public:
  // `local` delivers in-process routes (the mailbox role of this same
  // process); it may be null when the router makes none.
  DeliveryAgent(Queue& queue, Router& router, const Config& config,
                Logger log, mta::LmtpDelivery* local = nullptr);
  ~DeliveryAgent();

  // Delivers until `stopping()` returns true, then waits for the
  // deliveries in flight to end and returns. Hand-overs not started by
  // then stay in the queue for the next start.
  Task<void> Run(std::function<bool()> stopping);

  // Wakes Run() to scan the queue at once: a message was queued some
  // other way than Handoff(), or retries were made due.
  void Notify();

  // The hand-over, in three steps around Queue::Enqueue(). Expect(id)
  // before enqueueing keeps the queue scan away from the message, so that
  // it cannot be delivered both ways. Then, once Enqueue() has made it
  // durable, Handoff() gives it over with its data (`message` as enqueued,
  // with its id; a `created` of 0 counts as now); if too much is waiting
  // already, the queue scan is left to find it. If Enqueue() failed,
  // Forget(id) instead.
  void Expect(const std::string& id);
  void Handoff(QueuedMessage message, std::string data);
  void Forget(const std::string& id);

 private:
  struct Wakeup;
  struct Attempt;

  // Takes hand-overs and due messages and starts their deliveries.
  // Returns true if there may be more to take at once.
  Task<bool> StartDeliveries();
  // Reads what is missing, routes, then delivers the in-process ones as
  // one batch and starts the others one by one.
  Task<void> DeliverBatch(std::vector<Attempt> batch);
  // One message, route by route (remote hops, or mixed recipients).
  Task<void> DeliverAlone(std::unique_ptr<Attempt> attempt);
  // Hands a message to the in-process mailbox role; one reply per
  // recipient, as SendMail gives.
  Task<std::vector<RecipientReply>> DeliverInProcess(
      const QueuedMessage& message, std::vector<std::string> recipients,
      const std::string& data);

  // Blocking. Reads the data if the hand-over did not bring it, and
  // routes every recipient. False if the data cannot be read.
  bool Prepare(Attempt& attempt);
  // Blocking. Queues bounces, records every outcome in one queue update,
  // and logs them.
  void Record(std::span<Attempt> attempts);
  // Forgets `ids` as in flight and wakes Run().
  void Release(const std::vector<std::string>& ids, bool alone);
  int64_t BackoffSeconds(int attempts) const;

  Queue& queue_;
  Router& router_;
  mta::LmtpDelivery* local_;
  const QueueConfig& config_;
  std::string hostname_;
  Logger log_;
  std::unique_ptr<Wakeup> wakeup_;

  std::mutex mu_;
  // Ids expected, waiting in fresh_ or being delivered: a message is
  // claimed by inserting its id here, so that it is never delivered twice
  // at once.
  std::set<std::string> in_flight_;       // guarded by mu_
  std::vector<Attempt> fresh_;            // guarded by mu_; hand-overs
  size_t fresh_bytes_ = 0;                // guarded by mu_
  bool scan_wanted_ = true;               // guarded by mu_
  int batches_ = 0;                       // guarded by mu_; in flight
  int alone_ = 0;                         // guarded by mu_; in flight
  bool stopped_ = false;                  // guarded by mu_; Run() ended
};

}  // namespace corvus

#endif  // CORVUS_MTA_QUEUE_DELIVERY_AGENT_H_
