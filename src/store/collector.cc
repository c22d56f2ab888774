#include "store/collector.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace corvus {
namespace {

namespace fs = std::filesystem;

// True if `path` was last modified before `cutoff`. A file that vanished
// or cannot be read counts as young: when in doubt, keep.
bool OlderThan(const fs::path& path, fs::file_time_type cutoff) {
  std::error_code ec;
  fs::file_time_type mtime = fs::last_write_time(path, ec);
  return !ec && mtime < cutoff;
}

Error ListError(const fs::path& path, const std::error_code& ec) {
  return Error{ErrorCode::kIo,
               "cannot list folder: " + ec.message(),
               {{"path", path.string()}}};
}

// Old blob files under blobs/ab/cd/, by hash.
Status ListOldBlobs(const fs::path& blobs_dir, fs::file_time_type cutoff,
                    CollectorStats& stats, std::vector<std::string>& old) {
  std::error_code ec;
  fs::recursive_directory_iterator it(blobs_dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    // Blobs live exactly two levels down; skip anything else.
    if (it.depth() != 2 || !it->is_regular_file()) continue;
    std::string name = it->path().filename().string();
    if (!IsBlobHash(name)) continue;
    ++stats.blobs_seen;
    if (OlderThan(it->path(), cutoff)) {
      old.push_back(std::move(name));
    } else {
      ++stats.kept_young;
    }
  }
  if (ec) return Fail(ListError(blobs_dir, ec));
  return {};
}

Status RemoveStaleStaging(const fs::path& incoming, fs::file_time_type cutoff,
                          CollectorStats& stats) {
  std::error_code ec;
  fs::directory_iterator it(incoming, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".tmp") continue;
    if (!OlderThan(it->path(), cutoff)) continue;
    std::error_code rm;
    if (fs::remove(it->path(), rm)) ++stats.staging_removed;
  }
  if (ec) return Fail(ListError(incoming, ec));
  return {};
}

}  // namespace

OrphanCollector::OrphanCollector(MessageStore& store,
                                 std::chrono::seconds grace)
    : store_(store),
      grace_(grace),
      log_(Logger().With("module", "collector")) {}

Result<CollectorStats> OrphanCollector::RunOnce() {
  if (auto st = store_.pins().BeginScan(); !st) return Fail(st.error());
  CollectorStats stats;
  fs::file_time_type cutoff = fs::file_time_type::clock::now() - grace_;

  // Steps 2 to 4; any failure ends the scan with nothing removed.
  auto scan = [&]() -> Result<std::vector<std::string>> {
    if (auto st =
            RemoveStaleStaging(store_.blobs().incoming_dir(), cutoff, stats);
        !st) {
      return Fail(st.error());
    }
    std::vector<std::string> old;
    if (auto st = ListOldBlobs(store_.blobs().blobs_dir(), cutoff, stats, old);
        !st) {
      return Fail(st.error());
    }
    std::sort(old.begin(), old.end());
    if (old.empty()) return old;

    auto ids = store_.ListAccountIds();
    if (!ids) return Fail(ids.error());
    std::vector<std::string> unreferenced = old;
    for (const std::string& id : *ids) {
      auto handle = store_.OpenAccount(id, /*create=*/false);
      if (!handle) return Fail(handle.error());
      auto referenced = (*handle)->ReferencedBlobs();
      if (!referenced) return Fail(referenced.error());
      ++stats.accounts_scanned;
      std::vector<std::string> rest;
      std::set_difference(unreferenced.begin(), unreferenced.end(),
                          referenced->begin(), referenced->end(),
                          std::back_inserter(rest));
      unreferenced = std::move(rest);
    }
    stats.kept_referenced = old.size() - unreferenced.size();
    return unreferenced;
  };
  auto candidates = scan();
  if (!candidates) {
    store_.pins().AbortScan();
    log_.Error("collect_failed", {{"error", candidates.error().ToString()}});
    return Fail(candidates.error());
  }

  // Step 5: remove under the pin lock.
  BlobStore& blobs = store_.blobs();
  uint64_t failed = 0;
  size_t removed =
      store_.pins().FinishScan(*candidates, [&](const std::string& hash) {
        if (blobs.Remove(hash)) return true;
        ++failed;
        return false;
      });
  stats.orphans_removed = removed;
  stats.kept_pinned = candidates->size() - removed - failed;
  log_.Info("collect_done", {{"blobs", stats.blobs_seen},
                             {"removed", stats.orphans_removed},
                             {"referenced", stats.kept_referenced},
                             {"young", stats.kept_young},
                             {"pinned", stats.kept_pinned},
                             {"staging_removed", stats.staging_removed},
                             {"remove_failed", failed}});
  return stats;
}

}  // namespace corvus
