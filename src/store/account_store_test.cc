#include "store/account_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store/blob_store.h"

namespace corvus {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class AccountStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("corvus-account-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    account_.reset();
    fs::remove_all(dir_);
  }

  void Reopen() {
    account_.reset();
    auto opened = AccountStore::Open(dir_ / "ab" / "abcdef.db", true);
    ASSERT_TRUE(opened) << opened.error().ToString();
    account_ = std::move(*opened);
  }

  static NewMessage Message(std::string folder, std::string body,
                            std::vector<std::string> flags = {}) {
    NewMessage m;
    m.folder = std::move(folder);
    m.blob = Sha256Hex(body);
    m.size = body.size();
    m.internal_date = 1700000000;
    m.flags = std::move(flags);
    m.envelope = "(envelope " + body + ")";
    m.body_structure = "(\"text\" \"plain\")";
    return m;
  }

  // Appends one message and returns its UID (fails the test otherwise).
  uint32_t AppendOne(const std::string& folder, const std::string& body,
                     std::vector<std::string> flags = {}) {
    NewMessage m = Message(folder, body, std::move(flags));
    auto results = account_->Append(std::span(&m, 1), 0);
    EXPECT_TRUE(results) << results.error().ToString();
    if (!results) return 0;
    EXPECT_EQ((*results)[0].status, AppendStatus::kOk);
    return (*results)[0].uid;
  }

  std::vector<uint32_t> Uids(const std::string& folder) {
    auto list = account_->ListMessages(folder);
    EXPECT_TRUE(list) << list.error().ToString();
    std::vector<uint32_t> out;
    if (list) {
      for (const auto& m : *list) out.push_back(m.uid);
    }
    return out;
  }

  // The cached headers of `folder` as (uid, header) pairs.
  std::vector<std::pair<uint32_t, std::string>> Headers(
      const std::string& folder, const UidSet& uids = AllUids()) {
    auto headers = account_->ListHeaders(folder, uids);
    EXPECT_TRUE(headers) << headers.error().ToString();
    std::vector<std::pair<uint32_t, std::string>> out;
    if (headers) {
      for (auto& h : *headers) out.emplace_back(h.uid, std::move(h.header));
    }
    return out;
  }

  // Runs `sql` on the account's database behind the store's back, with
  // the store closed (to stage what an older version left on disk).
  void RawSql(const std::string& sql) {
    account_.reset();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "ab" / "abcdef.db").c_str(), &db),
              SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }

  // Rows in the header cache, all folders together, read through a
  // connection of its own.
  int64_t HeaderRows() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2((dir_ / "ab" / "abcdef.db").c_str(), &db,
                              SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM message_headers", -1, &stmt,
                       nullptr);
    int64_t rows = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW) rows = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return rows;
  }

  std::vector<JournalEntry> Journal() {
    auto entries = account_->ReadJournal(0, 100000);
    EXPECT_TRUE(entries);
    return entries ? *entries : std::vector<JournalEntry>{};
  }

  fs::path dir_;
  std::unique_ptr<AccountStore> account_;
};

TEST_F(AccountStoreTest, NewAccountHasSpecialUseFolders) {
  auto folders = account_->ListFolders();
  ASSERT_TRUE(folders);
  std::map<std::string, std::string> got;
  for (const auto& f : *folders) {
    got[f.name] = f.role;
    EXPECT_EQ(f.uidnext, 1u) << f.name;
    EXPECT_GT(f.uidvalidity, 0u) << f.name;
    EXPECT_TRUE(f.subscribed) << f.name;
  }
  std::map<std::string, std::string> want = {
      {"INBOX", ""},        {"Sent", "\\Sent"}, {"Drafts", "\\Drafts"},
      {"Trash", "\\Trash"}, {"Junk", "\\Junk"}, {"Archive", "\\Archive"}};
  EXPECT_EQ(got, want);

  // Every default folder was journaled, so replay from empty recreates it.
  auto journal = Journal();
  ASSERT_EQ(journal.size(), 6u);
  for (const auto& e : journal) EXPECT_EQ(e.kind, "folder_create");
}

