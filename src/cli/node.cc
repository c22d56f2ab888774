#include "cli/node.h"

#include "directory/directory_factory.h"
#include "mailbox/imap/account_events.h"
#include "mailbox/imap/imap_session.h"
#include "mailbox/lmtp_delivery.h"
#include "mailbox/pop3/pop3_session.h"
#include "mta/queue/delivery_agent.h"
#include "mta/queue/mta_services.h"
#include "mta/queue/queue.h"
#include "mta/queue/router.h"
#include "mta/smtp/smtp_session.h"
#include "store/collector.h"
#include "store/store.h"

namespace corvus {
namespace {

class NodeImpl final : public Node {
 public:
  Status Open(const Config& config, Server& server, const Logger& log) {
    config_ = config;
    log_ = log;
    auto directory = OpenDirectory(config_);
    if (!directory) return Fail(directory.error());
    directory_ = std::move(*directory);
    policy_ = std::make_shared<DirectoryRecipientPolicy>(*directory_);

    if (config_.HasRole("mailbox")) {
      if (auto s = OpenMailbox(server); !s) return s;
    }
    if (config_.HasRole("mta")) {
      if (auto s = OpenMta(server); !s) return s;
    }
    // Said once at start-up, so an operator is not left wondering why a
    // configured role or port does nothing.
    for (const char* role : {"proxy", "admin"}) {
      if (config_.HasRole(role)) {
        log_.Warning("role_not_served",
                     {{"role", role},
                      {"reason", "this Corvus version has no such server"}});
      }
    }
    for (const auto& [name, endpoint] :
         {std::pair{"http", config_.listen.http},
          std::pair{"admin", config_.listen.admin}}) {
      if (endpoint) {
        log_.Warning("listener_not_served",
                     {{"listener", name},
                      {"address", endpoint->ToString()},
                      {"reason", "this Corvus version has no such server"}});
      }
    }
    return {};
  }

  void Stop() override {}

 private:
  // The mailbox role: the store and the LMTP listener that fills it.
  Status OpenMailbox(Server& server) {
    auto store = MessageStore::Open(config_);
    if (!store) return Fail(store.error());
    store_ = std::move(*store);
    mta::SmtpDependencies deps;
    deps.recipients = policy_;
    // Deliveries wake the IMAP sessions (IDLE) of the accounts they reach.
    events_ = std::make_unique<imap::AccountEvents>(
        config_.limits.max_sessions_per_account);
    local_delivery_ = std::make_shared<StoreLmtpDelivery>(
        *store_, *directory_, log_.With("role", "mailbox"),
        [events = events_.get()](std::string_view account_id) {
          events->Notify(account_id);
        });
    deps.lmtp = local_delivery_;
    collector_ = std::make_unique<OrphanCollector>(
        *store_, std::chrono::seconds(config_.store.orphan_grace_seconds));
    server.Spawn([this, &server] { return CollectOrphans(server); });
    if (auto s = ListenSmtp(server, "lmtp", config_.listen.lmtp,
                            mta::SmtpMode::kLmtp, false, deps);
        !s) {
      return s;
    }
    if (auto s = ListenImap(server); !s) return s;
    return ListenPop3(server);
  }

  // IMAP and IMAPS share one handler and one AccountEvents hub.
  Status ListenImap(Server& server) {
    auto options = imap::ImapOptionsFromConfig(config_);
    if (!options) return Fail(options.error());
    auto handler = imap::MakeImapHandler(
        *options, {*store_, *directory_, *events_});
    if (!handler) return Fail(handler.error());
    const std::string busy = "* BYE Too many connections\r\n";
    if (auto s = Listen(server, "imap", config_.listen.imap, false, *handler,
                        busy);
        !s) {
      return s;
    }
    return Listen(server, "imaps", config_.listen.imaps, true, *handler, busy);
  }

  // POP3 and POP3S share one handler, and so one lock per account.
  Status ListenPop3(Server& server) {
    auto options = pop3::Pop3OptionsFromConfig(config_);
    if (!options) return Fail(options.error());
    auto handler = pop3::MakePop3Handler(
        *options, {store_.get(), directory_.get(), nullptr});
    if (!handler) return Fail(handler.error());
    const std::string busy = "-ERR [SYS/TEMP] Too many connections\r\n";
    if (auto s = Listen(server, "pop3", config_.listen.pop3, false, *handler,
                        busy);
        !s) {
      return s;
    }
    return Listen(server, "pop3s", config_.listen.pop3s, true, *handler, busy);
  }

