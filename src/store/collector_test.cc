#include "store/collector.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace corvus {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::seconds;

constexpr char kAlice[] = "a1000000000000000000000000000001";

class CollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("corvus-collect-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    StoreOptions options;
    options.root = root_;
    auto opened = MessageStore::Open(options);
    ASSERT_TRUE(opened) << opened.error().ToString();
    store_ = std::move(*opened);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(root_);
  }

  // Makes `path` look two hours old.
  static void Age(const fs::path& path) {
    fs::last_write_time(path, fs::file_time_type::clock::now() - hours(2));
  }

  // Stores `body` as a blob nobody references, aged past the grace.
  std::string OldOrphan(const std::string& body) {
    auto hash = store_->blobs().Put(body);
    EXPECT_TRUE(hash);
    Age(store_->blobs().PathOf(*hash));
    return *hash;
  }

  bool Exists(const std::string& hash) { return *store_->blobs().Exists(hash); }

  fs::path root_;
  std::unique_ptr<MessageStore> store_;
};

TEST_F(CollectorTest, RemovesOnlyOldUnreferencedUnpinnedBlobs) {
  // Referenced: delivered to Alice, then aged.
  std::string referenced_body = "referenced";
  Delivery d;
  d.data = referenced_body;
  d.recipients = {{kAlice, "INBOX", 0, {}}};
  ASSERT_TRUE(store_->DeliverMessage(d));
  std::string referenced = Sha256Hex(referenced_body);
  Age(store_->blobs().PathOf(referenced));

  std::string orphan = OldOrphan("orphan");
  std::string pinned = OldOrphan("pinned");
  auto young = store_->blobs().Put("young");
  ASSERT_TRUE(young);

  BlobPin pin(store_->pins(), pinned);
  OrphanCollector collector(*store_, seconds(3600));
  auto stats = collector.RunOnce();
  ASSERT_TRUE(stats) << stats.error().ToString();

  struct Case {
    std::string name;
    std::string hash;
    bool want_kept;
  };
  const Case cases[] = {{"referenced", referenced, true},
                        {"old orphan", orphan, false},
                        {"pinned orphan", pinned, true},
                        {"young orphan", *young, true}};
  for (const Case& c : cases) {
    EXPECT_EQ(Exists(c.hash), c.want_kept) << c.name;
  }
  EXPECT_EQ(stats->blobs_seen, 4u);
  EXPECT_EQ(stats->orphans_removed, 1u);
  EXPECT_EQ(stats->kept_referenced, 1u);
  EXPECT_EQ(stats->kept_pinned, 1u);
  EXPECT_EQ(stats->kept_young, 1u);
  EXPECT_EQ(stats->accounts_scanned, 1u);
}

TEST_F(CollectorTest, ReclaimsBodyOfExpungedMessage) {
  std::string body = "soon expunged";
  Delivery d;
  d.data = body;
  d.recipients = {{kAlice, "INBOX", 0, {"\\Deleted"}}};
  ASSERT_TRUE(store_->DeliverMessage(d));
  std::string hash = Sha256Hex(body);
  Age(store_->blobs().PathOf(hash));

  OrphanCollector collector(*store_, seconds(3600));
  ASSERT_TRUE(collector.RunOnce());
  EXPECT_TRUE(Exists(hash)) << "removed while still referenced";
  {
    auto alice = store_->OpenAccount(kAlice, false);
    ASSERT_TRUE(alice);
    ASSERT_TRUE((*alice)->Expunge("INBOX"));
  }
  auto stats = collector.RunOnce();
  ASSERT_TRUE(stats);
  EXPECT_FALSE(Exists(hash));
  EXPECT_EQ(stats->orphans_removed, 1u);
}

TEST_F(CollectorTest, RemovesStaleStagingFilesOnly) {
  fs::path stale = store_->blobs().incoming_dir() / "1-1.tmp";
  fs::path fresh = store_->blobs().incoming_dir() / "1-2.tmp";
  std::ofstream(stale) << "partial";
  std::ofstream(fresh) << "in progress";
  Age(stale);

  OrphanCollector collector(*store_, seconds(3600));
  auto stats = collector.RunOnce();
  ASSERT_TRUE(stats);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));
  EXPECT_EQ(stats->staging_removed, 1u);
}

TEST_F(CollectorTest, UnreadableAccountAbortsWithoutRemoving) {
  std::string orphan = OldOrphan("would be removed");
  // An account file that is not a database: the collector cannot know
  // what it references, so it must remove nothing.
  fs::path bogus = store_->AccountPath("zz00000000000000000000000000000z");
  fs::create_directories(bogus.parent_path());
  std::ofstream(bogus) << "this is not sqlite, just junk bytes padding "
                          "to be long enough to look like a header....";

  OrphanCollector collector(*store_, seconds(3600));
  auto stats = collector.RunOnce();
  ASSERT_FALSE(stats);
  EXPECT_TRUE(Exists(orphan));
  fs::remove(bogus);
  auto retry = collector.RunOnce();
  ASSERT_TRUE(retry) << "scan state not released after failure";
  EXPECT_FALSE(Exists(orphan));
}

TEST_F(CollectorTest, SparesOrphanReusedByDeliveryDuringScan) {
  // The race the pins close: the collector has read the accounts and found
  // an old orphan; before it removes it, a delivery of the same bytes
  // deduplicates onto that file and commits a row.
  std::string body = "deduplicated mid-scan";
  std::string hash = OldOrphan(body);
  ASSERT_TRUE(store_->pins().BeginScan());
  Delivery d;
  d.data = body;
  d.recipients = {{kAlice, "INBOX", 0, {}}};
  ASSERT_TRUE(store_->DeliverMessage(d));
  std::vector<std::string> candidates = {hash};
  size_t removed =
      store_->pins().FinishScan(candidates, [&](const std::string& h) {
        return store_->blobs().Remove(h).has_value();
      });
  EXPECT_EQ(removed, 0u);
  EXPECT_TRUE(Exists(hash)) << "removed a blob a committed row references";
}

TEST_F(CollectorTest, RedeliveryAfterCollectionStoresBodyAgain) {
  std::string body = "comes again";
  std::string hash = OldOrphan(body);
  OrphanCollector collector(*store_, seconds(3600));
  ASSERT_TRUE(collector.RunOnce());
  ASSERT_FALSE(Exists(hash));

  Delivery d;
  d.data = body;
  d.recipients = {{kAlice, "INBOX", 0, {}}};
  ASSERT_TRUE(store_->DeliverMessage(d));
  auto data = store_->blobs().Read(hash);
  ASSERT_TRUE(data) << "row committed without its blob";
  EXPECT_EQ(*data, body);
}

}  // namespace
}  // namespace corvus
