// The orphan collector: reclaims blobs that no account references.
//
// A blob becomes an orphan when its last message is expunged, or when a
// delivery wrote it and then failed before committing a row. One pass of
// RunOnce():
//
//   1. BlobPins::BeginScan() — from here on, every pinned hash is noted.
//   2. Remove staging files (incoming/*.tmp) older than the grace period;
//      they belong to writes that died.
//   3. List blobs whose mtime is older than the grace period.
//   4. Read the referenced blobs of every account database, each under
//      its account lock (so a database being created is never read half
//      made).
//   5. BlobPins::FinishScan() removes the old, unreferenced blobs that no
//      delivery pinned since step 1.
//
// Why this is safe (invariant 3 of DESIGN.md): a delivery that committed
// its rows before step 1 is seen in step 4; one that pinned at any time
// from step 1 to step 5 is spared by the pin record; one that pins after
// step 5 finds the blob gone and writes it again. The grace period is a
// second line of defence for writers outside MessageStore and keeps a
// just-expunged message's body around for backup to ship.
//
// Any error while reading account databases aborts the pass without
// removing a single blob: a wrong "unreferenced" is data loss, a skipped
// pass is only disk space.
//
// TODO(corvus): blobs in the journal of an account that backup has not
// shipped yet are not held; a grace shorter than the backup lag could
// reclaim a body backup still needs. Costs backup completeness if the
// backup falls behind by more than the grace.
//
// Thread safety: RunOnce() may be called from any thread; two passes at
// once are refused (kTemporary). It runs alongside deliveries and IMAP.
#ifndef CORVUS_STORE_COLLECTOR_H_
#define CORVUS_STORE_COLLECTOR_H_

#include <chrono>
#include <cstdint>

#include "common/log.h"
#include "common/result.h"
#include "store/store.h"

namespace corvus {

struct CollectorStats {
  uint64_t blobs_seen = 0;       // blob files looked at
  uint64_t kept_young = 0;       // younger than the grace period
  uint64_t kept_referenced = 0;  // old, but some account references them
  uint64_t kept_pinned = 0;      // old, unreferenced, but pinned
  uint64_t orphans_removed = 0;  // reclaimed
  uint64_t staging_removed = 0;  // stale incoming/*.tmp files reclaimed
  uint64_t accounts_scanned = 0;
};

class OrphanCollector {
 public:
  // `store` must outlive the collector. `grace` is
  // config.store.orphan_grace_seconds.
  OrphanCollector(MessageStore& store, std::chrono::seconds grace);

  // One pass, as described above. Errors: kTemporary if another pass
  // runs, kIo/kCorruption if the store cannot be read (nothing removed).
  Result<CollectorStats> RunOnce();

 private:
  MessageStore& store_;
  std::chrono::seconds grace_;
  Logger log_;
};

}  // namespace corvus

#endif  // CORVUS_STORE_COLLECTOR_H_
