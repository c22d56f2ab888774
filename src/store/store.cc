#include "store/store.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>

namespace corvus {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxAccountIdLength = 128;

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

RecipientResult ErrorResult(Error error) {
  RecipientResult r;
  r.status = DeliveryStatus::kError;
  r.error = std::move(error);
  return r;
}

}  // namespace

// --- BlobPins -----------------------------------------------------------

void BlobPins::Pin(const std::string& hash) {
  std::lock_guard lock(mu_);
  ++pinned_[hash];
  if (scanning_) touched_.insert(hash);
}

void BlobPins::Unpin(const std::string& hash) {
  std::lock_guard lock(mu_);
  auto it = pinned_.find(hash);
  if (it == pinned_.end()) return;
  if (--it->second == 0) pinned_.erase(it);
}

bool BlobPins::IsPinned(const std::string& hash) {
  std::lock_guard lock(mu_);
  return pinned_.contains(hash);
}

Status BlobPins::BeginScan() {
  std::lock_guard lock(mu_);
  if (scanning_) return Fail(ErrorCode::kTemporary, "a scan is running");
  scanning_ = true;
  touched_.clear();
  for (const auto& [hash, count] : pinned_) touched_.insert(hash);
  return {};
}

size_t BlobPins::FinishScan(
    std::span<const std::string> candidates,
    const std::function<bool(const std::string&)>& remove) {
  std::lock_guard lock(mu_);
  size_t removed = 0;
  for (const std::string& hash : candidates) {
    if (touched_.contains(hash) || pinned_.contains(hash)) continue;
    if (remove(hash)) ++removed;
  }
  scanning_ = false;
  touched_.clear();
  return removed;
}

void BlobPins::AbortScan() {
  std::lock_guard lock(mu_);
  scanning_ = false;
  touched_.clear();
}

BlobPin::BlobPin(BlobPins& pins, std::string hash)
    : pins_(&pins), hash_(std::move(hash)) {
  pins_->Pin(hash_);
}

BlobPin::BlobPin(BlobPin&& other) noexcept
    : pins_(std::exchange(other.pins_, nullptr)),
      hash_(std::move(other.hash_)) {}

BlobPin::~BlobPin() {
  if (pins_ != nullptr) pins_->Unpin(hash_);
}

// --- MessageStore -------------------------------------------------------

bool IsValidAccountId(std::string_view id) {
  if (id.size() < 2 || id.size() > kMaxAccountIdLength) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  if (!alnum(id.front())) return false;
  return std::all_of(id.begin(), id.end(), [&](char c) {
    return alnum(c) || c == '.' || c == '_' || c == '-';
  });
}

MessageStore::MessageStore(StoreOptions options,
                           std::unique_ptr<BlobStore> blobs)
    : root_(std::move(options.root)),
      max_open_accounts_(std::max<size_t>(1, options.max_open_accounts)),
      blobs_(std::move(blobs)),
      log_(Logger().With("module", "store")) {}

MessageStore::~MessageStore() = default;

Result<std::unique_ptr<MessageStore>> MessageStore::Open(const Config& config) {
  StoreOptions options;
  options.root = config.DataPath(config.store.path);
  return Open(std::move(options));
}

Result<std::unique_ptr<MessageStore>> MessageStore::Open(StoreOptions options) {
  auto blobs = BlobStore::Open(options.root);
  if (!blobs) return Fail(blobs.error());
  std::error_code ec;
  fs::create_directories(options.root / "accounts", ec);
  if (ec) {
    return Fail(Error{ErrorCode::kIo,
                      "cannot make folder: " + ec.message(),
                      {{"path", (options.root / "accounts").string()}}});
  }
  return std::unique_ptr<MessageStore>(
      new MessageStore(std::move(options), std::move(*blobs)));
}

fs::path MessageStore::AccountPath(std::string_view account_id) const {
  std::string id(account_id);
  return root_ / "accounts" / id.substr(0, 2) / (id + ".db");
}

void MessageStore::EvictIdleLocked() {
  // Walk from the least recently used end; an entry is idle when the map
  // holds the only reference (no handle and no waiter holds a copy).
  auto it = lru_.end();
  while (cache_.size() > max_open_accounts_ && it != lru_.begin()) {
    --it;
    auto slot = cache_.find(*it);
    if (slot->second.entry.use_count() != 1) continue;
    cache_.erase(slot);
    it = lru_.erase(it);
  }
}

Result<MessageStore::AccountHandle> MessageStore::OpenAccount(
    std::string_view account_id, bool create) {
  if (!IsValidAccountId(account_id)) {
    return Fail(Error{ErrorCode::kInvalid,
                      "malformed account id",
                      {{"account", SanitizeForLog(account_id, 80)}}});
  }

  // Find or make the cache entry; copying the shared_ptr under cache_mu_
  // is what keeps it from being evicted while we use it.
  std::shared_ptr<AccountHandle::Entry> entry;
  {
    std::lock_guard lock(cache_mu_);
    std::string id(account_id);
    auto it = cache_.find(id);
    if (it != cache_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru_position);
      entry = it->second.entry;
    } else {
      entry = std::make_shared<AccountHandle::Entry>();
      lru_.push_front(id);
      cache_.emplace(id, CacheSlot{entry, lru_.begin()});
      EvictIdleLocked();
    }
  }

  std::unique_lock lock(entry->mu);
  if (entry->store == nullptr) {
    auto opened = AccountStore::Open(AccountPath(account_id), create);
    if (!opened) {
      return Fail(
          std::move(opened.error()).With("account", std::string(account_id)));
    }
    entry->store = std::move(*opened);
  }
  return AccountHandle(std::move(entry), std::move(lock));
}

