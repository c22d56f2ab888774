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

// At most this many hand-overs wait, holding their data in memory;
// beyond that the queue scan takes over.
constexpr size_t kMaxFresh = 4096;
constexpr size_t kMaxFreshBytes = 64 << 20;
// A batch of in-process deliveries, and how many run at once: while one
// batch waits for its flushes, the next is being prepared.
constexpr size_t kMaxBatch = 256;
constexpr int kMaxBatches = 2;

enum class Outcome { kDelivered, kDeferred, kFailed };

struct HopResult {
  size_t recipient;  // index into the message's recipients
  std::string reply;
  std::string relay = "none";
  Outcome outcome = Outcome::kDeferred;
  bool permanent = false;
};

// The mailbox role's reply in the form SendMail gives: code and text
// on one line.
RecipientReply ToRecipientReply(const mta::SmtpReply& reply) {
  std::string text = reply.Format();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  return {reply.code, std::move(text)};
}

}  // namespace

// One message on its way: what was queued, its data and, once routed,
// one result per recipient and the recipients grouped by next hop.
struct DeliveryAgent::Attempt {
  QueuedMessage message;
  std::string data;
  bool have_data = false;
  std::vector<HopResult> results;
  std::map<std::string, std::pair<Route, std::vector<size_t>>> groups;

  bool AllInProcess() const {
    for (const auto& [key, group] : groups) {
      if (!group.first.in_process) return false;
    }
    return true;
  }
};

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

void DeliveryAgent::Notify() {
  {
    std::lock_guard lock(mu_);
    scan_wanted_ = true;
  }
  wakeup_->Fire();
}

void DeliveryAgent::Expect(const std::string& id) {
  std::lock_guard lock(mu_);
  in_flight_.insert(id);
}

void DeliveryAgent::Forget(const std::string& id) {
  std::lock_guard lock(mu_);
  in_flight_.erase(id);
}

void DeliveryAgent::Handoff(QueuedMessage message, std::string data) {
  if (message.created == 0) message.created = NowSeconds();
  {
    std::lock_guard lock(mu_);
    if (stopped_ || fresh_.size() >= kMaxFresh ||
        fresh_bytes_ + data.size() > kMaxFreshBytes) {
      in_flight_.erase(message.id);
      scan_wanted_ = true;
    } else {
      in_flight_.insert(message.id);  // normally there since Expect()
      fresh_bytes_ += data.size();
      Attempt& attempt = fresh_.emplace_back();
      attempt.message = std::move(message);
      attempt.data = std::move(data);
      attempt.have_data = true;
    }
  }
  wakeup_->Fire();
}

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

  auto last_poll = std::chrono::steady_clock::now();
  while (!stopping()) {
    wakeup_->pending = false;
    if (std::chrono::steady_clock::now() - last_poll >= kPollInterval) {
      last_poll = std::chrono::steady_clock::now();
      std::lock_guard lock(mu_);
      scan_wanted_ = true;  // retries may have come due
    }
    if (co_await StartDeliveries()) continue;
    if (wakeup_->pending) continue;
    timer.expires_after(kPollInterval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  {
    std::lock_guard lock(wakeup_->mu);
    wakeup_->timer = nullptr;
  }
  // Hand-overs not started are safe in the queue; forget them, and any
  // that arrive from now on.
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    for (const Attempt& attempt : fresh_) in_flight_.erase(attempt.message.id);
    fresh_.clear();
    fresh_bytes_ = 0;
  }
  auto deadline = std::chrono::steady_clock::now() + kDrainLimit;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (batches_ == 0 && alone_ == 0) break;
    }
    if (std::chrono::steady_clock::now() > deadline) break;
    co_await SleepFor(std::chrono::milliseconds(20));
  }
}