TEST_F(AccountStoreTest, AppendAssignsAscendingUidsAndModseqs) {
  std::vector<NewMessage> batch = {Message("INBOX", "one"),
                                   Message("inbox", "two", {"\\seen"}),
                                   Message("Sent", "three")};
  auto results = account_->Append(batch, 0);
  ASSERT_TRUE(results) << results.error().ToString();
  ASSERT_EQ(results->size(), 3u);
  EXPECT_EQ((*results)[0].uid, 1u);
  EXPECT_EQ((*results)[1].uid, 2u);
  EXPECT_EQ((*results)[2].uid, 1u) << "Sent numbers its own UIDs";
  EXPECT_LT((*results)[0].modseq, (*results)[1].modseq);
  EXPECT_LT((*results)[1].modseq, (*results)[2].modseq);

  auto status = account_->Select("INBOX");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->messages, 2u);
  EXPECT_EQ(status->unseen, 1u);
  EXPECT_EQ(status->folder.uidnext, 3u);
  EXPECT_EQ(status->folder.highestmodseq, (*results)[1].modseq);

  auto list = account_->ListMessages("INBOX", AllUids(), true);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].flags, std::vector<std::string>{"\\Seen"});
  EXPECT_EQ((*list)[1].blob, Sha256Hex("two"));
  EXPECT_EQ((*list)[1].envelope, "(envelope two)");
  EXPECT_EQ((*list)[1].internal_date, 1700000000);

  auto usage = account_->Usage();
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage->bytes, 3u + 3u + 5u);
  EXPECT_EQ(usage->messages, 3u);
}

TEST_F(AccountStoreTest, AppendRefusesMissingFolderAloneAndBadFlagsWhole) {
  std::vector<NewMessage> batch = {Message("INBOX", "a"),
                                   Message("Nowhere", "b")};
  auto results = account_->Append(batch, 0);
  ASSERT_TRUE(results);
  EXPECT_EQ((*results)[0].status, AppendStatus::kOk);
  EXPECT_EQ((*results)[1].status, AppendStatus::kNoSuchFolder);

  auto seq = account_->LastJournalSeq();
  ASSERT_TRUE(seq);
  std::vector<NewMessage> bad = {Message("INBOX", "c"),
                                 Message("INBOX", "d", {"bad flag"})};
  auto refused = account_->Append(bad, 0);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalid);
  EXPECT_EQ(Uids("INBOX"), std::vector<uint32_t>{1}) << "bad batch changed";
  auto seq_after = account_->LastJournalSeq();
  ASSERT_TRUE(seq_after);
  EXPECT_EQ(*seq_after, *seq);
}

TEST(NormalizeFlagsTest, CanonicalisesAndRejects) {
  struct Case {
    std::string name;
    std::vector<std::string> input;
    bool ok;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"system flags get canonical case",
       {"\\SEEN", "\\flagged"},
       true,
       {"\\Flagged", "\\Seen"}},
      {"duplicates collapse",
       {"$Junk", "$Junk", "\\Seen", "\\seen"},
       true,
       {"$Junk", "\\Seen"}},
      {"recent is never stored", {"\\Recent", "x"}, true, {"x"}},
      {"unknown system flag", {"\\Bogus"}, false, {}},
      {"space in keyword", {"a b"}, false, {}},
      {"bracket in keyword", {"a]"}, false, {}},
      {"empty flag", {""}, false, {}},
      {"non-ascii keyword", {"caf\xc3\xa9"}, false, {}},
  };
  for (const Case& c : cases) {
    auto got = NormalizeFlags(c.input);
    ASSERT_EQ(got.has_value(), c.ok) << c.name;
    if (c.ok) {
      EXPECT_EQ(*got, c.want) << c.name;
    }
  }
}

