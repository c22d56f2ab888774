#include "store/blob_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <set>
#include <utility>

namespace corvus {
namespace {

namespace fs = std::filesystem;

Error IoError(std::string_view what, const fs::path& path, int err) {
  return Error{ErrorCode::kIo,
               std::string(what) + ": " + std::strerror(err),
               {{"path", path.string()}}};
}

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports the error close(2) may carry for a write.
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

}  // namespace

Status SyncFolder(const fs::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return Fail(IoError("cannot open folder", path, errno));
  if (::fsync(fd.get()) != 0) {
    return Fail(IoError("cannot flush folder", path, errno));
  }
  return {};
}

namespace {

// mkdir that treats "already there" as success; `created` says which.
Status MakeDir(const fs::path& path, bool* created) {
  if (::mkdir(path.c_str(), 0750) == 0) {
    *created = true;
    return {};
  }
  if (errno == EEXIST) {
    *created = false;
    return {};
  }
  return Fail(IoError("cannot make folder", path, errno));
}

Status WriteAll(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(IoError("cannot write", path, errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Status ValidateHash(std::string_view hash) {
  if (!IsBlobHash(hash)) {
    return Fail(Error{ErrorCode::kInvalid,
                      "malformed blob name",
                      {{"blob", std::string(hash.substr(0, 80))}}});
  }
  return {};
}

size_t FanoutIndex(std::string_view hash) {
  return std::stoul(std::string(hash.substr(0, 4)), nullptr, 16);
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

bool IsBlobHash(std::string_view hash) {
  if (hash.size() != 64) return false;
  for (char c : hash) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!hex) return false;
  }
  return true;
}

BlobStore::BlobStore(fs::path blobs, fs::path incoming, int blobs_fd)
    : blobs_dir_(std::move(blobs)),
      incoming_dir_(std::move(incoming)),
      blobs_fd_(blobs_fd),
      fanout_ready_(1 << 16, false) {}

BlobStore::~BlobStore() { ::close(blobs_fd_); }

Result<std::unique_ptr<BlobStore>> BlobStore::Open(const fs::path& root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return Fail(IoError("cannot make folder", root, ec.value()));
  for (const char* sub : {"blobs", "incoming"}) {
    bool created = false;
    if (auto st = MakeDir(root / sub, &created); !st) return Fail(st.error());
    if (created) {
      if (auto st = SyncFolder(root); !st) return Fail(st.error());
    }
  }
  fs::path blobs = root / "blobs";
  int blobs_fd = ::open(blobs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (blobs_fd < 0) return Fail(IoError("cannot open", blobs, errno));
  return std::unique_ptr<BlobStore>(
      new BlobStore(std::move(blobs), root / "incoming", blobs_fd));
}

fs::path BlobStore::PathOf(std::string_view hash) const {
  return blobs_dir_ / std::string(hash.substr(0, 2)) /
         std::string(hash.substr(2, 2)) / std::string(hash);
}

fs::path BlobStore::NewStagingPath() {
  uint64_t n;
  {
    std::lock_guard lock(mu_);
    n = ++staging_counter_;
  }
  // pid + counter is unique among live writers; a leftover from an
  // earlier process with the same pid is overwritten by O_TRUNC, which
  // is harmless since staging files are never referenced.
  return incoming_dir_ /
         (std::to_string(::getpid()) + "-" + std::to_string(n) + ".tmp");
}

Status BlobStore::EnsureFanout(std::string_view hash, bool flush) {
  size_t index = FanoutIndex(hash);
  {
    std::lock_guard lock(mu_);
    if (fanout_ready_[index]) return {};
  }

  // Make both levels, then flush each parent so that the new entries
  // survive a crash. Another thread may race us here; both then flush,
  // which is redundant but safe.
  fs::path top = blobs_dir_ / std::string(hash.substr(0, 2));
  fs::path leaf = top / std::string(hash.substr(2, 2));
  bool created_top = false;
  bool created_leaf = false;
  if (auto st = MakeDir(top, &created_top); !st) return st;
  if (auto st = MakeDir(leaf, &created_leaf); !st) return st;
  if (!flush) return {};
  // A folder that already existed may have been made by a process that
  // crashed before flushing its parent, so flush the parents regardless
  // on first use in this process.
  if (auto st = SyncCounted(top); !st) return st;
  if (auto st = SyncCounted(blobs_dir_); !st) return st;
  MarkFanoutReady(hash);
  return {};
}

void BlobStore::MarkFanoutReady(std::string_view hash) {
  std::lock_guard lock(mu_);
  fanout_ready_[FanoutIndex(hash)] = true;
}

Result<std::string> BlobStore::Put(std::string_view data) {
  std::string_view one[] = {data};
  auto hashes = PutMany(one);
  if (!hashes) return Fail(hashes.error());
  return std::move((*hashes)[0]);
}

Result<std::vector<std::string>> BlobStore::PutMany(
    std::span<const std::string_view> blobs) {
  std::vector<std::string> hashes;
  hashes.reserve(blobs.size());
  for (std::string_view data : blobs) hashes.push_back(Sha256Hex(data));
  if (auto st = PutHashed(blobs, hashes); !st) return Fail(st.error());
  return hashes;
}

Status BlobStore::PutHashed(std::span<const std::string_view> blobs,
                            std::span<const std::string> hashes) {
  if (blobs.size() != hashes.size()) {
    return Fail(ErrorCode::kInvalid, "blob and hash counts differ");
  }
  std::set<fs::path> touched_dirs;

  // Two or more new blobs: one syncfs after the loop replaces every
  // per-file and per-folder flush.
  size_t new_blobs = 0;
  for (size_t i = 0; i < blobs.size() && new_blobs < 2; ++i) {
    struct stat existing;
    if (IsBlobHash(hashes[i]) &&
        ::stat(PathOf(hashes[i]).c_str(), &existing) != 0) {
      ++new_blobs;
    }
  }
  const bool one_flush = new_blobs >= 2;

  // Stage, flush and rename each blob; folders are flushed after the loop.
  for (size_t i = 0; i < blobs.size(); ++i) {
    std::string_view data = blobs[i];
    const std::string& hash = hashes[i];
    if (auto st = ValidateHash(hash); !st) return st;
    if (auto st = EnsureFanout(hash, !one_flush); !st) return st;
    fs::path final_path = PathOf(hash);
    touched_dirs.insert(final_path.parent_path());

    // Already stored: skip the write and its flush. Safe against the
    // collector only because MessageStore pins the hash first.
    struct stat existing;
    if (::stat(final_path.c_str(), &existing) == 0) continue;

    fs::path staging = NewStagingPath();
    Fd fd(::open(staging.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                 0640));
    if (fd.get() < 0) return Fail(IoError("cannot create", staging, errno));
    Status written = WriteAll(fd.get(), data, staging);
    if (written && !one_flush) {
      ++file_flushes_;
      if (::fsync(fd.get()) != 0) {
        written = Fail(IoError("cannot flush", staging, errno));
      }
    }
    if (written && fd.Close() != 0) {
      written = Fail(IoError("cannot close", staging, errno));
    }
    if (!written) {
      ::unlink(staging.c_str());
      return written;
    }

    // The same bytes are already stored (dedup): keep the stored copy.
    if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, final_path.c_str(),
                    RENAME_NOREPLACE) != 0) {
      int err = errno;
      ::unlink(staging.c_str());
      if (err != EEXIST) {
        return Fail(IoError("cannot rename into place", final_path, err));
      }
    }
  }

  if (one_flush) {
    // The one flush covers the fan-out folders made above too.
    if (auto st = SyncFilesystem(); !st) return st;
    for (const std::string& hash : hashes) MarkFanoutReady(hash);
    return {};
  }

  // One flush per touched folder for the whole batch. The folder of a
  // deduplicated blob is flushed too: whoever renamed it there may not
  // have flushed yet.
  for (const fs::path& dir : touched_dirs) {
    if (auto st = SyncCounted(dir); !st) return st;
  }
  return {};
}

Status BlobStore::SyncFilesystem() {
  Fd dir(::open(blobs_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return Fail(IoError("cannot open", blobs_dir_, errno));
  ++filesystem_flushes_;
  if (::syncfs(dir.get()) != 0) {
    return Fail(IoError("cannot flush filesystem of", blobs_dir_, errno));
  }
  return {};
}

Status BlobStore::SyncCounted(const fs::path& dir) {
  ++folder_flushes_;
  return SyncFolder(dir);
}

Result<int> BlobStore::OpenForRead(std::string_view hash) const {
  if (auto st = ValidateHash(hash); !st) return Fail(st.error());
  // "ab/cd/<hash>", as PathOf() names it.
  char relative[2 + 1 + 2 + 1 + 64 + 1];
  std::memcpy(relative, hash.data(), 2);
  relative[2] = '/';
  std::memcpy(relative + 3, hash.data() + 2, 2);
  relative[5] = '/';
  std::memcpy(relative + 6, hash.data(), 64);
  relative[70] = '\0';
  int fd = ::openat(blobs_fd_, relative, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) return fd;
  if (errno == ENOENT) {
    return Fail(Error{
        ErrorCode::kNotFound, "no such blob", {{"blob", std::string(hash)}}});
  }
  return Fail(IoError("cannot open", PathOf(hash), errno));
}

Result<std::string> BlobStore::Read(std::string_view hash) const {
  return ReadRange(hash, 0, UINT64_MAX);
}

Result<std::string> BlobStore::Read(std::string_view hash,
                                    uint64_t expected_size) const {
  auto opened = OpenForRead(hash);
  if (!opened) return Fail(opened.error());
  Fd fd(*opened);

  // Asking for one byte more than expected lets a read that comes back
  // short say "end of file" by itself (a regular file is read short only
  // there); a full buffer means the blob is bigger, so read on.
  std::string out;
  size_t done = 0;
  size_t capacity = static_cast<size_t>(expected_size) + 1;
  while (true) {
    out.resize(capacity);
    ssize_t n = ::read(fd.get(), out.data() + done, capacity - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(IoError("cannot read", PathOf(hash), errno));
    done += static_cast<size_t>(n);
    if (done < capacity) break;
    capacity *= 2;
  }
  out.resize(done);
  return out;
}

Result<std::string> BlobStore::ReadRange(std::string_view hash, uint64_t offset,
                                         uint64_t length) const {
  auto opened = OpenForRead(hash);
  if (!opened) return Fail(opened.error());
  Fd fd(*opened);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return Fail(IoError("cannot stat", PathOf(hash), errno));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset >= size) return std::string();
  length = std::min(length, size - offset);

  // Filled in place: no zeroing pass over a buffer about to be read into.
  std::string out;
  int read_error = 0;
  out.resize_and_overwrite(length, [&](char* buffer, size_t) {
    uint64_t done = 0;
    while (done < length) {
      ssize_t n = ::pread(fd.get(), buffer + done, length - done,
                          static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) read_error = errno;
      if (n <= 0) break;  // n == 0 cannot happen for an immutable blob
      done += static_cast<uint64_t>(n);
    }
    return done;
  });
  if (read_error != 0) {
    return Fail(IoError("cannot read", PathOf(hash), read_error));
  }
  return out;
}

Result<uint64_t> BlobStore::Size(std::string_view hash) const {
  if (auto st = ValidateHash(hash); !st) return Fail(st.error());
  fs::path path = PathOf(hash);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Fail(Error{
          ErrorCode::kNotFound, "no such blob", {{"blob", std::string(hash)}}});
    }
    return Fail(IoError("cannot stat", path, errno));
  }
  return static_cast<uint64_t>(st.st_size);
}

Result<bool> BlobStore::Exists(std::string_view hash) const {
  auto size = Size(hash);
  if (size) return true;
  if (size.error().code == ErrorCode::kNotFound) return false;
  return Fail(size.error());
}

Status BlobStore::Remove(std::string_view hash) {
  if (auto st = ValidateHash(hash); !st) return st;
  fs::path path = PathOf(hash);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Fail(IoError("cannot remove", path, errno));
  }
  return {};
}

}  // namespace corvus
