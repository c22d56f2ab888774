#include "mta/queue/delivery_agent.h"

#include <chrono>
#include <map>
#include <utility>
// Asio after <utility>; see common/task.h.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/net.h"
#include "mta/queue/bounce.h"
#include "mta/queue/mail_client.h"

namespace corvus {
namespace asio = boost::asio;

namespace {

// How often Run() looks for retries that came due without a Notify().
constexpr auto kPollInterval = std::chrono::seconds(1);
// How long Run() waits for deliveries in flight once stopping.
constexpr auto kDrainLimit = std::chrono::seconds(30);

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

enum class Outcome { kDelivered, kDeferred, kFailed };

struct RecipientResult {
  const QueueRecipient* recipient;
  std::string reply;
  std::string relay;
  Outcome outcome = Outcome::kDeferred;
  bool permanent = false;
};

}  // namespace

// Lets Notify() cut Run()'s sleep short from any thread.
struct DeliveryAgent::Wakeup {
  std::mutex mu;
  asio::steady_timer* timer = nullptr;  // guarded by mu; set while Run()
  std::atomic<bool> pending{false};

  void Fire() {
    pending = true;
    std::lock_guard lock(mu);
    if (timer == nullptr) return;
    asio::steady_timer* t = timer;
    asio::post(t->get_executor(), [this, t] {
      std::lock_guard inner(mu);
      if (timer == t) t->cancel();
    });
  }
};

DeliveryAgent::DeliveryAgent(Queue& queue, Router& router,
                             const Config& config, Logger log,
                             mta::LmtpDelivery* local)
    : queue_(queue),
      router_(router),
      local_(local),
      config_(config.queue),
      hostname_(config.server.hostname),
      log_(std::move(log)),
      wakeup_(std::make_unique<Wakeup>()) {}

DeliveryAgent::~DeliveryAgent() = default;

void DeliveryAgent::Notify() { wakeup_->Fire(); }

int64_t DeliveryAgent::BackoffSeconds(int attempts) const {
  int64_t delay = config_.retry_initial_seconds;
  for (int i = 1; i < attempts && delay < config_.retry_max_seconds; ++i) {
    delay *= 2;
  }
  return std::min<int64_t>(delay, config_.retry_max_seconds);
}

Task<void> DeliveryAgent::Run(std::function<bool()> stopping) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  {
    std::lock_guard lock(wakeup_->mu);
    wakeup_->timer = &timer;
  }

  while (!stopping()) {
    wakeup_->pending = false;
    std::vector<std::string> skip;
    {
      std::lock_guard lock(mu_);
      skip.assign(in_flight_.begin(), in_flight_.end());
    }
    int room = config_.delivery_concurrency - static_cast<int>(skip.size());
    if (room > 0) {
      Result<std::vector<QueuedMessage>> due = std::vector<QueuedMessage>();
      co_await Offload([&] { due = queue_.Due(NowSeconds(), room, skip); });
      if (!due) {
        log_.Error("queue_scan_failed", {{"error", due.error().ToString()}});
      } else {
        for (QueuedMessage& message : *due) {
          {
            std::lock_guard lock(mu_);
            in_flight_.insert(message.id);
          }
          asio::co_spawn(executor, DeliverMessage(std::move(message)),
                         asio::detached);
        }
        if (static_cast<int>(due->size()) == room) continue;
      }
    }
    if (wakeup_->pending) continue;
    timer.expires_after(kPollInterval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  {
    std::lock_guard lock(wakeup_->mu);
    wakeup_->timer = nullptr;
  }
  auto deadline = std::chrono::steady_clock::now() + kDrainLimit;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (in_flight_.empty()) break;
    }
    if (std::chrono::steady_clock::now() > deadline) break;
    co_await SleepFor(std::chrono::milliseconds(20));
  }
}

Task<std::vector<RecipientReply>> DeliveryAgent::DeliverInProcess(
    const QueuedMessage& message, std::vector<std::string> recipients,
    const std::string& data) {
  std::vector<RecipientReply> replies;
  if (local_ == nullptr) {
    for (size_t i = 0; i < recipients.size(); ++i) {
      replies.push_back({451, "451 4.3.5 no local mailbox role"});
    }
    co_return replies;
  }
  mta::Envelope envelope;
  envelope.queue_id = message.id;
  envelope.upstream_queue_id = message.id;  // a repeat is not stored twice
  envelope.mail_from = message.sender;
  envelope.smtputf8 = message.smtputf8;
  envelope.body_8bit = message.body_8bit;
  for (std::string& r : recipients) {
    envelope.rcpt_to.push_back({std::move(r), "", ""});
  }
  std::vector<mta::SmtpReply> got = co_await local_->Deliver(envelope, data);
  for (const mta::SmtpReply& reply : got) {
    std::string text = reply.Format();
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
      text.pop_back();
    }
    replies.push_back({reply.code, text});
  }
  replies.resize(envelope.rcpt_to.size(),
                 {451, "451 4.3.0 no reply from the mailbox role"});
  co_return replies;
}