TEST_F(AccountStoreTest, StoreFlagsChangesModseqOnlyOnRealChange) {
  uint32_t a = AppendOne("INBOX", "a");
  uint32_t b = AppendOne("INBOX", "b", {"\\Seen"});
  auto before = account_->ListMessages("INBOX");
  ASSERT_TRUE(before);

  std::vector<std::string> seen = {"\\Seen"};
  auto result =
      account_->StoreFlags("INBOX", UidSetOf({a, b}), FlagOp::kAdd, seen);
  ASSERT_TRUE(result) << result.error().ToString();
  ASSERT_EQ(result->updated.size(), 1u) << "b already had \\Seen";
  EXPECT_EQ(result->updated[0].uid, a);
  EXPECT_GT(result->updated[0].modseq, (*before)[1].modseq);

  auto after = account_->ListMessages("INBOX");
  ASSERT_TRUE(after);
  EXPECT_EQ((*after)[1].modseq, (*before)[1].modseq) << "b was touched";
  auto status = account_->Select("INBOX");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->folder.highestmodseq, result->updated[0].modseq);
  EXPECT_EQ(status->unseen, 0u);

  // A no-op STORE writes nothing, not even a journal record.
  auto seq = account_->LastJournalSeq();
  auto noop = account_->StoreFlags("INBOX", AllUids(), FlagOp::kAdd, seen);
  ASSERT_TRUE(noop);
  EXPECT_TRUE(noop->updated.empty());
  EXPECT_EQ(*account_->LastJournalSeq(), *seq);

  struct Case {
    std::string name;
    FlagOp op;
    std::vector<std::string> flags;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"add keyword", FlagOp::kAdd, {"$Work"}, {"$Work", "\\Seen"}},
      {"remove system flag", FlagOp::kRemove, {"\\Seen"}, {"$Work"}},
      {"replace all",
       FlagOp::kReplace,
       {"\\Deleted", "\\Answered"},
       {"\\Answered", "\\Deleted"}},
      {"replace with nothing", FlagOp::kReplace, {}, {}},
  };
  for (const Case& c : cases) {
    auto r = account_->StoreFlags("INBOX", UidSetOf({a}), c.op, c.flags);
    ASSERT_TRUE(r) << c.name;
    auto list = account_->ListMessages("INBOX", UidSetOf({a}));
    ASSERT_TRUE(list && list->size() == 1) << c.name;
    EXPECT_EQ((*list)[0].flags, c.want) << c.name;
  }
}

TEST_F(AccountStoreTest, UnchangedSinceSkipsNewerMessages) {
  uint32_t a = AppendOne("INBOX", "a");
  auto list = account_->ListMessages("INBOX");
  uint64_t old_modseq = (*list)[0].modseq;
  uint32_t b = AppendOne("INBOX", "b");

  std::vector<std::string> flagged = {"\\Flagged"};
  auto r = account_->StoreFlags("INBOX", AllUids(), FlagOp::kAdd, flagged,
                                old_modseq);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->updated.size(), 1u);
  EXPECT_EQ(r->updated[0].uid, a);
  EXPECT_EQ(r->modified, std::vector<uint32_t>{b});
}

TEST_F(AccountStoreTest, ExpungeRemovesOnlyDeletedAndRecordsVanished) {
  uint32_t a = AppendOne("INBOX", "a", {"\\Deleted"});
  uint32_t b = AppendOne("INBOX", "b");
  uint32_t c = AppendOne("INBOX", "c", {"\\Deleted"});
  uint64_t mark = *account_->CurrentModseq();

  auto gone = account_->Expunge("INBOX", UidSetOf({a, b}));
  ASSERT_TRUE(gone);
  EXPECT_EQ(*gone, std::vector<uint32_t>{a}) << "c was outside the set";
  EXPECT_EQ(Uids("INBOX"), (std::vector<uint32_t>{b, c}));

  auto all = account_->Expunge("INBOX");
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, std::vector<uint32_t>{c});

  auto changes = account_->ChangesSince("INBOX", mark);
  ASSERT_TRUE(changes);
  EXPECT_TRUE(changes->changed.empty());
  EXPECT_EQ(changes->vanished, (std::vector<uint32_t>{a, c}));

  auto usage = account_->Usage();
  EXPECT_EQ(usage->messages, 1u);
  EXPECT_EQ(usage->bytes, 1u);
  EXPECT_EQ(account_->Select("INBOX")->folder.highestmodseq,
            *account_->CurrentModseq());
}

TEST_F(AccountStoreTest, ChangesSinceListsChangedMessages) {
  uint32_t a = AppendOne("INBOX", "a");
  AppendOne("INBOX", "b");  // untouched after the mark
  uint64_t mark = *account_->CurrentModseq();
  std::vector<std::string> seen = {"\\Seen"};
  ASSERT_TRUE(account_->StoreFlags("INBOX", UidSetOf({a}), FlagOp::kAdd, seen));
  uint32_t c = AppendOne("INBOX", "c");

  auto changes = account_->ChangesSince("INBOX", mark);
  ASSERT_TRUE(changes);
  std::vector<uint32_t> got;
  for (const auto& m : changes->changed) got.push_back(m.uid);
  EXPECT_EQ(got, (std::vector<uint32_t>{a, c}));
}

