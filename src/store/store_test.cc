#include "store/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace corvus {
namespace {

namespace fs = std::filesystem;

constexpr char kAlice[] = "a1000000000000000000000000000001";
constexpr char kBob[] = "b2000000000000000000000000000002";
constexpr char kCarol[] = "c3000000000000000000000000000003";

class MessageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("corvus-store-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    Reopen(256);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(root_);
  }

  void Reopen(size_t max_open) {
    store_.reset();
    StoreOptions options;
    options.root = root_;
    options.max_open_accounts = max_open;
    auto opened = MessageStore::Open(options);
    ASSERT_TRUE(opened) << opened.error().ToString();
    store_ = std::move(*opened);
  }

  size_t CountBlobs() {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(root_ / "blobs")) {
      if (e.is_regular_file()) ++n;
    }
    return n;
  }

  fs::path root_;
  std::unique_ptr<MessageStore> store_;
};

TEST(IsValidAccountIdTest, AcceptsOnlyFileSafeIds) {
  struct Case {
    std::string id;
    bool want;
  };
  const Case cases[] = {
      {kAlice, true},     {"ab", true},
      {"a.b-c_d", true},  {"a", false},
      {"", false},        {"../etc", false},
      {".hidden", false}, {"Upper", false},
      {"a/b", false},     {std::string(129, 'a'), false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IsValidAccountId(c.id), c.want) << "id=" << c.id;
  }
}

TEST_F(MessageStoreTest, DeliverToSeveralAccountsWritesOneBlob) {
  std::string body = "From: x@example.com\r\n\r\nhello\r\n";
  Delivery d;
  d.data = body;
  d.internal_date = 1700000000;
  d.recipients = {{kAlice, "INBOX", 0, {}},
                  {kBob, "INBOX", 0, {"$Important"}},
                  {kCarol, "Junk", 0, {}}};
  auto results = store_->DeliverMessage(d);
  ASSERT_TRUE(results) << results.error().ToString();
  ASSERT_EQ(results->size(), 3u);
  for (const auto& r : *results) {
    EXPECT_EQ(r.status, DeliveryStatus::kOk);
    EXPECT_EQ(r.uid, 1u);
  }
  EXPECT_EQ(CountBlobs(), 1u);
  EXPECT_TRUE(*store_->blobs().Exists(Sha256Hex(body)));
  EXPECT_TRUE(fs::exists(store_->AccountPath(kAlice)));
  EXPECT_EQ(store_->AccountPath(kAlice),
            root_ / "accounts" / "a1" / (std::string(kAlice) + ".db"));

  auto bob = store_->OpenAccount(kBob, false);
  ASSERT_TRUE(bob);
  auto list = (*bob)->ListMessages("INBOX");
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].blob, Sha256Hex(body));
  EXPECT_EQ((*list)[0].flags, std::vector<std::string>{"$Important"});
  EXPECT_EQ((*list)[0].internal_date, 1700000000);
}

TEST_F(MessageStoreTest, ReportsEachRecipientOnItsOwn) {
  std::string body = "0123456789";
  Delivery d;
  d.data = body;
  d.recipients = {{kAlice, "INBOX", 5, {}},     // over quota
                  {kBob, "No Such", 0, {}},     // missing folder
                  {"BAD ID", "INBOX", 0, {}},   // invalid account
                  {kCarol, "INBOX", 100, {}}};  // fine
  auto results = store_->DeliverMessage(d);
  ASSERT_TRUE(results);
  EXPECT_EQ((*results)[0].status, DeliveryStatus::kOverQuota);
  EXPECT_EQ((*results)[1].status, DeliveryStatus::kNoSuchFolder);
  EXPECT_EQ((*results)[2].status, DeliveryStatus::kError);
  ASSERT_TRUE((*results)[2].error.has_value());
  EXPECT_EQ((*results)[2].error->code, ErrorCode::kInvalid);
  EXPECT_EQ((*results)[3].status, DeliveryStatus::kOk);
  auto alice = store_->OpenAccount(kAlice, false);
  ASSERT_TRUE(alice);
  EXPECT_EQ((*alice)->Usage()->messages, 0u);
}

TEST_F(MessageStoreTest, RepeatedDeliveryIdIsStoredOnce) {
  std::string body = "Subject: once\r\n\r\nx\r\n";
  Delivery d;
  d.data = body;
  d.delivery_id = "0A1B2C";
  d.recipients = {{kAlice, "INBOX", 0, {}}, {kBob, "INBOX", 0, {}}};
  auto first = store_->DeliverMessage(d);
  ASSERT_TRUE(first);
  // The queue re-sends after a crash; a different message id still counts.
  auto again = store_->DeliverMessage(d);
  ASSERT_TRUE(again);
  d.delivery_id = "0A1B2D";
  auto other = store_->DeliverMessage(d);
  ASSERT_TRUE(other);

  EXPECT_EQ((*again)[0].status, DeliveryStatus::kOk);
  EXPECT_EQ((*again)[0].uid, (*first)[0].uid) << "want the first UID back";
  EXPECT_EQ((*again)[1].uid, (*first)[1].uid);
  EXPECT_EQ((*other)[0].uid, (*first)[0].uid + 1);
  auto alice = store_->OpenAccount(kAlice, false);
  ASSERT_TRUE(alice);
  EXPECT_EQ((*alice)->Usage()->messages, 2u)
      << "got a duplicate for the repeated delivery id";
}

