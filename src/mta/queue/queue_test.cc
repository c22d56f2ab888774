#include "mta/queue/queue.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

namespace corvus {
namespace {

class QueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("corvus_queue_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto queue = Queue::Open(dir_);
    ASSERT_TRUE(queue) << queue.error().ToString();
    queue_ = std::move(*queue);
  }
  void TearDown() override {
    queue_.reset();
    std::filesystem::remove_all(dir_);
  }

  static QueuedMessage Message(std::vector<std::string> to) {
    QueuedMessage m;
    m.sender = "sender@example.com";
    m.client = "client[127.0.0.1]";
    for (const std::string& address : to) {
      QueueRecipient r;
      r.address = address;
      r.original = address;
      m.recipients.push_back(r);
    }
    return m;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Queue> queue_;
};

TEST_F(QueueTest, EnqueuedMessageSurvivesReopenWithItsBytes) {
  std::string data("Subject: x\r\n\r\nbody\0with nul\r\n", 30);
  auto id = queue_->Enqueue(Message({"a@example.com", "b@example.com"}), data);
  ASSERT_TRUE(id) << id.error().ToString();
  queue_.reset();

  auto reopened = Queue::Open(dir_);
  ASSERT_TRUE(reopened);
  auto got = (*reopened)->ReadData(*id);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, data) << "got different bytes back";
  auto message = (*reopened)->Get(*id);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->sender, "sender@example.com");
  EXPECT_EQ(message->size, static_cast<int64_t>(data.size()));
  ASSERT_EQ(message->recipients.size(), 2u);
  EXPECT_EQ(message->recipients[1].address, "b@example.com");
  EXPECT_EQ(message->recipients[1].state, RecipientState::kPending);
}

TEST_F(QueueTest, KeepsTheIdTheSessionAssigned) {
  QueuedMessage m = Message({"a@example.com"});
  m.id = "0123456789abcdef";
  auto id = queue_->Enqueue(m, "x\r\n");
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, "0123456789abcdef");
}

TEST_F(QueueTest, RefusesAMessageWithoutRecipients) {
  auto id = queue_->Enqueue(Message({}), "x");
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().code, ErrorCode::kInvalid);
}

TEST_F(QueueTest, ConcurrentEnqueuesAllLandWithDistinctIds) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 20;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::string> ids;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto id = queue_->Enqueue(Message({"a@example.com"}),
                                  "msg " + std::to_string(t * 1000 + i));
        if (!id) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mu);
        ids.insert(*id);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kPerThread));
  auto all = queue_->List();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST_F(QueueTest, MessageLeavesWithItsLastPendingRecipient) {
  auto id = queue_->Enqueue(Message({"a@example.com", "b@example.com"}), "x");
  ASSERT_TRUE(id);
  ASSERT_TRUE(queue_->MarkDelivered(*id, "a@example.com", "250 ok"));
  ASSERT_TRUE(queue_->Get(*id)) << "want the message kept: b is pending";
  ASSERT_TRUE(queue_->MarkFailed(*id, "b@example.com", "550 no"));
  auto gone = queue_->Get(*id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(queue_->ReadData(*id));
}

TEST_F(QueueTest, DueSkipsDeferredAndInFlightMessages) {
  auto first = queue_->Enqueue(Message({"a@example.com"}), "1");
  auto second = queue_->Enqueue(Message({"b@example.com"}), "2");
  ASSERT_TRUE(first && second);
  const int64_t now = time(nullptr);

  auto due = queue_->Due(now, 10, {});
  ASSERT_TRUE(due);
  EXPECT_EQ(due->size(), 2u);

  ASSERT_TRUE(queue_->MarkDeferred(*first, "a@example.com", "451 later",
                                   now + 600));
  due = queue_->Due(now, 10, {*second});
  ASSERT_TRUE(due);
  EXPECT_TRUE(due->empty()) << "got " << due->size() << " due, want 0";

  auto next = queue_->NextDue();
  ASSERT_TRUE(next && *next);
  EXPECT_EQ(**next, now) << "second is still due now";

  auto flushed = queue_->FlushAll();
  ASSERT_TRUE(flushed);
  due = queue_->Due(now, 10, {});
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 2u);
  auto message = queue_->Get(*first);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->recipients[0].attempts, 1);
  EXPECT_EQ(message->recipients[0].last_error, "451 later");
}

TEST_F(QueueTest, DeleteRemovesAndReportsUnknownIds) {
  auto id = queue_->Enqueue(Message({"a@example.com"}), "x");
  ASSERT_TRUE(id);
  EXPECT_TRUE(queue_->Delete(*id));
  auto again = queue_->Delete(*id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(queue_->MarkDelivered(*id, "a@example.com", "").error().code,
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace corvus