TEST_F(AccountStoreTest, SummarizeFolderGivesUidRunsFirstUnseenAndKeywords) {
  AppendOne("INBOX", "1", {"\\Seen", "zeta"});
  uint32_t two = AppendOne("INBOX", "2", {"\\Seen"});
  uint32_t three = AppendOne("INBOX", "3", {"\\Deleted", "\\Seen"});
  uint32_t four = AppendOne("INBOX", "4", {"$Label1", "\\Flagged"});
  AppendOne("INBOX", "5", {"zeta"});
  AppendOne("Sent", "other folder", {"elsewhere"});
  ASSERT_TRUE(account_->Expunge("INBOX", UidSetOf({three})));
  std::vector<std::string> deleted = {"\\Deleted"};
  ASSERT_TRUE(
      account_->StoreFlags("INBOX", UidSetOf({two}), FlagOp::kAdd, deleted));

  auto summary = account_->SummarizeFolder("INBOX");
  ASSERT_TRUE(summary) << summary.error().ToString();
  ASSERT_EQ(summary->uids.size(), 2u) << "3 was expunged";
  EXPECT_EQ(summary->uids[0].first, 1u);
  EXPECT_EQ(summary->uids[0].last, two);
  EXPECT_EQ(summary->uids[1].first, four);
  EXPECT_EQ(summary->uids[1].last, four + 1);
  EXPECT_EQ(summary->first_unseen_uid, four);
  EXPECT_EQ(summary->keywords, (std::vector<std::string>{"$Label1", "zeta"}));

  auto empty = account_->SummarizeFolder("Drafts");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->uids.empty());
  EXPECT_EQ(empty->first_unseen_uid, 0u);
  EXPECT_TRUE(empty->keywords.empty());
  auto missing = account_->SummarizeFolder("Nowhere");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(AccountStoreTest, CopyAndMoveKeepBlobsAndFlags) {
  uint32_t a = AppendOne("INBOX", "a", {"\\Seen"});
  uint32_t b = AppendOne("INBOX", "b");

  auto copied = account_->Copy("INBOX", AllUids(), "Archive", 0);
  ASSERT_TRUE(copied) << copied.error().ToString();
  auto archive = account_->GetFolder("Archive");
  EXPECT_EQ(copied->dest_uidvalidity, archive->uidvalidity);
  EXPECT_EQ(copied->uids,
            (std::vector<std::pair<uint32_t, uint32_t>>{{a, 1}, {b, 2}}));
  auto list = account_->ListMessages("Archive", AllUids(), true);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].blob, Sha256Hex("a"));
  EXPECT_EQ((*list)[0].flags, std::vector<std::string>{"\\Seen"});
  EXPECT_EQ((*list)[0].envelope, "(envelope a)");
  EXPECT_EQ(account_->Usage()->messages, 4u) << "copies count toward quota";

  auto moved = account_->Move("INBOX", UidSetOf({b}), "Trash");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->uids, (std::vector<std::pair<uint32_t, uint32_t>>{{b, 1}}));
  EXPECT_EQ(Uids("INBOX"), std::vector<uint32_t>{a});
  EXPECT_EQ(Uids("Trash"), std::vector<uint32_t>{1});
  EXPECT_EQ(account_->Usage()->messages, 4u) << "move keeps usage";
  auto changes = account_->ChangesSince("INBOX", 0);
  EXPECT_EQ(changes->vanished, std::vector<uint32_t>{b});

  // Moving within one folder renumbers and still advances UIDNEXT.
  auto same = account_->Move("Trash", AllUids(), "Trash");
  ASSERT_TRUE(same);
  EXPECT_EQ(Uids("Trash"), std::vector<uint32_t>{2});
  EXPECT_EQ(account_->GetFolder("Trash")->uidnext, 3u);

  auto none = account_->Copy("INBOX", UidSetOf({99}), "Archive", 0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->uids.empty());
  auto missing = account_->Move("INBOX", AllUids(), "Nowhere");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(AccountStoreTest, QuotaRefusesWhatWouldNotFit) {
  // Quota of 10 bytes: "12345" fits, "678901" would make 11.
  std::vector<NewMessage> batch = {Message("INBOX", "12345"),
                                   Message("INBOX", "678901"),
                                   Message("INBOX", "abcde")};
  auto results = account_->Append(batch, 10);
  ASSERT_TRUE(results);
  EXPECT_EQ((*results)[0].status, AppendStatus::kOk);
  EXPECT_EQ((*results)[1].status, AppendStatus::kOverQuota);
  EXPECT_EQ((*results)[2].status, AppendStatus::kOk) << "exactly at quota";
  EXPECT_EQ(account_->Usage()->bytes, 10u);
  EXPECT_FALSE(*account_->QuotaAllows(10, 1));
  EXPECT_TRUE(*account_->QuotaAllows(0, 1000)) << "0 means unlimited";

  uint64_t seq = *account_->LastJournalSeq();
  auto copy = account_->Copy("INBOX", AllUids(), "Archive", 10);
  ASSERT_FALSE(copy);
  EXPECT_TRUE(IsOverQuota(copy.error())) << copy.error().ToString();
  EXPECT_TRUE(Uids("Archive").empty()) << "refused copy changed something";
  EXPECT_EQ(*account_->LastJournalSeq(), seq) << "refused copy journaled";

  // Expunging frees room again.
  std::vector<std::string> deleted = {"\\Deleted"};
  ASSERT_TRUE(account_->StoreFlags("INBOX", AllUids(), FlagOp::kAdd, deleted));
  ASSERT_TRUE(account_->Expunge("INBOX"));
  EXPECT_EQ(account_->Usage()->bytes, 0u);
  EXPECT_TRUE(*account_->QuotaAllows(10, 10));
}

