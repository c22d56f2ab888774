// The message sequence numbers of a selected mailbox as one session
// knows them (RFC 3501 §2.3.1.2): an ascending list of UIDs in which the
// position of a UID, counted from 1, is its sequence number.
//
// A session keeps this map for as long as it has the mailbox selected,
// IDLE included, so it is built to be small: UIDs are held as runs of
// consecutive values. A mailbox's UIDs are mostly contiguous (deliveries
// take the next UID; only expunges and moves leave gaps), so 10,000
// messages without gaps cost one run of 12 bytes instead of 10,000
// entries. The worst case, no two UIDs adjacent, is 12 bytes a message.
// Flags and modseqs are not kept here: they live in the store, which
// reports what changed since a modseq (AccountStore::ChangesSince).
//
// Costs: lookups are O(log runs); Append is amortised O(1); Remove is
// O(runs + removed).
//
// Thread safety: none; a SequenceMap belongs to one session. A copy may
// be read on another thread while the original is not changed.
#ifndef CORVUS_MAILBOX_IMAP_SEQUENCE_MAP_H_
#define CORVUS_MAILBOX_IMAP_SEQUENCE_MAP_H_

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace corvus::imap {

class SequenceMap {
 public:
  // How many messages, i.e. the highest sequence number.
  uint32_t size() const { return runs_.empty() ? 0 : runs_.back().end(); }
  bool empty() const { return runs_.empty(); }
  // The highest UID; 0 when empty.
  uint32_t max_uid() const;
  // How many runs of consecutive UIDs hold the map (its memory is about
  // 12 bytes a run).
  size_t run_count() const { return runs_.size(); }

  // The UID at sequence number `seq`. Requires 1 <= seq <= size().
  uint32_t Uid(uint32_t seq) const;
  // The sequence number of `uid`, or nullopt if the map does not hold it.
  std::optional<uint32_t> Seq(uint32_t uid) const;
  bool Contains(uint32_t uid) const { return Seq(uid).has_value(); }
  // How many UIDs of the map are at most `uid`.
  uint32_t CountUpTo(uint32_t uid) const;

  // Appends the UIDs at sequence numbers first..last (both included) to
  // `out`, ascending. Requires 1 <= first <= last <= size().
  void AppendUids(uint32_t first, uint32_t last,
                  std::vector<uint32_t>& out) const;

  // Adds `uid` as the new highest sequence number. Requires
  // uid > max_uid() and uid != 0.
  void Append(uint32_t uid);
  // Removes the UIDs of `uids` (ascending; UIDs the map lacks are
  // ignored). The messages after each removed one move down a sequence
  // number, as an EXPUNGE makes them (RFC 3501 §7.4.1).
  void Remove(std::span<const uint32_t> uids);
  // Removes everything and gives the memory back.
  void Clear();

 private:
  // UIDs first_uid .. first_uid + count - 1 at sequence numbers
  // before + 1 .. before + count. Runs are ascending, never empty, and
  // never adjacent (two runs that touch are one).
  struct Run {
    uint32_t first_uid;
    uint32_t count;
    uint32_t before;  // messages in the runs before this one
    uint32_t end() const { return before + count; }
    uint64_t end_uid() const { return uint64_t{first_uid} + count; }
  };

  // The run holding `uid`, or the first run after it.
  std::vector<Run>::const_iterator RunFor(uint32_t uid) const;

  std::vector<Run> runs_;
};

}  // namespace corvus::imap

#endif  // CORVUS_MAILBOX_IMAP_SEQUENCE_MAP_H_