TEST_F(MessageStoreTest, DeliverMessagesGroupsPerAccount) {
  std::vector<std::string> bodies = {"m1", "m2", "m3"};
  std::vector<Delivery> batch(3);
  for (size_t i = 0; i < 3; ++i) {
    batch[i].data = bodies[i];
    batch[i].recipients = {{kAlice, "INBOX", 0, {}}};
  }
  batch[1].recipients.push_back({kBob, "INBOX", 0, {}});
  auto results = store_->DeliverMessages(batch);
  ASSERT_TRUE(results);
  EXPECT_EQ((*results)[0][0].uid, 1u);
  EXPECT_EQ((*results)[1][0].uid, 2u);
  EXPECT_EQ((*results)[1][1].uid, 1u);
  EXPECT_EQ((*results)[2][0].uid, 3u);
  EXPECT_EQ(CountBlobs(), 3u);
}

TEST_F(MessageStoreTest, OpenAccountWithoutCreateAndListing) {
  auto missing = store_->OpenAccount(kAlice, false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(store_->OpenAccount(kBob, true));
  ASSERT_TRUE(store_->OpenAccount(kAlice, true));
  auto ids = store_->ListAccountIds();
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, (std::vector<std::string>{kAlice, kBob}));
}

TEST_F(MessageStoreTest, SmallCacheStillServesEveryAccount) {
  Reopen(1);
  for (int round = 0; round < 2; ++round) {
    for (const char* id : {kAlice, kBob, kCarol}) {
      std::string body = std::string(id) + std::to_string(round);
      Delivery d;
      d.data = body;
      d.recipients = {{id, "INBOX", 0, {}}};
      auto r = store_->DeliverMessage(d);
      ASSERT_TRUE(r);
      EXPECT_EQ((*r)[0].uid, static_cast<uint32_t>(round + 1)) << id;
    }
  }
}

TEST_F(MessageStoreTest, ConcurrentDeliveriesToOneAccountGetDistinctUids) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string body = "t" + std::to_string(t) + "m" + std::to_string(i);
        Delivery d;
        d.data = body;
        d.recipients = {{kAlice, "INBOX", 0, {}}};
        auto r = store_->DeliverMessage(d);
        if (!r || (*r)[0].status != DeliveryStatus::kOk) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto alice = store_->OpenAccount(kAlice, false);
  ASSERT_TRUE(alice);
  auto status = (*alice)->Select("INBOX");
  EXPECT_EQ(status->messages, static_cast<uint32_t>(kThreads * kPerThread));
  EXPECT_EQ(status->folder.uidnext,
            static_cast<uint32_t>(kThreads * kPerThread + 1));
}

TEST_F(MessageStoreTest, ReopenedStoreServesDeliveredMail) {
  std::string body = "persisted";
  Delivery d;
  d.data = body;
  d.recipients = {{kAlice, "INBOX", 0, {}}};
  ASSERT_TRUE(store_->DeliverMessage(d));
  Reopen(256);
  auto alice = store_->OpenAccount(kAlice, false);
  ASSERT_TRUE(alice);
  auto list = (*alice)->ListMessages("INBOX");
  ASSERT_EQ(list->size(), 1u);
  auto data = store_->blobs().Read((*list)[0].blob);
  ASSERT_TRUE(data);
  EXPECT_EQ(*data, body);
}

TEST(BlobPinsTest, FinishScanSparesAnythingPinnedDuringTheScan) {
  BlobPins pins;
  pins.Pin("held");      // pinned before the scan, still held
  pins.Pin("released");  // pinned before, released during
  ASSERT_TRUE(pins.BeginScan());
  EXPECT_FALSE(pins.BeginScan()) << "second concurrent scan was allowed";
  pins.Unpin("released");
  pins.Pin("brief");  // pinned and released during the scan
  pins.Unpin("brief");

  std::vector<std::string> candidates = {"held", "released", "brief", "free"};
  std::vector<std::string> removed;
  size_t n = pins.FinishScan(candidates, [&](const std::string& h) {
    removed.push_back(h);
    return true;
  });
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(removed, std::vector<std::string>{"free"});
  EXPECT_TRUE(pins.BeginScan()) << "scan state was not reset";
  pins.AbortScan();
  pins.Unpin("held");
  EXPECT_FALSE(pins.IsPinned("held"));
}

}  // namespace
}  // namespace corvus