TEST_F(AccountStoreTest, FolderCreateRenameDelete) {
  auto created = account_->CreateFolder("Work");
  ASSERT_TRUE(created);
  ASSERT_TRUE(account_->CreateFolder("Work/2024"));
  auto dup = account_->CreateFolder("Work");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kExists);
  auto inbox_dup = account_->CreateFolder("inbox");
  ASSERT_FALSE(inbox_dup);
  EXPECT_EQ(inbox_dup.error().code, ErrorCode::kExists);

  for (std::string bad : {"", "/a", "a/", "a//b", "a*", "a%b", "a\tb"}) {
    auto r = account_->CreateFolder(bad);
    ASSERT_FALSE(r) << "name=" << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalid) << "name=" << bad;
  }

  uint32_t uid = AppendOne("Work/2024", "w");
  // RFC 3501 section 6.3.5: inferiors are renamed with their parent.
  ASSERT_TRUE(account_->RenameFolder("Work", "Job"));
  EXPECT_FALSE(account_->GetFolder("Work"));
  auto job = account_->GetFolder("Job");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->uidvalidity, created->uidvalidity);
  EXPECT_EQ(Uids("Job/2024"), std::vector<uint32_t>{uid});

  auto clash = account_->RenameFolder("Job", "Sent");
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code, ErrorCode::kExists);
  EXPECT_EQ(account_->RenameFolder("Job", "Job/sub").error().code,
            ErrorCode::kInvalid);

  ASSERT_TRUE(account_->DeleteFolder("Job/2024"));
  EXPECT_EQ(account_->Usage()->messages, 0u);
  EXPECT_EQ(account_->DeleteFolder("Job/2024").error().code,
            ErrorCode::kNotFound);
  // RFC 3501 section 6.3.4: INBOX cannot be deleted.
  EXPECT_EQ(account_->DeleteFolder("inbox").error().code, ErrorCode::kInvalid);

  // A re-created name gets a new UIDVALIDITY.
  auto again = account_->CreateFolder("Job/2024");
  ASSERT_TRUE(again);
  EXPECT_GT(again->uidvalidity, created->uidvalidity);

  ASSERT_TRUE(account_->SetSubscribed("Job", false));
  EXPECT_FALSE(account_->GetFolder("Job")->subscribed);
}

