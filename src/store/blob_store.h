// Content-addressed message blobs on the local primary volume.
//
// Each message body is stored once per server, in a file named by the
// lower-case hex SHA-256 of its bytes:
//
//   ROOT/blobs/ab/cd/abcd...    the blob (two levels of fan-out)
//   ROOT/incoming/<unique>.tmp  staging, never referenced by anyone
//
// Write path, per blob: write the staging file, fsync it, rename it into
// place with RENAME_NOREPLACE (if the name is taken, the body is already
// stored and the staging file is dropped), then fsync the destination
// folder. Once Put() or PutMany() returns ok, every named blob survives a
// crash — including one that was already present, since its folder is
// flushed too (another thread may have renamed it in and not yet flushed
// the folder). A blob file is never modified after rename, so a named
// blob is always complete.
//
// Group commit: a PutMany() batch that writes two or more new blobs
// writes and renames them all, then pays one syncfs(2) for the whole
// filesystem (one journal commit on ext4 and xfs) instead of an fsync per
// file and per folder; the disk's flush rate then caps batches, not
// blobs. A single new blob is flushed on its own: its file, then each
// touched folder (and a newly made fan-out folder's parents on first use
// in this process). syncfs reports write-back errors since Linux 5.8.
//
// Deleting blobs (Remove) is for the orphan collector only, which must
// make sure that no delivery in flight is about to reference the blob
// (see store.h, BlobPins).
//
// Thread safety: all methods may be called from any thread concurrently.
#ifndef CORVUS_STORE_BLOB_STORE_H_
#define CORVUS_STORE_BLOB_STORE_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace corvus {

// Flushes a folder so that the entries (names) in it survive a crash:
// fsync of a file makes its bytes durable, not the name that points to
// it. kIo on failure.
Status SyncFolder(const std::filesystem::path& dir);

// Returns the lower-case hex SHA-256 of `data` (64 characters).
std::string Sha256Hex(std::string_view data);

// True if `hash` looks like a blob name: 64 lower-case hex digits.
bool IsBlobHash(std::string_view hash);

class BlobStore {
 public:
  // Opens (creating if needed) the blob area under `root`: makes
  // root/blobs and root/incoming. Returns kIo if they cannot be made.
  static Result<std::unique_ptr<BlobStore>> Open(
      const std::filesystem::path& root);
  ~BlobStore();

  // Stores `data` durably and returns its hash. Equivalent to a PutMany
  // of one.
  Result<std::string> Put(std::string_view data);

  // Stores every element of `blobs` durably; returns their hashes in the
  // same order. Either all are durable on return, or an error is given
  // (some may then be stored anyway; they are orphans for the collector).
  Result<std::vector<std::string>> PutMany(
      std::span<const std::string_view> blobs);

  // PutMany for callers that already hashed the data (to pin the names
  // before writing). Requires hashes[i] == Sha256Hex(blobs[i]) and equal
  // sizes.
  Status PutHashed(std::span<const std::string_view> blobs,
                   std::span<const std::string> hashes);

  // Whole blob. kNotFound if absent, kInvalid if `hash` is malformed.
  Result<std::string> Read(std::string_view hash) const;
  // Whole blob whose size the caller knows (a message row's): one open
  // and one read(2), no stat. Still right if the size is wrong.
  Result<std::string> Read(std::string_view hash, uint64_t expected_size) const;
  // Up to `length` bytes starting at `offset`; fewer at the end of the
  // blob, none past it.
  Result<std::string> ReadRange(std::string_view hash, uint64_t offset,
                                uint64_t length) const;
  // Size in bytes. kNotFound if absent.
  Result<uint64_t> Size(std::string_view hash) const;
  // True if the blob is stored. kInvalid if `hash` is malformed.
  Result<bool> Exists(std::string_view hash) const;

  // Unlinks the blob; ok if it was already gone. For the collector only.
  Status Remove(std::string_view hash);

  // One syncfs(2) of the filesystem holding the blobs, counted in
  // flush_counts(). kIo on failure.
  Status SyncFilesystem();

  // Flushes paid since Open(), for tests and benchmarks: fsyncs of
  // staging files and of folders.
  struct FlushCounts {
    uint64_t files = 0;
    uint64_t folders = 0;
    uint64_t filesystems = 0;  // syncfs calls
  };
  FlushCounts flush_counts() const {
    return {file_flushes_.load(), folder_flushes_.load(),
            filesystem_flushes_.load()};
  }

  // Where the blob named `hash` lives (whether or not it exists).
  // Requires IsBlobHash(hash).
  std::filesystem::path PathOf(std::string_view hash) const;
  const std::filesystem::path& blobs_dir() const { return blobs_dir_; }
  const std::filesystem::path& incoming_dir() const { return incoming_dir_; }

 private:
  BlobStore(std::filesystem::path blobs, std::filesystem::path incoming,
            int blobs_fd);

  // Opens the blob named `hash` for reading, relative to blobs_fd_ (a
  // short path walk, no allocation). kNotFound if absent.
  Result<int> OpenForRead(std::string_view hash) const;

  // Makes the two fan-out folders of `hash` exist. With `flush`, the
  // first call per folder in this process flushes the parents and later
  // calls are free; without, the caller flushes the whole file system and
  // then calls MarkFanoutReady().
  Status EnsureFanout(std::string_view hash, bool flush);
  void MarkFanoutReady(std::string_view hash);
  std::filesystem::path NewStagingPath();

  // SyncFolder() plus a count for flush_counts().
  Status SyncCounted(const std::filesystem::path& dir);

  std::filesystem::path blobs_dir_;
  std::filesystem::path incoming_dir_;
  int blobs_fd_;  // blobs_dir_, opened O_PATH for openat(2)
  std::atomic<uint64_t> file_flushes_{0};
  std::atomic<uint64_t> folder_flushes_{0};
  std::atomic<uint64_t> filesystem_flushes_{0};

  std::mutex mu_;
  // One bit per leaf folder "ab/cd" (indexed by the first four hex digits):
  // set once the folder and its parents are known to be durable.
  std::vector<bool> fanout_ready_;  // guarded by mu_
  uint64_t staging_counter_ = 0;    // guarded by mu_
};

}  // namespace corvus

#endif  // CORVUS_STORE_BLOB_STORE_H_
