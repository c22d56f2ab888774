// The directory- and queue-backed implementations of the interfaces an
// SMTP or submission session calls (mta/smtp/smtp_interfaces.h):
//
//   DirectoryRecipientPolicy  local users exist, relay only if allowed
//   DirectoryAuthenticator    SASL credentials checked against accounts
//   QueueSink                 expand recipients, make the message durable
//
// Thread safety: all three are shared by every session on every event
// loop; they hold no mutable state of their own and do their blocking
// work (SQLite) through Offload().
#ifndef CORVUS_MTA_QUEUE_MTA_SERVICES_H_
#define CORVUS_MTA_QUEUE_MTA_SERVICES_H_

#include "directory/directory.h"
#include "mta/queue/delivery_agent.h"
#include "mta/queue/queue.h"
#include "mta/queue/router.h"
#include "mta/smtp/smtp_interfaces.h"

namespace corvus {

class DirectoryRecipientPolicy final : public mta::RecipientPolicy {
 public:
  explicit DirectoryRecipientPolicy(Directory& directory)
      : directory_(directory) {}

  // Local domain: accepted if the address resolves (account, alias or
  // list; closed accounts are refused), else 550 5.1.1. Other domains:
  // accepted only if the client may relay. A directory failure is 452.
  Task<mta::RcptVerdict> CheckRecipient(const mta::SessionInfo& session,
                                        std::string_view address) override;

 private:
  Directory& directory_;
};

class DirectoryAuthenticator final : public mta::Authenticator {
 public:
  explicit DirectoryAuthenticator(Directory& directory)
      : directory_(directory) {}

  // Checks username/password; an authorization identity other than the
  // user's own address is refused. Returns the account's address.
  Task<Result<std::string>> Authenticate(const mta::SessionInfo& session,
                                         std::string_view authzid,
                                         std::string_view username,
                                         std::string_view password) override;

 private:
  Directory& directory_;
};

class QueueSink final : public mta::MessageSink {
 public:
  QueueSink(Queue& queue, Router& router, DeliveryAgent& agent)
      : queue_(queue), router_(router), agent_(agent) {}

  // Expands the recipients, enqueues durably (group commit) and wakes
  // the delivery agent. kTemporary if the directory or disk fails.
  Task<Result<std::string>> Accept(const mta::Envelope& envelope,
                                   std::string data) override;

 private:
  Queue& queue_;
  Router& router_;
  DeliveryAgent& agent_;
};

}  // namespace corvus

#endif  // CORVUS_MTA_QUEUE_MTA_SERVICES_H_
