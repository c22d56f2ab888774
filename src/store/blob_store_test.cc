#include "store/blob_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace corvus {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("corvus-blob-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    auto store = BlobStore::Open(root_);
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override { fs::remove_all(root_); }

  size_t CountFiles(const fs::path& dir) {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (e.is_regular_file()) ++n;
    }
    return n;
  }

  fs::path root_;
  std::unique_ptr<BlobStore> store_;
};

TEST(Sha256HexTest, MatchesKnownDigests) {
  struct Case {
    std::string input;
    std::string want;
  };
  const Case cases[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc",
       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
  };
  for (const Case& c : cases) {
    std::string got = Sha256Hex(c.input);
    EXPECT_EQ(got, c.want) << "input=\"" << c.input << "\"";
    EXPECT_TRUE(IsBlobHash(got));
  }
}

TEST(IsBlobHashTest, RejectsMalformedNames) {
  const std::string bad[] = {
      "",
      "abc",
      std::string(63, 'a'),
      std::string(65, 'a'),
      std::string(64, 'A'),
      std::string(63, 'a') + "g",
      "../" + std::string(61, 'a'),
  };
  for (const auto& name : bad) {
    EXPECT_FALSE(IsBlobHash(name)) << "name=" << name;
  }
}

TEST_F(BlobStoreTest, RoundTripsWholeAndRanges) {
  std::string data = "Subject: hi\r\n\r\nhello world\r\n";
  auto hash = store_->Put(data);
  ASSERT_TRUE(hash) << hash.error().ToString();
  EXPECT_EQ(*hash, Sha256Hex(data));
  EXPECT_EQ(store_->PathOf(*hash),
            root_ / "blobs" / hash->substr(0, 2) / hash->substr(2, 2) / *hash);
  EXPECT_TRUE(fs::exists(store_->PathOf(*hash)));

  auto whole = store_->Read(*hash);
  ASSERT_TRUE(whole);
  EXPECT_EQ(*whole, data);
  auto size = store_->Size(*hash);
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, data.size());

  struct Case {
    uint64_t offset, length;
    std::string want;
  };
  const Case cases[] = {
      {0, 7, "Subject"},
      {15, 5, "hello"},
      {data.size() - 2, 100, "\r\n"},
      {data.size(), 10, ""},
      {data.size() + 10, 10, ""},
  };
  for (const Case& c : cases) {
    auto got = store_->ReadRange(*hash, c.offset, c.length);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, c.want) << "offset=" << c.offset << " length=" << c.length;
  }
}

TEST_F(BlobStoreTest, ReadWithExpectedSizeIsRightWhateverTheSize) {
  std::string data(10000, 'x');
  for (size_t i = 0; i < data.size(); i += 7) data[i] = 'a' + i % 26;
  auto hash = store_->Put(data);
  ASSERT_TRUE(hash) << hash.error().ToString();
  struct Case {
    const char* label;
    uint64_t expected;
  };
  const Case cases[] = {
      {"exact", data.size()},
      {"too small", 10},
      {"zero", 0},
      {"one short", data.size() - 1},
      {"too big", data.size() * 3},
  };
  for (const Case& c : cases) {
    auto got = store_->Read(*hash, c.expected);
    ASSERT_TRUE(got) << c.label << ": " << got.error().ToString();
    EXPECT_EQ(*got, data) << c.label << ": got " << got->size() << " bytes";
  }

  auto empty = store_->Put("");
  ASSERT_TRUE(empty);
  EXPECT_EQ(store_->Read(*empty, 0).value_or("not read"), "");
  auto absent = store_->Read(Sha256Hex("never stored"), 5);
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code, ErrorCode::kNotFound);
  auto bad = store_->Read("../../etc/passwd", 5);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalid);
}

TEST_F(BlobStoreTest, StoresIdenticalBodiesOnce) {
  auto first = store_->Put("same body");
  auto second = store_->Put("same body");
  ASSERT_TRUE(first && second);
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(CountFiles(root_ / "blobs"), 1u);
  EXPECT_EQ(CountFiles(root_ / "incoming"), 0u)
      << "staging file of the duplicate was left behind";
}

