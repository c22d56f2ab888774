#include "mta/queue/delivery_agent.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
// Asio after <utility>; see common/task.h.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "directory/sqlite_directory.h"
#include "mta/smtp/smtp_session.h"

namespace corvus {
namespace {

// The in-process mailbox role, scripted by address: "full@" is over
// quota (552), "later@" is busy (451), everyone else gets 250. It counts
// how often each queue id reached it, and by which call.
class FakeMailbox : public mta::LmtpDelivery {
 public:
  Task<std::vector<mta::SmtpReply>> Deliver(const mta::Envelope& envelope,
                                            std::string data) override {
    std::lock_guard lock(mu_);
    ++alone_calls_;
    co_return Take(envelope, data);
  }

  Task<std::vector<std::vector<mta::SmtpReply>>> DeliverMany(
      std::span<const mta::Envelope> envelopes,
      std::span<const std::string_view> data) override {
    std::vector<std::vector<mta::SmtpReply>> replies;
    std::lock_guard lock(mu_);
    ++batch_calls_;
    for (size_t i = 0; i < envelopes.size(); ++i) {
      replies.push_back(Take(envelopes[i], data[i]));
    }
    co_return replies;
  }

  int Times(const std::string& queue_id) {
    std::lock_guard lock(mu_);
    return times_[queue_id];
  }
  std::string DataFor(const std::string& address) {
    std::lock_guard lock(mu_);
    return data_[address];
  }
  int batch_calls() {
    std::lock_guard lock(mu_);
    return batch_calls_;
  }
  int alone_calls() {
    std::lock_guard lock(mu_);
    return alone_calls_;
  }

 private:
  std::vector<mta::SmtpReply> Take(const mta::Envelope& envelope,
                                   std::string_view data) {
    ++times_[envelope.upstream_queue_id];
    std::vector<mta::SmtpReply> replies;
    for (const mta::Recipient& r : envelope.rcpt_to) {
      if (r.address.starts_with("full@")) {
        replies.push_back({552, "5.2.2", "Mailbox full"});
      } else if (r.address.starts_with("later@")) {
        replies.push_back({451, "4.3.0", "Try again"});
      } else {
        data_[r.address] = std::string(data);
        replies.push_back({250, "2.1.5", "Delivered"});
      }
    }
    return replies;
  }