Task<bool> DeliveryAgent::StartDeliveries() {
  auto executor = co_await asio::this_coro::executor;
  std::vector<Attempt> batch;
  bool scan = false;
  std::set<std::string> skip;
  {
    std::lock_guard lock(mu_);
    if (batches_ >= kMaxBatches) co_return false;  // a finished one wakes us
    size_t take = std::min(fresh_.size(), kMaxBatch);
    for (size_t i = 0; i < take; ++i) {
      fresh_bytes_ -= fresh_[i].data.size();
      batch.push_back(std::move(fresh_[i]));
    }
    fresh_.erase(fresh_.begin(), fresh_.begin() + static_cast<ptrdiff_t>(take));
    scan = scan_wanted_ && batch.size() < kMaxBatch &&
           alone_ < config_.delivery_concurrency;
    if (scan) {
      scan_wanted_ = false;
      skip = in_flight_;
    }
  }

  bool more = false;
  if (scan) {
    const int room = static_cast<int>(kMaxBatch - batch.size());
    Result<std::vector<QueuedMessage>> due = std::vector<QueuedMessage>();
    co_await Offload([&] { due = queue_.Due(NowSeconds(), room, skip); });
    if (!due) {
      log_.Error("queue_scan_failed", {{"error", due.error().ToString()}});
    } else {
      std::lock_guard lock(mu_);
      for (QueuedMessage& message : *due) {
        // A hand-over may have claimed it since the scan began.
        if (!in_flight_.insert(message.id).second) continue;
        Attempt& attempt = batch.emplace_back();
        attempt.message = std::move(message);
      }
      // A full scan leaves more behind.
      if (static_cast<int>(due->size()) == room) {
        scan_wanted_ = true;
        more = true;
      }
    }
  }
  if (batch.empty()) co_return more;
  {
    std::lock_guard lock(mu_);
    ++batches_;
    more = more || (!fresh_.empty() && batches_ < kMaxBatches);
  }
  asio::co_spawn(executor, DeliverBatch(std::move(batch)), asio::detached);
  co_return more;
}

bool DeliveryAgent::Prepare(Attempt& attempt) {
  if (!attempt.have_data) {
    Result<std::string> data = queue_.ReadData(attempt.message.id);
    if (!data) {
      log_.Error("queue_read_failed", {{"queue_id", attempt.message.id},
                                       {"error", data.error().ToString()}});
      return false;
    }
    attempt.data = std::move(*data);
    attempt.have_data = true;
  }
  // Route every recipient; those without a route wait for a later try.
  const std::vector<QueueRecipient>& recipients = attempt.message.recipients;
  attempt.results.clear();
  attempt.groups.clear();
  for (size_t i = 0; i < recipients.size(); ++i) {
    HopResult& result = attempt.results.emplace_back();
    result.recipient = i;
    auto route = router_.RouteFor(recipients[i].address);
    if (!route) {
      result.reply = "4.4.0 " + route.error().ToString();
      continue;
    }
    auto& group = attempt.groups[route->Key()];
    group.first = *route;
    group.second.push_back(i);
  }
  return true;
}

