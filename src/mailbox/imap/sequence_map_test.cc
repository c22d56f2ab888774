// Tests of SequenceMap: appends, removals (what EXPUNGE and MOVE do to a
// session's sequence numbers), both directions of the seq <-> UID
// mapping, and that contiguous UIDs stay one run.
#include "mailbox/imap/sequence_map.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace corvus::imap {
namespace {

SequenceMap MapOf(const std::vector<uint32_t>& uids) {
  SequenceMap map;
  for (uint32_t uid : uids) map.Append(uid);
  return map;
}

std::vector<uint32_t> AllUids(const SequenceMap& map) {
  std::vector<uint32_t> out;
  if (!map.empty()) map.AppendUids(1, map.size(), out);
  return out;
}

// Checks every query of `map` against the plain list `want`.
void ExpectSame(const SequenceMap& map, const std::vector<uint32_t>& want,
                const std::string& label) {
  SCOPED_TRACE(label);
  ASSERT_EQ(map.size(), want.size());
  EXPECT_EQ(map.empty(), want.empty());
  EXPECT_EQ(map.max_uid(), want.empty() ? 0 : want.back());
  EXPECT_EQ(AllUids(map), want);
  for (size_t i = 0; i < want.size(); ++i) {
    uint32_t seq = static_cast<uint32_t>(i + 1);
    EXPECT_EQ(map.Uid(seq), want[i]) << "seq " << seq;
    EXPECT_EQ(map.Seq(want[i]), seq) << "uid " << want[i];
  }
  uint32_t top = want.empty() ? 3 : want.back() + 3;
  for (uint32_t uid = 0; uid <= top; ++uid) {
    bool held = std::binary_search(want.begin(), want.end(), uid);
    EXPECT_EQ(map.Contains(uid), held) << "uid " << uid;
    auto upto = std::upper_bound(want.begin(), want.end(), uid) - want.begin();
    EXPECT_EQ(map.CountUpTo(uid), upto) << "uid " << uid;
  }
}

TEST(SequenceMapTest, EmptyMapHoldsNothing) {
  SequenceMap map;
  ExpectSame(map, {}, "empty");
  EXPECT_EQ(map.run_count(), 0u);
  EXPECT_FALSE(map.Seq(1).has_value());
  EXPECT_EQ(map.CountUpTo(0xffffffff), 0u);
}

TEST(SequenceMapTest, ContiguousUidsAreOneRun) {
  SequenceMap map;
  for (uint32_t uid = 1; uid <= 10000; ++uid) map.Append(uid);
  EXPECT_EQ(map.size(), 10000u);
  EXPECT_EQ(map.run_count(), 1u);
  EXPECT_EQ(map.Uid(1), 1u);
  EXPECT_EQ(map.Uid(10000), 10000u);
  EXPECT_EQ(map.Seq(5000), 5000u);
  EXPECT_FALSE(map.Seq(10001).has_value());
}

TEST(SequenceMapTest, GapsStartNewRuns) {
  struct Case {
    std::string name;
    std::vector<uint32_t> uids;
    size_t runs;
  };
  const Case cases[] = {
      {"one uid", {7}, 1},
      {"run then gap", {1, 2, 3, 10, 11}, 2},
      {"no two adjacent", {2, 4, 6, 8}, 4},
      {"high uids", {0xfffffff0, 0xfffffff1, 0xfffffffe}, 2},
  };
  for (const Case& c : cases) {
    SequenceMap map = MapOf(c.uids);
    ExpectSame(map, c.uids, c.name);
    EXPECT_EQ(map.run_count(), c.runs) << c.name;
  }
}

TEST(SequenceMapTest, RemoveRenumbersLaterMessages) {
  struct Case {
    std::string name;
    std::vector<uint32_t> before;
    std::vector<uint32_t> removed;
    std::vector<uint32_t> after;
    size_t runs;
  };
  const Case cases[] = {
      {"first of a run", {1, 2, 3, 4}, {1}, {2, 3, 4}, 1},
      {"last of a run", {1, 2, 3, 4}, {4}, {1, 2, 3}, 1},
      {"middle splits the run", {1, 2, 3, 4, 5}, {3}, {1, 2, 4, 5}, 2},
      {"whole run", {1, 2, 5, 6, 9}, {5, 6}, {1, 2, 9}, 2},
      {"everything", {1, 2, 3}, {1, 2, 3}, {}, 0},
      {"absent uids ignored", {1, 2, 3}, {0, 4, 100}, {1, 2, 3}, 1},
      {"across runs", {1, 2, 3, 7, 8, 9}, {2, 3, 7, 9}, {1, 8}, 2},
      {"duplicates in the list", {1, 2, 3}, {2, 2}, {1, 3}, 2},
      {"nothing", {4, 5}, {}, {4, 5}, 1},
  };
  for (const Case& c : cases) {
    SequenceMap map = MapOf(c.before);
    map.Remove(c.removed);
    ExpectSame(map, c.after, c.name);
    EXPECT_EQ(map.run_count(), c.runs) << c.name;
  }
}

TEST(SequenceMapTest, AppendAfterRemoveJoinsTheLastRun) {
  SequenceMap map = MapOf({1, 2, 3, 4});
  const uint32_t gone[] = {4};
  map.Remove(gone);
  map.Append(5);  // UIDs are never reused: 4 stays a gap
  ExpectSame(map, {1, 2, 3, 5}, "after append");
  EXPECT_EQ(map.run_count(), 2u);
  map.Append(6);
  EXPECT_EQ(map.run_count(), 2u);
}

TEST(SequenceMapTest, AppendUidsReturnsASequenceRangeAcrossRuns) {
  SequenceMap map = MapOf({1, 2, 5, 6, 7, 20});
  std::vector<uint32_t> got;
  map.AppendUids(2, 5, got);
  EXPECT_EQ(got, (std::vector<uint32_t>{2, 5, 6, 7}));
  got.clear();
  map.AppendUids(6, 6, got);
  EXPECT_EQ(got, (std::vector<uint32_t>{20}));
}

TEST(SequenceMapTest, ClearEmptiesTheMap) {
  SequenceMap map = MapOf({1, 3, 5});
  map.Clear();
  ExpectSame(map, {}, "cleared");
  map.Append(9);
  ExpectSame(map, {9}, "reused");
}

// Random appends and removals, checked after each step against a plain
// sorted vector.
TEST(SequenceMapTest, MatchesAPlainListUnderRandomChanges) {
  std::mt19937 rng(42);
  SequenceMap map;
  std::vector<uint32_t> want;
  uint32_t next_uid = 1;
  for (int step = 0; step < 300; ++step) {
    if (want.empty() || rng() % 3 != 0) {
      uint32_t n = 1 + rng() % 20;
      for (uint32_t i = 0; i < n; ++i) {
        next_uid += (rng() % 4 == 0) ? 1 + rng() % 5 : 0;
        map.Append(next_uid);
        want.push_back(next_uid);
        ++next_uid;
      }
    } else {
      std::vector<uint32_t> removed;
      for (uint32_t uid : want) {
        if (rng() % 5 == 0) removed.push_back(uid);
      }
      if (rng() % 2 == 0) removed.push_back(next_uid + 7);  // absent
      map.Remove(removed);
      std::erase_if(want, [&](uint32_t uid) {
        return std::binary_search(removed.begin(), removed.end(), uid);
      });
    }
    if (step % 10 == 0) ExpectSame(map, want, "step " + std::to_string(step));
  }
  ExpectSame(map, want, "final");
}

}  // namespace
}  // namespace corvus::imap
