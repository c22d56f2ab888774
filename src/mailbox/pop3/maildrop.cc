// The POP3 lock registry, the INBOX snapshot and the UPDATE step.
#include "mailbox/pop3/maildrop.h"

#include <algorithm>
#include <utility>

namespace corvus::pop3 {
namespace {

const std::string kSeenFlag = "\\Seen";
const std::string kDeletedFlag = "\\Deleted";

// The UidSet holding exactly `uids`, which must be ascending: consecutive
// UIDs collapse into one range, keeping the store's query short.
UidSet UidSetOfSorted(const std::vector<uint32_t>& uids) {
  UidSet set;
  for (uint32_t uid : uids) {
    if (!set.empty() && set.back().last + 1 == uid) {
      set.back().last = uid;
    } else {
      set.push_back(UidRange{uid, uid});
    }
  }
  return set;
}

}  // namespace

Pop3Lock::Pop3Lock(std::shared_ptr<Pop3LockRegistry> registry,
                   std::string account)
    : registry_(std::move(registry)), account_(std::move(account)) {}

Pop3Lock::Pop3Lock(Pop3Lock&& other) noexcept
    : registry_(std::move(other.registry_)),
      account_(std::move(other.account_)) {
  other.registry_ = nullptr;
}

Pop3Lock::~Pop3Lock() {
  if (registry_) registry_->Unlock(account_);
}

std::shared_ptr<Pop3LockRegistry> Pop3LockRegistry::Shared() {
  static const std::shared_ptr<Pop3LockRegistry> registry =
      std::make_shared<Pop3LockRegistry>();
  return registry;
}

std::optional<Pop3Lock> Pop3LockRegistry::TryLock(std::string_view account_id) {
  std::string key(account_id);
  {
    std::lock_guard lock(mu_);
    if (!locked_.insert(key).second) return std::nullopt;
  }
  return Pop3Lock(shared_from_this(), std::move(key));
}

bool Pop3LockRegistry::IsLocked(std::string_view account_id) {
  std::lock_guard lock(mu_);
  return locked_.contains(std::string(account_id));
}

void Pop3LockRegistry::Unlock(const std::string& account_id) {
  std::lock_guard lock(mu_);
  locked_.erase(account_id);
}

Result<Maildrop> Maildrop::Load(MessageStore& store,
                                std::string_view account_id) {
  auto handle = store.OpenAccount(account_id, /*create=*/true);
  if (!handle) return Fail(handle.error());
  auto folder = (*handle)->GetFolder(kInbox);
  if (!folder) return Fail(folder.error());
  auto listed = (*handle)->ListMessages(kInbox);
  if (!listed) return Fail(listed.error());

  Maildrop drop;
  drop.account_id_ = std::string(account_id);
  drop.uidvalidity_ = folder->uidvalidity;
  drop.messages_.reserve(listed->size());
  for (MessageInfo& info : *listed) {
    MaildropMessage message;
    message.uid = info.uid;
    message.blob = std::move(info.blob);
    message.size = info.size;
    drop.messages_.push_back(std::move(message));
  }
  return drop;
}

MaildropMessage* Maildrop::Find(uint32_t number) {
  if (number == 0 || number > messages_.size()) return nullptr;
  return &messages_[number - 1];
}

size_t Maildrop::LiveCount() const {
  return static_cast<size_t>(
      std::count_if(messages_.begin(), messages_.end(),
                    [](const MaildropMessage& m) { return !m.deleted; }));
}

uint64_t Maildrop::LiveSize() const {
  uint64_t total = 0;
  for (const MaildropMessage& m : messages_) {
    if (!m.deleted) total += m.size;
  }
  return total;
}

void Maildrop::UndeleteAll() {
  for (MaildropMessage& m : messages_) m.deleted = false;
}

std::string Maildrop::UniqueId(const MaildropMessage& message) const {
  return std::to_string(uidvalidity_) + "." + std::to_string(message.uid);
}

Result<std::string> Maildrop::ReadMessage(
    MessageStore& store, const MaildropMessage& message) const {
  return store.blobs().Read(message.blob);
}

Result<UpdateResult> Maildrop::Commit(MessageStore& store) const {
  std::vector<uint32_t> seen;
  std::vector<uint32_t> deleted;
  for (const MaildropMessage& m : messages_) {
    if (m.deleted) {
      deleted.push_back(m.uid);
    } else if (m.retrieved) {
      seen.push_back(m.uid);
    }
  }
  UpdateResult result;
  if (seen.empty() && deleted.empty()) return result;

  auto handle = store.OpenAccount(account_id_, /*create=*/false);
  if (!handle) return Fail(handle.error());
  // If INBOX was recreated since login (a new UIDVALIDITY), our UIDs name
  // other messages now; touching them would delete mail the user never
  // saw.
  auto folder = (*handle)->GetFolder(kInbox);
  if (!folder) return Fail(folder.error());
  if (folder->uidvalidity != uidvalidity_) {
    return Fail(Error{ErrorCode::kTemporary,
                      "INBOX changed UIDVALIDITY during the session",
                      {{"account", account_id_}}});
  }

  if (!seen.empty()) {
    const std::vector<std::string> flags = {kSeenFlag};
    auto stored = (*handle)->StoreFlags(kInbox, UidSetOfSorted(seen),
                                        FlagOp::kAdd, flags);
    if (!stored) return Fail(stored.error());
    result.seen = stored->updated.size();
  }
  if (!deleted.empty()) {
    UidSet set = UidSetOfSorted(deleted);
    const std::vector<std::string> flags = {kDeletedFlag};
    auto stored = (*handle)->StoreFlags(kInbox, set, FlagOp::kAdd, flags);
    if (!stored) return Fail(stored.error());
    auto expunged = (*handle)->Expunge(kInbox, set);
    if (!expunged) return Fail(expunged.error());
    result.expunged = expunged->size();
  }
  return result;
}

}  // namespace corvus::pop3
