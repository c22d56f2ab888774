#include "common/testing/loopback_server.h"

#include <gtest/gtest.h>

#include <chrono>

namespace corvus::testing {

LoopbackServer::LoopbackServer(std::string name, Handler handler,
                               std::shared_ptr<TlsContext> tls, int threads)
    : name_(std::move(name)) {
  ServerOptions options;
  options.threads = threads;
  options.shutdown_grace = std::chrono::seconds(1);
  options.tls = std::move(tls);
  server_ = std::make_unique<Server>(std::move(options));

  // Counts ended sessions, for WaitForSessions().
  ListenerOptions listener;
  listener.name = name_;
  listener.endpoint = Endpoint{"127.0.0.1", 0};
  std::atomic<int>* finished = &finished_;
  listener.handler = [inner = std::move(handler),
                      finished](Connection& conn) -> Task<void> {
    co_await inner(conn);
    ++*finished;
  };
  auto status = server_->Listen(std::move(listener));
  EXPECT_TRUE(status.has_value()) << status.error().ToString();
  thread_ = std::thread([this] { server_->Run(); });
}

LoopbackServer::~LoopbackServer() {
  server_->Stop();
  thread_.join();
}

bool LoopbackServer::WaitForSessions(int count) {
  for (int i = 0; i < 500 && finished_.load() < count; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return finished_.load() >= count;
}

}  // namespace corvus::testing