TEST_F(AccountStoreTest, RenamingInboxMovesMessagesAndKeepsInbox) {
  uint32_t a = AppendOne("INBOX", "a", {"\\Seen"});
  AppendOne("INBOX", "b");
  auto inbox_before = account_->GetFolder("INBOX");

  ASSERT_TRUE(account_->RenameFolder("inbox", "Old Mail"));
  auto inbox = account_->Select("INBOX");
  ASSERT_TRUE(inbox) << "INBOX must stay";
  EXPECT_EQ(inbox->messages, 0u);
  EXPECT_EQ(inbox->folder.uidvalidity, inbox_before->uidvalidity);
  EXPECT_EQ(inbox->folder.uidnext, 3u) << "UIDs are never reused";

  auto old = account_->ListMessages("Old Mail");
  ASSERT_TRUE(old);
  ASSERT_EQ(old->size(), 2u);
  EXPECT_EQ((*old)[0].blob, Sha256Hex("a"));
  EXPECT_EQ((*old)[0].flags, std::vector<std::string>{"\\Seen"});
  EXPECT_EQ(account_->ChangesSince("INBOX", 0)->vanished,
            (std::vector<uint32_t>{a, a + 1}));
  EXPECT_EQ(account_->Usage()->messages, 2u);
}

TEST_F(AccountStoreTest, JournalRecordsEveryChangeContiguously) {
  uint64_t start = *account_->LastJournalSeq();
  uint32_t a = AppendOne("INBOX", "a");
  std::vector<std::string> del = {"\\Deleted"};
  ASSERT_TRUE(account_->StoreFlags("INBOX", UidSetOf({a}), FlagOp::kAdd, del));
  ASSERT_TRUE(account_->Copy("INBOX", AllUids(), "Archive", 0));
  ASSERT_TRUE(account_->Move("Archive", AllUids(), "Trash"));
  ASSERT_TRUE(account_->Expunge("INBOX"));
  ASSERT_TRUE(account_->CreateFolder("X"));
  ASSERT_TRUE(account_->RenameFolder("X", "Y"));
  ASSERT_TRUE(account_->SetSubscribed("Y", false));
  ASSERT_TRUE(account_->DeleteFolder("Y"));

  auto entries = account_->ReadJournal(start, 1000);
  ASSERT_TRUE(entries);
  std::vector<std::string> kinds;
  uint64_t want_seq = start + 1;
  uint64_t last_modseq = 0;
  for (const auto& e : *entries) {
    EXPECT_EQ(e.seq, want_seq++) << "journal has a gap";
    EXPECT_GT(e.modseq, last_modseq) << "modseq went backwards at " << e.seq;
    last_modseq = e.modseq;
    EXPECT_TRUE(json::accept(e.data)) << e.data;
    kinds.push_back(e.kind);
  }
  EXPECT_EQ(kinds,
            (std::vector<std::string>{
                "append", "flags", "copy", "move", "expunge", "folder_create",
                "folder_rename", "subscribe", "folder_delete"}));
  EXPECT_EQ(*account_->LastJournalSeq(), want_seq - 1);

  // The append record alone is enough to rebuild the message row.
  json append = json::parse((*entries)[0].data);
  EXPECT_EQ(append["folder"], "INBOX");
  EXPECT_EQ(append["uid"], a);
  EXPECT_EQ(append["blob"], Sha256Hex("a"));
  EXPECT_EQ(append["size"], 1);
  EXPECT_EQ(append["internal_date"], 1700000000);
  EXPECT_EQ(append["envelope"], "(envelope a)");
  json flags = json::parse((*entries)[1].data);
  EXPECT_EQ(flags["changes"][0]["flags"][0], "\\Deleted");

  // Paging: a limit and a start point.
  auto page = account_->ReadJournal(start + 2, 3);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].seq, start + 3);
}

TEST_F(AccountStoreTest, ReopenKeepsEverything) {
  uint32_t a = AppendOne("INBOX", "a", {"$Label"});
  ASSERT_TRUE(account_->CreateFolder("Kept"));
  uint64_t modseq = *account_->CurrentModseq();
  uint64_t seq = *account_->LastJournalSeq();
  auto inbox = *account_->GetFolder("INBOX");

  Reopen();
  EXPECT_EQ(*account_->CurrentModseq(), modseq);
  EXPECT_EQ(*account_->LastJournalSeq(), seq);
  auto reopened = account_->GetFolder("INBOX");
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->uidvalidity, inbox.uidvalidity);
  EXPECT_EQ(reopened->uidnext, inbox.uidnext);
  EXPECT_TRUE(account_->GetFolder("Kept"));
  auto list = account_->ListMessages("INBOX");
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].uid, a);
  EXPECT_EQ((*list)[0].flags, std::vector<std::string>{"$Label"});
  EXPECT_EQ(account_->Usage()->messages, 1u);
  EXPECT_EQ(account_->ListFolders()->size(), 7u) << "defaults re-added?";

  // Counters continue where they were.
  uint32_t b = AppendOne("INBOX", "b");
  EXPECT_EQ(b, a + 1);
  EXPECT_EQ(*account_->LastJournalSeq(), seq + 1);
}

