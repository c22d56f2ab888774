// The queue manager: takes due messages from the queue, hands each to its
// next hops, and records every recipient's outcome.
//
// Per attempt, the recipients of a message are grouped by route, so a
// message goes once per mailbox server however many of its recipients
// live there. A 2xx marks a recipient delivered; a 5xx, or a 4xx past the
// queue lifetime, fails it and the sender gets one bounce for all such
// recipients of the attempt; any other outcome defers it with exponential
// back-off (retry_initial_seconds doubling up to retry_max_seconds).
//
// Every outcome is logged at notice with the fixed suffix
//   queue_id=... from=<...> to=<...>
//
// Thread safety: Run() is one coroutine on one event loop; Notify() may
// be called from any thread.
#ifndef CORVUS_MTA_QUEUE_DELIVERY_AGENT_H_
#define CORVUS_MTA_QUEUE_DELIVERY_AGENT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "common/config.h"
#include "common/log.h"
#include "common/task.h"
#include "mta/queue/queue.h"
#include "mta/queue/mail_client.h"
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
  // deliveries in flight to end and returns.
  Task<void> Run(std::function<bool()> stopping);

  // Wakes Run() at once: a message has just been queued.
  void Notify();

 private:
  struct Wakeup;
  Task<void> DeliverMessage(QueuedMessage message);
  // Hands a message to the in-process mailbox role; one reply per
  // recipient, as SendMail gives.
  Task<std::vector<RecipientReply>> DeliverInProcess(
      const QueuedMessage& message, std::vector<std::string> recipients,
      const std::string& data);
  int64_t BackoffSeconds(int attempts) const;

  Queue& queue_;
  Router& router_;
  mta::LmtpDelivery* local_;
  const QueueConfig& config_;
  std::string hostname_;
  Logger log_;
  std::unique_ptr<Wakeup> wakeup_;
  std::mutex mu_;
  std::set<std::string> in_flight_;  // guarded by mu_
};

}  // namespace corvus

#endif  // CORVUS_MTA_QUEUE_DELIVERY_AGENT_H_