  std::mutex mu_;
  std::map<std::string, int> times_;
  std::map<std::string, std::string> data_;
  int batch_calls_ = 0;
  int alone_calls_ = 0;
};

class DeliveryAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("corvus-agent-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto directory = SqliteDirectory::Open(dir_ / "directory.db");
    ASSERT_TRUE(directory) << directory.error().ToString();
    directory_ = std::move(*directory);
    ASSERT_TRUE(directory_->CreateDomain("example.com"));
    for (const char* user : {"a", "b", "full", "later", "sender"}) {
      Account account;
      account.address = std::string(user) + "@example.com";
      ASSERT_TRUE(directory_->CreateAccount(account));
    }
    auto queue = Queue::Open(dir_ / "queue");
    ASSERT_TRUE(queue) << queue.error().ToString();
    queue_ = std::move(*queue);
    router_ = std::make_unique<Router>(*directory_, "mx1", std::nullopt,
                                       std::nullopt, Logger(),
                                       /*in_process=*/true);
    config_.server.hostname = "mx1.example.com";
    agent_ = std::make_unique<DeliveryAgent>(*queue_, *router_, config_,
                                             Logger(), &mailbox_);
    boost::asio::co_spawn(
        io_, [this]() -> Task<void> {
          co_await agent_->Run([this] { return stopping_.load(); });
          done_ = true;
        },
        boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    stopping_ = true;
    if (agent_) agent_->Notify();
    if (thread_.joinable()) thread_.join();
    EXPECT_TRUE(done_);
    agent_.reset();
    queue_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Enqueues; returns the message with its id. With `expect`, tells the
  // agent first, as QueueSink does before a hand-over.
  QueuedMessage Enqueue(std::vector<std::string> to, const std::string& data,
                        bool expect = false) {
    QueuedMessage message;
    message.id = mta::NewQueueId();
    if (expect) agent_->Expect(message.id);
    message.sender = "sender@example.com";
    message.client = "test";
    for (std::string& address : to) {
      QueueRecipient& r = message.recipients.emplace_back();
      r.address = address;
      r.original = address;
    }
    auto id = queue_->Enqueue(message, data);
    EXPECT_TRUE(id) << id.error().ToString();
    if (id) message.id = *id;
    return message;
  }

  // Waits (at most 10 s) until `done` holds.
  static bool WaitFor(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
  }

  bool Gone(const std::string& id) {
    auto got = queue_->Get(id);
    return !got && got.error().code == ErrorCode::kNotFound;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<Queue> queue_;
  std::unique_ptr<Router> router_;
  Config config_;
  FakeMailbox mailbox_;
  std::unique_ptr<DeliveryAgent> agent_;
  boost::asio::io_context io_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> done_{false};
};

TEST_F(DeliveryAgentTest, HandedOverMessageIsDeliveredInOneBatchAndLeaves) {
  QueuedMessage message =
      Enqueue({"a@example.com", "b@example.com"}, "hi\r\n", true);
  agent_->Handoff(message, "hi\r\n");
  ASSERT_TRUE(WaitFor([&] { return Gone(message.id); }));
  EXPECT_EQ(mailbox_.Times(message.id), 1);
  EXPECT_EQ(mailbox_.DataFor("a@example.com"), "hi\r\n");
  EXPECT_EQ(mailbox_.DataFor("b@example.com"), "hi\r\n");
  EXPECT_GE(mailbox_.batch_calls(), 1);
  EXPECT_EQ(mailbox_.alone_calls(), 0);
}

TEST_F(DeliveryAgentTest, QueuedMessageWithoutHandOverIsFoundByTheScan) {
  QueuedMessage message = Enqueue({"a@example.com"}, "scanned\r\n");
  agent_->Notify();
  ASSERT_TRUE(WaitFor([&] { return Gone(message.id); }));
  EXPECT_EQ(mailbox_.Times(message.id), 1);
  // The data came from the queue, byte for byte.
  EXPECT_EQ(mailbox_.DataFor("a@example.com"), "scanned\r\n");
}

TEST_F(DeliveryAgentTest, ScansNeverTakeAnExpectedMessage) {
  // Scans run while expected messages sit durable in the queue, not yet
  // handed over, and while others are queued without a hand-over.
  std::vector<QueuedMessage> messages;
  for (int i = 0; i < 60; ++i) {
    std::string data = "n" + std::to_string(i) + "\r\n";
    messages.push_back(Enqueue({"a@example.com"}, data, i % 2 == 0));
    agent_->Notify();
  }
  // The scans delivered the others but left the expected ones alone.
  ASSERT_TRUE(WaitFor([&] { return Gone(messages[59].id); }));
  for (int i = 0; i < 60; i += 2) {
    EXPECT_EQ(mailbox_.Times(messages[i].id), 0) << i;
  }
  for (int i = 0; i < 60; i += 2) {
    agent_->Handoff(messages[i], "n" + std::to_string(i) + "\r\n");
    agent_->Notify();
  }
  for (const QueuedMessage& m : messages) {
    ASSERT_TRUE(WaitFor([&] { return Gone(m.id); })) << m.id;
  }
  for (const QueuedMessage& m : messages) {
    EXPECT_EQ(mailbox_.Times(m.id), 1) << m.id;
  }
}

TEST_F(DeliveryAgentTest, RefusedRecipientBouncesAndBusyOneWaits) {
  QueuedMessage message = Enqueue(
      {"a@example.com", "full@example.com", "later@example.com"},
      "Subject: x\r\n\r\nbody\r\n", true);
  agent_->Handoff(message, "Subject: x\r\n\r\nbody\r\n");

  // The refusal comes back to the sender as a bounce, delivered too.
  ASSERT_TRUE(WaitFor([&] {
    return !mailbox_.DataFor("sender@example.com").empty();
  }));
  EXPECT_NE(mailbox_.DataFor("sender@example.com").find("full@example.com"),
            std::string::npos);

  // The busy recipient stays queued for a later attempt.
  ASSERT_TRUE(WaitFor([&] {
    auto got = queue_->Get(message.id);
    return got && got->recipients.size() == 3 &&
           got->recipients[2].attempts == 1;
  }));
  auto got = queue_->Get(message.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->recipients[0].state, RecipientState::kDelivered);
  EXPECT_EQ(got->recipients[1].state, RecipientState::kFailed);
  EXPECT_EQ(got->recipients[2].state, RecipientState::kPending);
  EXPECT_GT(got->recipients[2].next_attempt, message.created);
}

}  // namespace
}  // namespace corvus
