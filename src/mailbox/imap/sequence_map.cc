// SequenceMap: sequence numbers <-> UIDs as runs of consecutive UIDs.
#include "mailbox/imap/sequence_map.h"

#include <algorithm>
#include <iterator>

namespace corvus::imap {

uint32_t SequenceMap::max_uid() const {
  if (runs_.empty()) return 0;
  return static_cast<uint32_t>(runs_.back().end_uid() - 1);
}

std::vector<SequenceMap::Run>::const_iterator SequenceMap::RunFor(
    uint32_t uid) const {
  // The first run that starts above `uid`; the one before may hold it.
  auto it = std::upper_bound(
      runs_.begin(), runs_.end(), uid,
      [](uint32_t u, const Run& run) { return u < run.first_uid; });
  if (it != runs_.begin() && uid < std::prev(it)->end_uid()) {
    return std::prev(it);
  }
  return it;
}

uint32_t SequenceMap::Uid(uint32_t seq) const {
  // The last run that starts below `seq`.
  auto it =
      std::partition_point(runs_.begin(), runs_.end(),
                           [seq](const Run& run) { return run.before < seq; });
  --it;
  return it->first_uid + (seq - 1 - it->before);
}

std::optional<uint32_t> SequenceMap::Seq(uint32_t uid) const {
  auto it = RunFor(uid);
  if (it == runs_.end() || uid < it->first_uid) return std::nullopt;
  return it->before + (uid - it->first_uid) + 1;
}

uint32_t SequenceMap::CountUpTo(uint32_t uid) const {
  auto it = RunFor(uid);
  if (it == runs_.end()) return size();
  if (uid < it->first_uid) return it->before;
  return it->before + (uid - it->first_uid) + 1;
}

void SequenceMap::AppendUids(uint32_t first, uint32_t last,
                             std::vector<uint32_t>& out) const {
  auto it = std::partition_point(
      runs_.begin(), runs_.end(),
      [first](const Run& run) { return run.before < first; });
  --it;
  uint32_t seq = first;
  for (; seq <= last; ++it) {
    uint32_t stop = std::min(last, it->end());
    for (; seq <= stop; ++seq) {
      out.push_back(it->first_uid + (seq - 1 - it->before));
    }
  }
}

void SequenceMap::Append(uint32_t uid) {
  if (!runs_.empty() && runs_.back().end_uid() == uid) {
    ++runs_.back().count;
    return;
  }
  runs_.push_back({uid, 1, size()});
}

void SequenceMap::Remove(std::span<const uint32_t> uids) {
  std::vector<Run> kept;
  kept.reserve(runs_.size() + uids.size());
  auto add = [&kept](uint64_t first, uint64_t end) {
    if (first >= end) return;
    uint32_t before = kept.empty() ? 0 : kept.back().end();
    kept.push_back({static_cast<uint32_t>(first),
                    static_cast<uint32_t>(end - first), before});
  };

  // Each run is cut at the removed UIDs inside it. The pieces never
  // touch: a removed UID lies between any two of them.
  size_t k = 0;
  for (const Run& run : runs_) {
    while (k < uids.size() && uids[k] < run.first_uid) ++k;
    uint64_t next = run.first_uid;
    for (; k < uids.size() && uids[k] < run.end_uid(); ++k) {
      add(next, uids[k]);
      next = uint64_t{uids[k]} + 1;
    }
    add(next, run.end_uid());
  }

  runs_ = std::move(kept);
  if (runs_.capacity() > 2 * runs_.size() + 4) runs_.shrink_to_fit();
}

void SequenceMap::Clear() {
  runs_.clear();
  runs_.shrink_to_fit();
}

}  // namespace corvus::imap
