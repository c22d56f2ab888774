// A Node is the set of roles one `corvus serve` process runs, wired
// together: it opens the directory, the queue and the store the roles
// need, and registers their listeners and background tasks on a Server.
//
// Thread safety: Start() and Stop() are called from the main thread; the
// objects a Node owns are shared with the Server's event loops and outlive
// Server::Run().
#ifndef CORVUS_CLI_NODE_H_
#define CORVUS_CLI_NODE_H_

#include <memory>

#include "common/config.h"
#include "common/log.h"
#include "common/net.h"
#include "common/result.h"

namespace corvus {

class Node {
 public:
  // Opens what the configured roles need and registers their listeners
  // on `server`. Errors are start-up errors (kConfig, kIo).
  static Result<std::unique_ptr<Node>> Start(const Config& config,
                                             Server& server,
                                             const Logger& log);
  virtual ~Node() = default;

  // Releases resources once the server has stopped.
  virtual void Stop() = 0;
};

}  // namespace corvus

#endif  // CORVUS_CLI_NODE_H_