Task<void> DeliveryAgent::DeliverMessage(QueuedMessage message) {
  Logger log = log_.With("queue_id", message.id);
  std::string sender_field = "<" + message.sender + ">";
  auto finish = [&] {
    {
      std::lock_guard lock(mu_);
      in_flight_.erase(message.id);
    }
    Notify();
  };

  Result<std::string> data = std::string();
  co_await Offload([&] { data = queue_.ReadData(message.id); });
  if (!data) {
    log.Error("queue_read_failed", {{"error", data.error().ToString()}});
    finish();
    co_return;
  }

  // Route every recipient; those without a route wait for a later try.
  std::vector<RecipientResult> results;
  results.reserve(message.recipients.size());
  std::map<std::string, std::pair<Route, std::vector<size_t>>> groups;
  co_await Offload([&] {
    for (const QueueRecipient& r : message.recipients) {
      results.push_back({&r, "", "none", Outcome::kDeferred, false});
      auto route = router_.RouteFor(r.address);
      if (!route) {
        results.back().reply = "4.4.0 " + route.error().ToString();
        continue;
      }
      auto& group = groups[route->Key()];
      group.first = *route;
      group.second.push_back(results.size() - 1);
    }
  });

  // One transaction per next hop.
  for (auto& [key, group] : groups) {
    const Route& route = group.first;
    std::vector<std::string> addresses;
    for (size_t i : group.second) {
      addresses.push_back(results[i].recipient->address);
    }
    std::vector<RecipientReply> replies;
    if (route.in_process) {
      replies = co_await DeliverInProcess(message, addresses, *data);
    } else {
      MailClientOptions options;
      options.endpoint = route.endpoint;
      options.lmtp = route.lmtp;
      options.helo = hostname_;
      options.queue_id = message.id;
      replies = co_await SendMail(options, message.sender, addresses, *data);
    }
    for (size_t k = 0; k < group.second.size(); ++k) {
      RecipientResult& result = results[group.second[k]];
      result.reply = replies[k].text;
      result.relay = FormatPeer(route.server, route.endpoint.ToString());
      result.permanent = replies[k].permanent();
      result.outcome = replies[k].ok() ? Outcome::kDelivered
                                       : Outcome::kDeferred;
    }
  }

  // Permanent failures, and temporary ones past the lifetime, are final.
  const int64_t now = NowSeconds();
  const bool expired = now - message.created >= config_.max_lifetime_seconds;
  std::vector<FailedRecipient> failed;
  for (RecipientResult& result : results) {
    if (result.outcome == Outcome::kDelivered) continue;
    if (result.permanent || expired) {
      result.outcome = Outcome::kFailed;
      if (expired && !result.permanent) {
        result.reply = "message expired in queue: " + result.reply;
      }
      failed.push_back({result.recipient->address,
                        result.recipient->original, result.reply});
    }
  }

  co_await Offload([&] {
    // The bounce is queued before the failures are recorded: a crash in
    // between can repeat a bounce but never lose one.
    if (!failed.empty() && !message.sender.empty()) {
      auto recipients = router_.Expand({message.sender});
      if (recipients && !recipients->empty()) {
        QueuedMessage bounce;
        bounce.client = "bounce";
        bounce.recipients = std::move(*recipients);
        auto id = queue_.Enqueue(
            std::move(bounce), BuildBounce(hostname_, message, *data, failed));
        if (id) {
          log.Notice("bounce_queued", {{"bounce_id", *id},
                                       {"to", sender_field}});
        } else {
          log.Error("bounce_failed", {{"error", id.error().ToString()}});
        }
      }
    }
    std::vector<RecipientUpdate> updates;
    for (RecipientResult& result : results) {
      const QueueRecipient& r = *result.recipient;
      RecipientUpdate update{message.id, r.address, RecipientState::kPending,
                             result.reply, std::nullopt};
      switch (result.outcome) {
        case Outcome::kDelivered:
          update.state = RecipientState::kDelivered;
          break;
        case Outcome::kFailed:
          update.state = RecipientState::kFailed;
          break;
        case Outcome::kDeferred:
          update.next_attempt = now + BackoffSeconds(r.attempts + 1);
          break;
      }
      updates.push_back(std::move(update));
    }
    if (Status status = queue_.Update(updates); !status) {
      log.Error("queue_update_failed", {{"error", status.error().ToString()}});
    }
    for (RecipientResult& result : results) {
      const QueueRecipient& r = *result.recipient;
      const char* event = result.outcome == Outcome::kDelivered ? "delivered"
                          : result.outcome == Outcome::kFailed  ? "bounced"
                                                                : "deferred";
      log.Notice(event, {{"relay", result.relay},
                         {"delay", now - message.created},
                         {"attempts", r.attempts + 1},
                         {"reply", result.reply},
                         {"from", sender_field},
                         {"to", "<" + r.address + ">"}});
    }
  });
  finish();
}

}  // namespace corvus