TEST_F(BlobStoreTest, PutManyStoresBatchWithDuplicates) {
  std::vector<std::string> bodies;
  for (int i = 0; i < 20; ++i) bodies.push_back("message " + std::to_string(i));
  bodies.push_back("message 3");  // duplicate inside the batch
  std::vector<std::string_view> views(bodies.begin(), bodies.end());

  auto hashes = store_->PutMany(views);
  ASSERT_TRUE(hashes) << hashes.error().ToString();
  ASSERT_EQ(hashes->size(), bodies.size());
  EXPECT_EQ((*hashes)[3], hashes->back());
  for (size_t i = 0; i < bodies.size(); ++i) {
    auto got = store_->Read((*hashes)[i]);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, bodies[i]);
  }
  EXPECT_EQ(CountFiles(root_ / "blobs"), 20u);
  EXPECT_EQ(CountFiles(root_ / "incoming"), 0u);
}

// Two different bodies whose blobs share one leaf folder (ab/cd).
std::pair<std::string, std::string> BodiesSharingAFolder() {
  std::map<std::string, std::string> seen;  // leaf prefix -> body
  for (int i = 0; i < 200000; ++i) {
    std::string body = "body " + std::to_string(i);
    auto [it, inserted] = seen.emplace(Sha256Hex(body).substr(0, 4), body);
    if (!inserted) return {it->second, body};
  }
  ADD_FAILURE() << "no two bodies share a folder";
  return {};
}

TEST_F(BlobStoreTest, BatchOfNewBlobsPaysOneFilesystemFlush) {
  auto [a, b] = BodiesSharingAFolder();
  std::string_view batch[] = {a, b};
  ASSERT_TRUE(store_->PutMany(batch));
  BlobStore::FlushCounts got = store_->flush_counts();
  EXPECT_EQ(got.filesystems, 1u);
  EXPECT_EQ(got.files, 0u);
  EXPECT_EQ(got.folders, 0u) << "the one flush covers new fan-out folders";
  for (std::string_view blob : batch) {
    auto read = store_->Read(Sha256Hex(blob));
    ASSERT_TRUE(read);
    EXPECT_EQ(*read, blob);
  }

  // The same two blobs one by one in a fresh store pay file and leaf
  // folder each time.
  auto single = BlobStore::Open(root_ / "single");
  ASSERT_TRUE(single);
  ASSERT_TRUE((*single)->Put(a));
  ASSERT_TRUE((*single)->Put(b));
  EXPECT_EQ((*single)->flush_counts().files, 2u);
  EXPECT_EQ((*single)->flush_counts().folders, 4u);
  EXPECT_EQ((*single)->flush_counts().filesystems, 0u);

  // Storing them again writes nothing but still flushes their folder.
  ASSERT_TRUE(store_->PutMany(batch));
  BlobStore::FlushCounts again = store_->flush_counts();
  EXPECT_EQ(again.files, 0u) << "an existing blob was rewritten";
  EXPECT_EQ(again.filesystems, 1u);
  EXPECT_EQ(again.folders, 1u) << "only the shared leaf folder";
}

TEST_F(BlobStoreTest, ReportsMissingAndMalformed) {
  std::string absent = Sha256Hex("never stored");
  auto exists = store_->Exists(absent);
  ASSERT_TRUE(exists);
  EXPECT_FALSE(*exists);
  auto read = store_->Read(absent);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kNotFound);

  auto bad = store_->Read("../../etc/passwd");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalid);
  std::string_view data[] = {"x"};
  std::string wrong[] = {"nothex"};
  auto put = store_->PutHashed(data, wrong);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kInvalid);
}

TEST_F(BlobStoreTest, RemoveDeletesAndToleratesAbsence) {
  auto hash = store_->Put("to be removed");
  ASSERT_TRUE(hash);
  ASSERT_TRUE(store_->Remove(*hash));
  auto exists = store_->Exists(*hash);
  ASSERT_TRUE(exists);
  EXPECT_FALSE(*exists);
  EXPECT_TRUE(store_->Remove(*hash)) << "second remove should be ok";
}

TEST_F(BlobStoreTest, RewritesBlobRemovedAfterPut) {
  // The collector may remove an orphan; a later delivery of the same bytes
  // must store them again, not trust a stale "exists".
  auto hash = store_->Put("comes back");
  ASSERT_TRUE(hash);
  ASSERT_TRUE(store_->Remove(*hash));
  ASSERT_TRUE(store_->Put("comes back"));
  auto got = store_->Read(*hash);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "comes back");
}

}  // namespace
}  // namespace corvus
