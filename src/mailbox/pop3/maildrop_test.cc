// The POP3 lock registry, the INBOX snapshot and UPDATE, against a real
// MessageStore in a temporary folder.
#include "mailbox/pop3/maildrop.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

namespace corvus::pop3 {
namespace {

constexpr std::string_view kAccount = "0123456789abcdef0123456789abcdef";

class MaildropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "pop3-maildrop-XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    auto store = MessageStore::Open(StoreOptions{root_});
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(root_);
  }

  // Delivers `data` to `folder` of kAccount; returns its UID.
  uint32_t Deliver(std::string_view data,
                   std::string folder = std::string(kInbox)) {
    Delivery delivery;
    delivery.data = data;
    Recipient recipient;
    recipient.account_id = std::string(kAccount);
    recipient.folder = std::move(folder);
    delivery.recipients.push_back(recipient);
    auto results = store_->DeliverMessage(delivery);
    EXPECT_TRUE(results.has_value()) << results.error().ToString();
    if (!results) return 0;
    EXPECT_EQ((*results)[0].status, DeliveryStatus::kOk);
    return (*results)[0].uid;
  }

  std::vector<MessageInfo> Inbox() {
    auto handle = store_->OpenAccount(kAccount, false);
    EXPECT_TRUE(handle.has_value());
    if (!handle) return {};
    auto listed = (*handle)->ListMessages(kInbox);
    EXPECT_TRUE(listed.has_value());
    return listed ? *listed : std::vector<MessageInfo>{};
  }

  std::filesystem::path root_;
  std::unique_ptr<MessageStore> store_;
};

TEST_F(MaildropTest, SnapshotsInboxOnlyInUidOrder) {
  uint32_t first = Deliver("A: 1\r\n\r\none\r\n");
  uint32_t second = Deliver("A: 2\r\n\r\ntwo two\r\n");
  Deliver("A: 3\r\n\r\nsent\r\n", "Sent");

  auto drop = Maildrop::Load(*store_, kAccount);
  ASSERT_TRUE(drop.has_value()) << drop.error().ToString();
  ASSERT_EQ(drop->messages().size(), 2u) << "other folders must not show";
  EXPECT_EQ(drop->messages()[0].uid, first);
  EXPECT_EQ(drop->messages()[1].uid, second);
  EXPECT_EQ(drop->LiveSize(), 13u + 17u);
  EXPECT_EQ(drop->UniqueId(drop->messages()[0]),
            std::to_string(drop->uidvalidity()) + "." + std::to_string(first));

  // Later mail is not in this snapshot.
  Deliver("A: 4\r\n\r\nlate\r\n");
  EXPECT_EQ(drop->LiveCount(), 2u);
  auto data = drop->ReadMessage(*store_, drop->messages()[1]);
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(*data, "A: 2\r\n\r\ntwo two\r\n");
}

TEST_F(MaildropTest, NumbersOutOfRangeAreNotFound) {
  Deliver("A: 1\r\n\r\none\r\n");
  auto drop = Maildrop::Load(*store_, kAccount);
  ASSERT_TRUE(drop.has_value());
  EXPECT_EQ(drop->Find(0), nullptr);
  EXPECT_NE(drop->Find(1), nullptr);
  EXPECT_EQ(drop->Find(2), nullptr);
}

TEST_F(MaildropTest, NewAccountHasAnEmptyMaildrop) {
  auto drop = Maildrop::Load(*store_, kAccount);
  ASSERT_TRUE(drop.has_value()) << drop.error().ToString();
  EXPECT_EQ(drop->LiveCount(), 0u);
}

TEST_F(MaildropTest, CommitExpungesDeletedAndMarksRetrievedSeen) {
  uint32_t keep = Deliver("A: 1\r\n\r\none\r\n");
  uint32_t gone = Deliver("A: 2\r\n\r\ntwo\r\n");
  uint32_t untouched = Deliver("A: 3\r\n\r\nthree\r\n");
  auto drop = Maildrop::Load(*store_, kAccount);
  ASSERT_TRUE(drop.has_value());
  drop->Find(1)->retrieved = true;
  drop->Find(2)->retrieved = true;
  drop->Find(2)->deleted = true;

  auto result = drop->Commit(*store_);
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_EQ(result->expunged, 1u);
  EXPECT_EQ(result->seen, 1u);

  auto inbox = Inbox();
  ASSERT_EQ(inbox.size(), 2u);
  EXPECT_EQ(inbox[0].uid, keep);
  EXPECT_EQ(inbox[0].flags, std::vector<std::string>{"\\Seen"});
  EXPECT_EQ(inbox[1].uid, untouched);
  EXPECT_TRUE(inbox[1].flags.empty())
      << "got " << inbox[1].flags.size() << " flags, want none";
  EXPECT_NE(inbox[0].uid, gone);
}

TEST_F(MaildropTest, UndeleteAllKeepsEverything) {
  Deliver("A: 1\r\n\r\none\r\n");
  auto drop = Maildrop::Load(*store_, kAccount);
  ASSERT_TRUE(drop.has_value());
  drop->Find(1)->deleted = true;
  EXPECT_EQ(drop->LiveCount(), 0u);
  drop->UndeleteAll();
  EXPECT_EQ(drop->LiveCount(), 1u);
  ASSERT_TRUE(drop->Commit(*store_).has_value());
  EXPECT_EQ(Inbox().size(), 1u);
}

TEST_F(MaildropTest, CommitSkipsMessagesExpungedElsewhere) {
  uint32_t uid = Deliver("A: 1\r\n\r\none\r\n");
  auto drop = Maildrop::Load(*store_, kAccount);
  ASSERT_TRUE(drop.has_value());
  {
    // Another client (IMAP) removes it meanwhile.
    auto handle = store_->OpenAccount(kAccount, false);
    ASSERT_TRUE(handle.has_value());
    const std::vector<std::string> flags = {"\\Deleted"};
    ASSERT_TRUE((*handle)
                    ->StoreFlags(kInbox, UidSetOf({uid}), FlagOp::kAdd, flags)
                    .has_value());
    ASSERT_TRUE((*handle)->Expunge(kInbox).has_value());
  }
  drop->Find(1)->deleted = true;
  auto result = drop->Commit(*store_);
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_EQ(result->expunged, 0u);
}

TEST(Pop3LockRegistryTest, SecondLockOfAnAccountIsRefusedUntilReleased) {
  auto registry = std::make_shared<Pop3LockRegistry>();
  {
    auto first = registry->TryLock("acct-a");
    ASSERT_TRUE(first.has_value());
    EXPECT_FALSE(registry->TryLock("acct-a").has_value())
        << "got a second lock of the same account, want none";
    auto other = registry->TryLock("acct-b");
    EXPECT_TRUE(other.has_value()) << "other accounts must not be blocked";
    std::optional<Pop3Lock> moved(std::move(*first));
    first.reset();
    EXPECT_TRUE(registry->IsLocked("acct-a"))
        << "moving a lock must not release it";
  }
  EXPECT_FALSE(registry->IsLocked("acct-a"));
  EXPECT_TRUE(registry->TryLock("acct-a").has_value());
}

}  // namespace
}  // namespace corvus::pop3
