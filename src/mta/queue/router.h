// Routing: from the recipients a client named to the final recipients the
// queue delivers to, and from a final recipient to its next hop.
//
// Expansion happens once, when the message enters the queue, so that a
// list with many members becomes one queue recipient per member, each with
// its own retry state. Routing happens at each delivery attempt, so that an
// account moved to another mailbox server is followed.
//
// Thread safety: safe from any thread if the Directory is. Calls block
// on the directory; run them through Offload().
#ifndef CORVUS_MTA_QUEUE_ROUTER_H_
#define CORVUS_MTA_QUEUE_ROUTER_H_

#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "common/result.h"
#include "directory/directory.h"
#include "mta/queue/queue.h"

namespace corvus {

// Where one final recipient goes next.
struct Route {
  Endpoint endpoint;
  bool lmtp = true;    // LMTP to a mailbox server, else SMTP to a relay
  std::string server;  // mailbox server name, or "relay"
  // The mailbox role runs in this very process: hand the message over
  // directly instead of over an LMTP connection to ourselves.
  bool in_process = false;
  // Groups recipients that can share one transaction.
  std::string Key() const {
    if (in_process) return "local:";
    return (lmtp ? "lmtp:" : "smtp:") + endpoint.ToString();
  }
};

class Router {
 public:
  // `local_lmtp` is this node's LMTP listener, used for accounts whose
  // home server is this server (or unset); with `in_process`, such
  // accounts get in-process routes instead. `relay_host` receives all
  // mail for non-local domains; without it such mail stays deferred.
  Router(Directory& directory, std::string server_name,
         std::optional<Endpoint> local_lmtp,
         std::optional<Endpoint> relay_host, Logger log,
         bool in_process = false);

  // Expands the envelope recipients through aliases and lists. Each
  // final recipient appears once, with the first envelope recipient that
  // led to it as `original`. An address that no longer resolves is kept
  // as is, so that delivery bounces it with the next hop's answer.
  // Errors: kTemporary when the directory cannot be read.
  Result<std::vector<QueueRecipient>> Expand(
      const std::vector<std::string>& recipients);

  // The next hop for a final recipient. kTemporary when there is none yet
  // (unknown home server, no relay host): the queue retries later.
  Result<Route> RouteFor(std::string_view address);

 private:
  Directory& directory_;
  std::string server_name_;
  std::optional<Endpoint> local_lmtp_;
  std::optional<Endpoint> relay_host_;
  Logger log_;
  bool in_process_;
};

}  // namespace corvus

#endif  // CORVUS_MTA_QUEUE_ROUTER_H_