Task<void> DeliveryAgent::DeliverBatch(std::vector<Attempt> batch) {
  auto executor = co_await asio::this_coro::executor;
  const auto started = std::chrono::steady_clock::now();
  const size_t batch_size = batch.size();
  std::vector<bool> ready(batch.size(), false);
  co_await Offload([&] {
    for (size_t i = 0; i < batch.size(); ++i) ready[i] = Prepare(batch[i]);
  });

  // In-process messages stay in the batch; the others go on their own.
  std::vector<Attempt> local;
  std::vector<std::string> unready;
  std::vector<std::string> over;  // past delivery_concurrency: next scan
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!ready[i]) {
      unready.push_back(batch[i].message.id);
    } else if (local_ != nullptr && batch[i].groups.size() <= 1 &&
               batch[i].AllInProcess()) {
      local.push_back(std::move(batch[i]));
    } else {
      bool start = false;
      {
        std::lock_guard lock(mu_);
        if (alone_ < config_.delivery_concurrency) {
          ++alone_;
          start = true;
        }
      }
      if (start) {
        asio::co_spawn(
            executor,
            DeliverAlone(std::make_unique<Attempt>(std::move(batch[i]))),
            asio::detached);
      } else {
        over.push_back(batch[i].message.id);
      }
    }
  }
  batch.clear();

  // Messages none of whose recipients has a route are only recorded.
  std::vector<Attempt*> sent;
  for (Attempt& attempt : local) {
    if (!attempt.groups.empty()) sent.push_back(&attempt);
  }
  const auto prepared = std::chrono::steady_clock::now();
  if (!sent.empty()) {
    std::vector<mta::Envelope> envelopes;
    std::vector<std::string_view> data;
    envelopes.reserve(sent.size());
    for (const Attempt* a : sent) {
      const Attempt& attempt = *a;
      mta::Envelope& envelope = envelopes.emplace_back();
      envelope.queue_id = attempt.message.id;
      envelope.upstream_queue_id = attempt.message.id;  // never stored twice
      envelope.mail_from = attempt.message.sender;
      envelope.smtputf8 = attempt.message.smtputf8;
      envelope.body_8bit = attempt.message.body_8bit;
      for (size_t i : attempt.groups.begin()->second.second) {
        envelope.rcpt_to.push_back(
            {attempt.message.recipients[i].address, "", ""});
      }
      data.push_back(attempt.data);
    }
    std::span<const mta::Envelope> envelope_span(envelopes);
    std::span<const std::string_view> data_span(data);
    std::vector<std::vector<mta::SmtpReply>> replies =
        co_await local_->DeliverMany(envelope_span, data_span);
    replies.resize(sent.size());
    for (size_t m = 0; m < sent.size(); ++m) {
      Attempt& attempt = *sent[m];
      const Route& route = attempt.groups.begin()->second.first;
      const std::vector<size_t>& members = attempt.groups.begin()->second.second;
      for (size_t k = 0; k < members.size(); ++k) {
        HopResult& result = attempt.results[members[k]];
        result.relay = FormatPeer(route.server, route.endpoint.ToString());
        if (k >= replies[m].size()) {
          result.reply = "451 4.3.0 no reply from the mailbox role";
          continue;
        }
        RecipientReply reply = ToRecipientReply(replies[m][k]);
        result.reply = std::move(reply.text);
        result.permanent = reply.permanent();
        result.outcome = reply.ok() ? Outcome::kDelivered : Outcome::kDeferred;
      }
    }
  }
  const auto stored = std::chrono::steady_clock::now();
  if (!local.empty()) co_await Offload([&] { Record(local); });
  auto us = [](auto from, auto to) -> int64_t {
    return std::chrono::duration_cast<std::chrono::microseconds>(to - from)
        .count();
  };
  log_.Debug("delivery_batch",
             {{"messages", static_cast<uint64_t>(batch_size)},
              {"in_process", static_cast<uint64_t>(local.size())},
              {"prepare_us", us(started, prepared)},
              {"store_us", us(prepared, stored)},
              {"record_us", us(stored, std::chrono::steady_clock::now())}});

  std::vector<std::string> done = std::move(unready);
  for (const Attempt& attempt : local) done.push_back(attempt.message.id);
  {
    std::lock_guard lock(mu_);
    for (const std::string& id : over) in_flight_.erase(id);
    if (!over.empty()) scan_wanted_ = true;
    --batches_;
  }
  Release(done, /*alone=*/false);
}

void DeliveryAgent::Release(const std::vector<std::string>& ids, bool alone) {
  {
    std::lock_guard lock(mu_);
    for (const std::string& id : ids) in_flight_.erase(id);
    if (alone) --alone_;
  }
  wakeup_->Fire();
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
    replies.push_back(ToRecipientReply(reply));
  }
  replies.resize(envelope.rcpt_to.size(),
                 {451, "451 4.3.0 no reply from the mailbox role"});
  co_return replies;
}