  // Runs the orphan collector every collector_interval_seconds.
  Task<void> CollectOrphans(Server& server) {
    Logger log = log_.With("role", "mailbox").With("service", "collector");
    auto interval =
        std::chrono::seconds(config_.store.collector_interval_seconds);
    auto next = std::chrono::steady_clock::now() + interval;
    while (!server.stopping()) {
      if (std::chrono::steady_clock::now() < next) {
        co_await SleepFor(std::chrono::milliseconds(250));
        continue;
      }
      Result<CollectorStats> stats = CollectorStats{};
      co_await Offload([&] { stats = collector_->RunOnce(); });
      if (!stats) {
        log.Error("collect_failed", {{"error", stats.error().ToString()}});
      } else if (stats->orphans_removed + stats->staging_removed > 0) {
        log.Notice("collected", {{"orphans", stats->orphans_removed},
                                 {"staging", stats->staging_removed}});
      }
      next = std::chrono::steady_clock::now() + interval;
    }
  }

  // The mta role: queue, routing, delivery agent, and the SMTP listeners.
  Status OpenMta(Server& server) {
    auto queue = Queue::Open(config_.DataPath(config_.queue.path));
    if (!queue) return Fail(queue.error());
    queue_ = std::move(*queue);
    Logger mta_log = log_.With("role", "mta");
    std::optional<Endpoint> local_lmtp;
    if (config_.HasRole("mailbox")) local_lmtp = config_.listen.lmtp;
    // With the mailbox role in this process, local mail skips the LMTP
    // hop to ourselves; other mailbox servers are reached over LMTP.
    router_ = std::make_unique<Router>(*directory_, config_.server.name,
                                       local_lmtp, config_.queue.relay_host,
                                       mta_log, local_delivery_ != nullptr);
    agent_ = std::make_unique<DeliveryAgent>(
        *queue_, *router_, config_, mta_log.With("service", "queue"),
        local_delivery_.get());
    server.Spawn([this, &server] {
      return agent_->Run([&server] { return server.stopping(); });
    });

    mta::SmtpDependencies deps;
    deps.recipients = policy_;
    deps.sink = std::make_shared<QueueSink>(*queue_, *router_, *agent_);
    deps.authenticator = std::make_shared<DirectoryAuthenticator>(*directory_);
    if (auto s = ListenSmtp(server, "smtp", config_.listen.smtp,
                            mta::SmtpMode::kSmtp, false, deps);
        !s) {
      return s;
    }
    if (auto s = ListenSmtp(server, "submission", config_.listen.submission,
                            mta::SmtpMode::kSubmission, false, deps);
        !s) {
      return s;
    }
    return ListenSmtp(server, "submissions", config_.listen.submissions,
                      mta::SmtpMode::kSubmission, true, deps);
  }

  // Registers one SMTP-family listener if the config gives it an address.
  Status ListenSmtp(Server& server, const std::string& name,
                    const std::optional<Endpoint>& endpoint,
                    mta::SmtpMode mode, bool implicit_tls,
                    const mta::SmtpDependencies& deps) {
    if (!endpoint) return {};
    auto options = mta::SmtpSessionOptionsFromConfig(config_, mode);
    if (!options) return Fail(options.error());
    auto handler = mta::MakeSmtpHandler(*options, deps);
    if (!handler) return Fail(handler.error());
    return Listen(
        server, name, endpoint, implicit_tls, std::move(*handler),
        "421 4.7.0 " + config_.server.hostname + " Too many connections\r\n");
  }

  // Registers `handler` on `endpoint` with the [limits] of the config; a
  // listener without an endpoint in [listen] is off.
  Status Listen(Server& server, const std::string& name,
                const std::optional<Endpoint>& endpoint, bool implicit_tls,
                Handler handler, std::string busy_reply) {
    if (!endpoint) return {};
    ListenerOptions listener;
    listener.name = name;
    listener.endpoint = *endpoint;
    listener.implicit_tls = implicit_tls;
    listener.max_connections = config_.limits.max_connections;
    listener.max_connections_per_ip = config_.limits.max_connections_per_ip;
    listener.idle_timeout =
        std::chrono::seconds(config_.limits.idle_timeout_seconds);
    listener.busy_reply = std::move(busy_reply);
    listener.handler = std::move(handler);
    return server.Listen(std::move(listener));
  }

  Config config_;
  Logger log_;
  std::unique_ptr<Directory> directory_;
  std::shared_ptr<DirectoryRecipientPolicy> policy_;
  std::unique_ptr<MessageStore> store_;
  std::unique_ptr<imap::AccountEvents> events_;
  std::shared_ptr<StoreLmtpDelivery> local_delivery_;
  std::unique_ptr<OrphanCollector> collector_;
  std::unique_ptr<Queue> queue_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<DeliveryAgent> agent_;
};

}  // namespace

Result<std::unique_ptr<Node>> Node::Start(const Config& config,
                                          Server& server,
                                          const Logger& log) {
  auto node = std::make_unique<NodeImpl>();
  if (auto s = node->Open(config, server, log); !s) return Fail(s.error());
  return std::unique_ptr<Node>(std::move(node));
}

}  // namespace corvus