Result<std::vector<std::string>> MessageStore::ListAccountIds() {
  std::vector<std::string> ids;
  std::error_code ec;
  fs::path dir = accounts_dir();
  for (fs::directory_iterator top(dir, ec), end; !ec && top != end;
       top.increment(ec)) {
    if (!top->is_directory()) continue;
    for (fs::directory_iterator file(top->path(), ec); !ec && file != end;
         file.increment(ec)) {
      fs::path name = file->path().filename();
      if (name.extension() != ".db") continue;
      std::string id = name.stem().string();
      if (IsValidAccountId(id)) ids.push_back(std::move(id));
    }
  }
  if (ec) {
    return Fail(Error{ErrorCode::kIo,
                      "cannot list accounts: " + ec.message(),
                      {{"path", dir.string()}}});
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<std::vector<RecipientResult>> MessageStore::DeliverMessage(
    const Delivery& delivery) {
  auto results = DeliverMessages(std::span(&delivery, 1));
  if (!results) return Fail(results.error());
  return std::move((*results)[0]);
}

Result<std::vector<std::vector<RecipientResult>>> MessageStore::DeliverMessages(
    std::span<const Delivery> deliveries) {
  // Pin every blob before it exists, so the collector leaves it alone from
  // the moment it lands until the rows referencing it are committed.
  std::vector<std::string_view> data;
  std::vector<std::string> hashes;
  std::vector<BlobPin> pins;
  for (const Delivery& d : deliveries) {
    data.push_back(d.data);
    hashes.push_back(Sha256Hex(d.data));
    pins.emplace_back(pins_, hashes.back());
  }

  // Invariant 2: the blobs are durable before any row references them.
  if (auto st = blobs_->PutHashed(data, hashes); !st) {
    log_.Error("blob_write_failed", {{"error", st.error().ToString()}});
    return Fail(st.error());
  }

  // Group the recipients by account, keeping first-seen order, so that
  // each account commits all its messages in one transaction.
  struct Slot {
    size_t delivery;
    size_t recipient;
  };
  std::vector<std::string> order;
  std::map<std::string, std::vector<Slot>> by_account;
  std::vector<std::vector<RecipientResult>> results(deliveries.size());
  for (size_t i = 0; i < deliveries.size(); ++i) {
    results[i].resize(deliveries[i].recipients.size());
    for (size_t j = 0; j < deliveries[i].recipients.size(); ++j) {
      const std::string& id = deliveries[i].recipients[j].account_id;
      auto [it, inserted] = by_account.try_emplace(id);
      if (inserted) order.push_back(id);
      it->second.push_back({i, j});
    }
  }

  int64_t now = Now();
  bool committed = false;
  for (const std::string& id : order) {
    const std::vector<Slot>& slots = by_account[id];
    auto handle = OpenAccount(id, /*create=*/true);
    if (!handle) {
      log_.Error("account_open_failed", {{"account", SanitizeForLog(id, 80)},
                                         {"error", handle.error().ToString()}});
      for (Slot s : slots) {
        results[s.delivery][s.recipient] = ErrorResult(handle.error());
      }
      continue;
    }

    std::vector<NewMessage> batch;
    for (Slot s : slots) {
      const Delivery& d = deliveries[s.delivery];
      const Recipient& r = d.recipients[s.recipient];
      batch.push_back({r.folder, hashes[s.delivery], d.data.size(),
                       d.internal_date != 0 ? d.internal_date : now, r.flags,
                       d.envelope, d.body_structure, d.delivery_id,
                       std::string(d.data.substr(0, d.header_size))});
    }
    uint64_t quota = deliveries[slots[0].delivery]
                         .recipients[slots[0].recipient]
                         .quota_bytes;
    // The commit's flush is deferred to the one syncfs after the loop.
    Result<std::vector<AppendResult>> appended =
        Fail(ErrorCode::kIo, "not appended");
    if (auto st = (*handle)->DeferFlushes(true); !st) {
      appended = Fail(st.error());
    } else {
      appended = (*handle)->Append(batch, quota);
      if (auto restored = (*handle)->DeferFlushes(false); !restored) {
        log_.Error("sync_mode_failed", {{"error", restored.error().ToString()}});
      }
      if (appended) committed = true;
    }
    if (!appended) {
      log_.Error("append_failed", {{"account", SanitizeForLog(id, 80)},
                                   {"error", appended.error().ToString()}});
      for (Slot s : slots) {
        results[s.delivery][s.recipient] = ErrorResult(appended.error());
      }
      continue;
    }
    for (size_t k = 0; k < slots.size(); ++k) {
      const AppendResult& a = (*appended)[k];
      RecipientResult& r = results[slots[k].delivery][slots[k].recipient];
      switch (a.status) {
        case AppendStatus::kOk:
          r.status = DeliveryStatus::kOk;
          r.uidvalidity = a.uidvalidity;
          r.uid = a.uid;
          break;
        case AppendStatus::kOverQuota:
          r.status = DeliveryStatus::kOverQuota;
          break;
        case AppendStatus::kNoSuchFolder:
          r.status = DeliveryStatus::kNoSuchFolder;
          break;
      }
    }
  }

  // One flush makes every account's commit above durable; until it
  // returns, no caller hears that anything was delivered.
  if (committed) {
    if (auto st = blobs_->SyncFilesystem(); !st) {
      log_.Error("flush_failed", {{"error", st.error().ToString()}});
      return Fail(st.error());
    }
  }
  return results;
}

}  // namespace corvus