Task<void> DeliveryAgent::DeliverAlone(std::unique_ptr<Attempt> attempt) {
  const QueuedMessage& message = attempt->message;
  // One transaction per next hop.
  for (auto& [key, group] : attempt->groups) {
    const Route& route = group.first;
    std::vector<std::string> addresses;
    for (size_t i : group.second) {
      addresses.push_back(message.recipients[i].address);
    }
    std::vector<RecipientReply> replies;
    if (route.in_process) {
      replies = co_await DeliverInProcess(message, addresses, attempt->data);
    } else {
      MailClientOptions options;
      options.endpoint = route.endpoint;
      options.lmtp = route.lmtp;
      options.helo = hostname_;
      options.queue_id = message.id;
      replies = co_await SendMail(options, message.sender, addresses,
                                  attempt->data);
    }
    for (size_t k = 0; k < group.second.size(); ++k) {
      HopResult& result = attempt->results[group.second[k]];
      result.reply = replies[k].text;
      result.relay = FormatPeer(route.server, route.endpoint.ToString());
      result.permanent = replies[k].permanent();
      result.outcome = replies[k].ok() ? Outcome::kDelivered
                                       : Outcome::kDeferred;
    }
  }
  co_await Offload([&] { Record(std::span(attempt.get(), 1)); });
  Release({message.id}, /*alone=*/true);
}

void DeliveryAgent::Record(std::span<Attempt> attempts) {
  const int64_t now = NowSeconds();
  std::vector<RecipientUpdate> updates;
  bool bounced = false;
  for (Attempt& attempt : attempts) {
    const QueuedMessage& message = attempt.message;
    // Permanent failures, and temporary ones past the lifetime, are final.
    const bool expired =
        now - message.created >= config_.max_lifetime_seconds;
    std::vector<FailedRecipient> failed;
    for (HopResult& result : attempt.results) {
      if (result.outcome == Outcome::kDelivered) continue;
      if (result.permanent || expired) {
        result.outcome = Outcome::kFailed;
        if (expired && !result.permanent) {
          result.reply = "message expired in queue: " + result.reply;
        }
        const QueueRecipient& r = message.recipients[result.recipient];
        failed.push_back({r.address, r.original, result.reply});
      }
    }

    // The bounce is queued before the failures are recorded: a crash in
    // between can repeat a bounce but never lose one.
    if (!failed.empty() && !message.sender.empty()) {
      auto recipients = router_.Expand({message.sender});
      if (recipients && !recipients->empty()) {
        QueuedMessage bounce;
        bounce.client = "bounce";
        bounce.recipients = std::move(*recipients);
        auto id = queue_.Enqueue(
            std::move(bounce),
            BuildBounce(hostname_, message, attempt.data, failed));
        if (id) {
          bounced = true;
          log_.Notice("bounce_queued", {{"queue_id", message.id},
                                        {"bounce_id", *id},
                                        {"to", "<" + message.sender + ">"}});
        } else {
          log_.Error("bounce_failed", {{"queue_id", message.id},
                                       {"error", id.error().ToString()}});
        }
      }
    }

    for (HopResult& result : attempt.results) {
      const QueueRecipient& r = message.recipients[result.recipient];
      RecipientUpdate& update = updates.emplace_back();
      update.id = message.id;
      update.address = r.address;
      update.reply = result.reply;
      switch (result.outcome) {
        case Outcome::kDelivered:
          update.state = RecipientState::kDelivered;
          break;
        case Outcome::kFailed:
          update.state = RecipientState::kFailed;
          break;
        case Outcome::kDeferred:
          update.state = RecipientState::kPending;
          update.next_attempt = now + BackoffSeconds(r.attempts + 1);
          break;
      }
    }
  }

  // One transaction (and one flush) for every outcome of the batch.
  if (Status status = queue_.Update(updates); !status) {
    log_.Error("queue_update_failed", {{"error", status.error().ToString()}});
  }
  for (const Attempt& attempt : attempts) {
    const QueuedMessage& message = attempt.message;
    Logger log = log_.With("queue_id", message.id);
    const std::string sender_field = "<" + message.sender + ">";
    for (const HopResult& result : attempt.results) {
      const QueueRecipient& r = message.recipients[result.recipient];
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
  }
  if (bounced) {
    std::lock_guard lock(mu_);
    scan_wanted_ = true;
  }
}

}  // namespace corvus
