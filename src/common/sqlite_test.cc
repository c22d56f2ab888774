#include "common/sqlite.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <optional>

namespace corvus {
namespace {

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("corvus-sqlite-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    auto db = SqliteDb::Open(dir_ / "t.db", 1000);
    ASSERT_TRUE(db) << db.error().ToString();
    db_.emplace(std::move(*db));
    ASSERT_TRUE(db_->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"));
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::optional<SqliteDb> db_;
};

TEST_F(SqliteTest, CachedStatementIsReusedAndResetBetweenBorrows) {
  for (int i = 1; i <= 3; ++i) {
    auto insert = db_->Cached("INSERT INTO t (k, v) VALUES (?, ?)");
    ASSERT_TRUE(insert);
    ASSERT_TRUE((*insert)->Bind(1, int64_t{i}).Bind(2, "v").Run());
  }
  // A borrow that stops half-way through its rows leaves nothing behind
  // for the next one.
  {
    auto select = db_->Cached("SELECT k FROM t ORDER BY k");
    ASSERT_TRUE(select);
    auto row = (*select)->Step();
    ASSERT_TRUE(row && *row);
    EXPECT_EQ((*select)->ColumnInt(0), 1);
  }
  auto select = db_->Cached("SELECT k FROM t ORDER BY k");
  ASSERT_TRUE(select);
  int count = 0;
  for (;;) {
    auto row = (*select)->Step();
    ASSERT_TRUE(row);
    if (!*row) break;
    EXPECT_EQ((*select)->ColumnInt(0), ++count);
  }
  EXPECT_EQ(count, 3);
}

TEST_F(SqliteTest, CachedStatementSurvivesMovingTheConnection) {
  {
    auto insert = db_->Cached("INSERT INTO t (k, v) VALUES (?, ?)");
    ASSERT_TRUE(insert);
    ASSERT_TRUE((*insert)->Bind(1, int64_t{1}).Bind(2, "a").Run());
  }
  SqliteDb moved = std::move(*db_);
  auto insert = moved.Cached("INSERT INTO t (k, v) VALUES (?, ?)");
  ASSERT_TRUE(insert);
  // A constraint failure is reported through the moved connection.
  auto status = (*insert)->Bind(1, int64_t{1}).Bind(2, "b").Run();
  ASSERT_FALSE(status);
  EXPECT_TRUE(IsConstraintError(status.error()));
}

TEST_F(SqliteTest, CachedReportsBadSql) {
  auto bad = db_->Cached("SELECT nope FROM nowhere");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("prepare"), std::string::npos);
}

}  // namespace
}  // namespace corvus
