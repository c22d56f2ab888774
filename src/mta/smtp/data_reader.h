// The SMTP DATA body decoder: end-of-data detection, dot-unstuffing and
// the bare CR / bare LF policy, kept apart from I/O so that every
// smuggling variant can be tested line by line.
//
// The policy, which is also Corvus's answer to SMTP smuggling:
//   - The protocol's lines are delimited by CRLF only. The end of data is
//     a line that is exactly ".\r\n" and that follows a CRLF (or is the
//     first line after the 354). LF.LF, CR.CR, LF.CRLF, CRLF.LF, CR.CRLF
//     and the like never end the data; they are body content.
//   - Dot-unstuffing (RFC 5321 §4.5.2) removes the leading dot of a line
//     that follows a CRLF, except when a CR or LF directly follows the
//     dot (".\n", ".\rX"): no dot-stuffing client sends that, so the
//     dot is kept and the body shows what was sent.
//   - A bare CR or bare LF inside the body is handled by
//     [smtp] bare_line_endings: kReject marks the message so that, after
//     the real end of data, the session replies 550 5.6.11 and discards
//     it; kNormalize rewrites each one to CRLF. Neither ever ends the
//     data early.
//   - Lines longer than RFC 5321's 998 octets are accepted: rejecting
//     them would bounce mail from many real generators, and the store
//     copes with any length. Only the message size limit applies.
//   - Past max_size the reader stops keeping bytes but still finds the
//     end of data, so the session can reply 552 at the right moment.
//
// Thread safety: a plain value owned by one session.
#ifndef CORVUS_MTA_SMTP_DATA_READER_H_
#define CORVUS_MTA_SMTP_DATA_READER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace corvus::mta {

enum class BareLineEndings { kReject, kNormalize };

// Parses "reject" or "normalize"; kConfig otherwise.
Result<BareLineEndings> ParseBareLineEndings(std::string_view text);

class DotDataReader {
 public:
  DotDataReader(BareLineEndings policy, uint64_t max_size)
      : policy_(policy), max_size_(max_size) {}

  // Consumes one line as Connection::ReadLine returns it (terminator
  // included). Returns true if it was the end-of-data line; the line is
  // then not part of the body and no further lines may be added.
  bool AddLine(std::string_view line);

  // Notes a line that was too long to read and was discarded by the
  // reader. The message is marked too big; the discarded line counts as
  // not ending in CRLF, so the next "." line cannot end the data.
  void AddDiscardedLine();

  bool too_big() const { return too_big_; }
  bool saw_bare_line_ending() const { return bare_line_ending_; }
  // True if any body byte has its high bit set.
  bool saw_8bit() const { return eight_bit_; }
  // Size of the body so far (after unstuffing and normalization).
  uint64_t size() const { return size_; }
  // The decoded body; only meaningful when !too_big().
  std::string TakeBody() { return std::move(body_); }

 private:
  void Append(std::string_view content);

  BareLineEndings policy_;
  uint64_t max_size_;
  bool at_line_start_ = true;  // previous line ended with CRLF
  bool too_big_ = false;
  bool bare_line_ending_ = false;
  bool eight_bit_ = false;
  uint64_t size_ = 0;
  std::string body_;
};

// Applies the bare CR / LF policy to a BDAT chunk, which is not
// dot-stuffed (RFC 3030). `pending_cr` carries a CR that ended the
// previous chunk, since CRLF may straddle two chunks; call with
// `final` = true on the LAST chunk so a trailing CR is judged. Appends
// to `out` and returns true if a bare CR or LF was seen.
bool AppendBdatChunk(std::string_view chunk, BareLineEndings policy, bool final,
                     bool* pending_cr, std::string* out);

}  // namespace corvus::mta

#endif  // CORVUS_MTA_SMTP_DATA_READER_H_
