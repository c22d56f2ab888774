// Tests for the SQLite layer's statement cache.
#include "store/sqlite_db.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

namespace corvus::store {
namespace {

namespace fs = std::filesystem;

class DbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() /
            ("corvus-sqlite-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() +
             ".db");
    fs::remove(path_);
    auto db = Db::Open(path_, Db::Mode::kReadWriteCreate);
    ASSERT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(
        db_->Exec("CREATE TABLE t(n INTEGER, s TEXT);"
                  "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');"));
  }
  void TearDown() override {
    db_.reset();
    fs::remove(path_);
  }

  // Values of `n` the statement yields from where it stands.
  static std::vector<int64_t> Rest(Stmt& stmt) {
    std::vector<int64_t> out;
    while (true) {
      auto row = stmt.Step();
      EXPECT_TRUE(row) << row.error().ToString();
      if (!row || !*row) break;
      out.push_back(stmt.Int(0));
    }
    return out;
  }

  fs::path path_;
  std::unique_ptr<Db> db_;
};

constexpr std::string_view kAbove = "SELECT n FROM t WHERE n > ? ORDER BY n";

TEST_F(DbTest, ACachedStatementComesBackResetAndUnbound) {
  {
    auto first = db_->Prepare(kAbove);
    ASSERT_TRUE(first);
    first->Bind(1, int64_t{1});
    auto row = first->Step();
    ASSERT_TRUE(row && *row);
    EXPECT_EQ(first->Int(0), 2);
    // Dropped mid-way, bound to 1.
  }
  auto again = db_->Prepare(kAbove);
  ASSERT_TRUE(again);
  // Unbound, "n > NULL" matches nothing; a leftover binding would give 2, 3.
  EXPECT_TRUE(Rest(*again).empty());
  again->Reset();
  again->Bind(1, int64_t{0});
  EXPECT_EQ(Rest(*again), (std::vector<int64_t>{1, 2, 3}));
}

TEST_F(DbTest, TheSameSqlTwiceAtOnceGetsTwoStatements) {
  auto outer = db_->Prepare(kAbove);
  ASSERT_TRUE(outer);
  outer->Bind(1, int64_t{0});
  auto row = outer->Step();
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(outer->Int(0), 1);

  auto inner = db_->Prepare(kAbove);
  ASSERT_TRUE(inner);
  inner->Bind(1, int64_t{2});
  EXPECT_EQ(Rest(*inner), std::vector<int64_t>{3});
  EXPECT_EQ(Rest(*outer), (std::vector<int64_t>{2, 3}))
      << "the outer use was disturbed";
}

TEST_F(DbTest, ViewReadsTextAndBlobBytes) {
  auto insert = db_->Prepare("INSERT INTO t(n, s) VALUES (9, ?)");
  ASSERT_TRUE(insert);
  const std::string bytes("a\0\xff", 3);
  ASSERT_TRUE(insert->BindBlob(1, bytes).Run());
  auto select = db_->Prepare("SELECT s FROM t WHERE n = ?");
  ASSERT_TRUE(select);
  select->Bind(1, int64_t{9});
  auto row = select->Step();
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(select->View(0), bytes);
}

TEST_F(DbTest, ABadStatementIsAnErrorAndNotCached) {
  for (int i = 0; i < 2; ++i) {
    auto bad = db_->Prepare("SELECT nothing FROM nowhere");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ErrorCode::kInvalid);
  }
}

}  // namespace
}  // namespace corvus::store
