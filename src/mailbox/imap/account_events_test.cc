// Tests of the AccountEvents hub: generations, the per-account session
// bound, and waking a waiting coroutine from another thread.
#include "mailbox/imap/account_events.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <utility>
// Asio after <utility>; see common/task.h.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace corvus::imap {
namespace {

using namespace std::chrono_literals;

TEST(AccountEventsTest, NotifyBumpsOnlyThatAccountsSessions) {
  AccountEvents events;
  auto alice1 = events.Subscribe("alice");
  auto alice2 = events.Subscribe("alice");
  auto bob = events.Subscribe("bob");
  ASSERT_TRUE(alice1 && alice2 && bob);

  events.Notify("alice");
  events.Notify("alice");
  events.Notify("nobody");
  EXPECT_EQ((*alice1)->generation(), 2u);
  EXPECT_EQ((*alice2)->generation(), 2u);
  EXPECT_EQ((*bob)->generation(), 0u);
}

TEST(AccountEventsTest, RefusesSessionsBeyondTheBoundUntilOneEnds) {
  AccountEvents events(/*max_sessions_per_account=*/2);
  auto first = events.Subscribe("alice");
  auto second = events.Subscribe("alice");
  ASSERT_TRUE(first && second);
  auto third = events.Subscribe("alice");
  ASSERT_FALSE(third.has_value());
  EXPECT_EQ(third.error().code, ErrorCode::kTemporary);
  EXPECT_TRUE(events.Subscribe("bob").has_value())
      << "other accounts unaffected";

  first->reset();
  EXPECT_EQ(events.SessionCount("alice"), 1u);
  EXPECT_TRUE(events.Subscribe("alice").has_value());
}

TEST(AccountEventsTest, NotifyFromAnotherThreadWakesAWaiterPromptly) {
  AccountEvents events;
  auto subscription = events.Subscribe("alice");
  ASSERT_TRUE(subscription);
  boost::asio::io_context loop;
  std::chrono::steady_clock::duration waited{};
  uint64_t got = 0;
  boost::asio::co_spawn(
      loop,
      [&]() -> Task<void> {
        auto start = std::chrono::steady_clock::now();
        got = co_await (*subscription)->WaitChange(0, 30s);
        waited = std::chrono::steady_clock::now() - start;
      },
      boost::asio::detached);
  std::thread notifier([&] {
    std::this_thread::sleep_for(100ms);
    events.Notify("alice");
  });
  loop.run();
  notifier.join();
  EXPECT_EQ(got, 1u);
  EXPECT_LT(waited, 5s) << "woken by Notify, not by the 30 s timeout";
}

TEST(AccountEventsTest, WaitReturnsAtOnceIfAlreadyChanged) {
  AccountEvents events;
  auto subscription = events.Subscribe("alice");
  ASSERT_TRUE(subscription);
  events.Notify("alice");
  boost::asio::io_context loop;
  uint64_t got = 0;
  boost::asio::co_spawn(
      loop,
      [&]() -> Task<void> {
        got = co_await (*subscription)->WaitChange(0, 30s);
      },
      boost::asio::detached);
  auto start = std::chrono::steady_clock::now();
  loop.run();
  EXPECT_EQ(got, 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(AccountEventsTest, WaitTimesOutWithoutEvents) {
  AccountEvents events;
  auto subscription = events.Subscribe("alice");
  ASSERT_TRUE(subscription);
  boost::asio::io_context loop;
  uint64_t got = 99;
  boost::asio::co_spawn(
      loop,
      [&]() -> Task<void> {
        got = co_await (*subscription)->WaitChange(0, 50ms);
      },
      boost::asio::detached);
  loop.run();
  EXPECT_EQ(got, 0u);
}

}  // namespace
}  // namespace corvus::imap
