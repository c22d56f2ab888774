// A corvus::Server with one listener on 127.0.0.1 (a free port), running
// on its own thread for the life of the object: the server side of the
// protocol session tests.
//
// Thread safety: construct, query and destroy from the test's thread.
#ifndef CORVUS_COMMON_TESTING_LOOPBACK_SERVER_H_
#define CORVUS_COMMON_TESTING_LOOPBACK_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common/net.h"
#include "common/tls.h"

namespace corvus::testing {

class LoopbackServer {
 public:
  // Serves `handler` on listener `name`; with `tls`, STARTTLS works.
  // Failures to listen are reported as test failures.
  LoopbackServer(std::string name, Handler handler,
                 std::shared_ptr<TlsContext> tls = nullptr, int threads = 1);
  // Stops the server and waits for its thread.
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  uint16_t port() const { return server_->port(name_); }
  // Begins a graceful shutdown, as SIGTERM would.
  void Stop() { server_->Stop(); }
  // Waits (at most 5 s) until `count` sessions have ended.
  bool WaitForSessions(int count);

 private:
  std::string name_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::atomic<int> finished_{0};
};

}  // namespace corvus::testing

#endif  // CORVUS_COMMON_TESTING_LOOPBACK_SERVER_H_