TEST_F(AccountStoreTest, OpenWithoutCreateReportsMissingAccount) {
  auto missing = AccountStore::Open(dir_ / "zz" / "zzzz.db", false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(fs::exists(dir_ / "zz" / "zzzz.db"));
}

TEST_F(AccountStoreTest, UidSetsMayOverlapAndRunBackwards) {
  for (int i = 0; i < 6; ++i) AppendOne("INBOX", "m" + std::to_string(i));
  auto list = account_->ListMessages("INBOX", UidSet{{5, 3}, {4, 6}, {1, 1}});
  ASSERT_TRUE(list);
  std::vector<uint32_t> got;
  for (const auto& m : *list) got.push_back(m.uid);
  EXPECT_EQ(got, (std::vector<uint32_t>{1, 3, 4, 5, 6}));
}

using HeaderList = std::vector<std::pair<uint32_t, std::string>>;

TEST_F(AccountStoreTest, HeaderCacheFollowsItsMessages) {
  NewMessage with = Message("INBOX", "one");
  with.header = "Subject: one\r\n\r\n";
  NewMessage without = Message("INBOX", "two");
  NewMessage eight_bit = Message("INBOX", "three");
  eight_bit.header = std::string("Subject: \xff\0\xe9\r\n\r\n", 17);
  std::vector<NewMessage> batch = {with, without, eight_bit};
  ASSERT_TRUE(account_->Append(batch, 0));

  EXPECT_EQ(Headers("INBOX"),
            (HeaderList{{1, with.header}, {3, eight_bit.header}}))
      << "a message appended without a header has none cached";
  EXPECT_EQ(Headers("INBOX", UidSetOf({2, 3})),
            (HeaderList{{3, eight_bit.header}}));
  EXPECT_TRUE(Headers("Sent").empty());

  // Copies and moves take the cached header along; the source keeps
  // (copy) or loses (move) its own.
  ASSERT_TRUE(account_->Copy("INBOX", UidSetOf({1}), "Archive", 0));
  EXPECT_EQ(Headers("Archive"), (HeaderList{{1, with.header}}));
  ASSERT_TRUE(account_->Move("INBOX", UidSetOf({3}), "Trash"));
  EXPECT_EQ(Headers("Trash"), (HeaderList{{1, eight_bit.header}}));
  EXPECT_EQ(Headers("INBOX"), (HeaderList{{1, with.header}}));
  ASSERT_TRUE(account_->Move("Trash", AllUids(), "Trash"));
  EXPECT_EQ(Headers("Trash"), (HeaderList{{2, eight_bit.header}}))
      << "a move within one folder renumbers the cached header";

  // Expunge and folder deletion drop them.
  const std::string deleted[] = {"\\Deleted"};
  ASSERT_TRUE(account_->StoreFlags("INBOX", AllUids(), FlagOp::kAdd, deleted));
  ASSERT_TRUE(account_->Expunge("INBOX"));
  EXPECT_TRUE(Headers("INBOX").empty());
  EXPECT_EQ(HeaderRows(), 2) << "Archive's and Trash's";
  ASSERT_TRUE(account_->DeleteFolder("Archive"));
  EXPECT_EQ(HeaderRows(), 1) << "Trash's";

  auto missing = account_->ListHeaders("Nowhere");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(AccountStoreTest, CacheHeadersFillsOnlyWhatIsMissing) {
  NewMessage cached = Message("INBOX", "one");
  cached.header = "Subject: one\r\n\r\n";
  std::vector<NewMessage> batch = {cached, Message("INBOX", "two"),
                                   Message("INBOX", "three")};
  ASSERT_TRUE(account_->Append(batch, 0));
  const std::string deleted[] = {"\\Deleted"};
  ASSERT_TRUE(
      account_->StoreFlags("INBOX", UidSetOf({3}), FlagOp::kAdd, deleted));
  ASSERT_TRUE(account_->Expunge("INBOX"));

  const CachedHeader fill[] = {{1, "Subject: replaced?\r\n\r\n"},
                               {2, "Subject: two\r\n\r\n"},
                               {3, "Subject: expunged\r\n\r\n"},
                               {9, "Subject: never was\r\n\r\n"}};
  ASSERT_TRUE(account_->CacheHeaders("INBOX", fill));
  EXPECT_EQ(Headers("INBOX"),
            (HeaderList{{1, cached.header}, {2, "Subject: two\r\n\r\n"}}));
  EXPECT_EQ(HeaderRows(), 2) << "rows for UIDs that do not exist";

  // Still a durable store afterwards: the next change commits as usual.
  AppendOne("INBOX", "four");
  Reopen();
  EXPECT_EQ(Headers("INBOX").size(), 2u);
  EXPECT_FALSE(account_->CacheHeaders("Nowhere", fill));
}

TEST_F(AccountStoreTest, SummariesAreTheListingWithoutBlobAndCache) {
  AppendOne("INBOX", "one", {"\\Seen", "$Label"});
  AppendOne("INBOX", "two");
  AppendOne("INBOX", "three", {"\\Flagged"});
  const std::string seen[] = {"\\Seen"};
  ASSERT_TRUE(account_->StoreFlags("INBOX", UidSetOf({2}), FlagOp::kAdd, seen));

  for (const UidSet& uids : {AllUids(), UidSet{{3, 2}}, UidSetOf({9})}) {
    auto full = account_->ListMessages("INBOX", uids, /*with_cache=*/true);
    auto summaries = account_->ListSummaries("INBOX", uids);
    ASSERT_TRUE(full && summaries);
    ASSERT_EQ(summaries->size(), full->size());
    for (size_t i = 0; i < full->size(); ++i) {
      const MessageInfo& want = (*full)[i];
      const MessageInfo& got = (*summaries)[i];
      EXPECT_EQ(got.uid, want.uid);
      EXPECT_EQ(got.flags, want.flags) << "uid " << want.uid;
      EXPECT_EQ(got.modseq, want.modseq) << "uid " << want.uid;
      EXPECT_EQ(got.size, want.size) << "uid " << want.uid;
      EXPECT_EQ(got.internal_date, want.internal_date) << "uid " << want.uid;
      EXPECT_TRUE(got.blob.empty() && got.envelope.empty() &&
                  got.body_structure.empty());
    }
  }
  auto missing = account_->ListSummaries("Nowhere");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(AccountStoreTest, SchemaOneIsMigratedKeepingItsMessages) {
  uint32_t old_uid = AppendOne("INBOX", "before");
  // Schema 1 is schema 2 without the header cache and summary index.
  RawSql(
      "DROP TABLE message_headers; DROP INDEX messages_summary; "
      "PRAGMA user_version = 1;");

  Reopen();
  EXPECT_EQ(Uids("INBOX"), std::vector<uint32_t>{old_uid});
  auto summaries = account_->ListSummaries("INBOX");
  ASSERT_TRUE(summaries) << summaries.error().ToString();
  ASSERT_EQ(summaries->size(), 1u);
  EXPECT_TRUE(Headers("INBOX").empty()) << "old messages have no cache";
  NewMessage m = Message("INBOX", "after");
  m.header = "Subject: after\r\n\r\n";
  auto appended = account_->Append(std::span(&m, 1), 0);
  ASSERT_TRUE(appended) << appended.error().ToString();
  EXPECT_EQ(Headers("INBOX"), (HeaderList{{(*appended)[0].uid, m.header}}));

  // Migrated once: the next open finds schema 2 as it is.
  Reopen();
  EXPECT_EQ(Headers("INBOX").size(), 1u);
}

TEST_F(AccountStoreTest, RefusesASchemaFromTheFuture) {
  RawSql("PRAGMA user_version = 99;");
  auto opened = AccountStore::Open(dir_ / "ab" / "abcdef.db", true);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::kCorruption);
}

}  // namespace
}  // namespace corvus
