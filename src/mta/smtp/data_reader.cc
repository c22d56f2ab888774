#include "mta/smtp/data_reader.h"

namespace corvus::mta {
namespace {

// Copies `text` to `out`, turning each bare CR and bare LF into CRLF when
// `normalize`. `pending_cr` is a CR seen at the very end of the previous
// piece whose LF, if any, starts this one. Returns true if a bare CR or
// LF was found.
bool CopyLineEndings(std::string_view text, bool normalize, bool* pending_cr,
                     std::string* out) {
  bool bare = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (*pending_cr) {
      *pending_cr = false;
      if (c == '\n') {
        out->append("\r\n");
        continue;
      }
      bare = true;
      out->append(normalize ? "\r\n" : "\r");
    }
    if (c == '\r') {
      *pending_cr = true;
    } else if (c == '\n') {
      bare = true;
      out->append(normalize ? "\r\n" : "\n");
    } else {
      out->push_back(c);
    }
  }
  return bare;
}

}  // namespace

Result<BareLineEndings> ParseBareLineEndings(std::string_view text) {
  if (text == "reject") return BareLineEndings::kReject;
  if (text == "normalize") return BareLineEndings::kNormalize;
  return Fail(Error{ErrorCode::kConfig,
                    "bare_line_endings must be \"reject\" or \"normalize\"",
                    {{"value", std::string(text)}}});
}

bool DotDataReader::AddLine(std::string_view line) {
  // RFC 5321 §4.1.1.4: the data ends with CRLF "." CRLF, and nothing else.
  if (at_line_start_ && line == ".\r\n") return true;

  bool ends_with_crlf = line.size() >= 2 && line.ends_with("\r\n");
  std::string_view content = line;
  // RFC 5321 §4.5.2: undo the client's dot-stuffing at a true line start.
  // A dot directly before a CR or LF is no stuffing a client would do; it
  // is kept so that the body shows what was sent.
  bool lone_dot =
      content.size() >= 2 && (content[1] == '\r' || content[1] == '\n');
  if (at_line_start_ && content.starts_with('.') && !lone_dot) {
    content.remove_prefix(1);
  }
  at_line_start_ = ends_with_crlf;
  Append(content);
  return false;
}

void DotDataReader::AddDiscardedLine() {
  too_big_ = true;
  at_line_start_ = false;
  body_.clear();
}

void DotDataReader::Append(std::string_view content) {
  if (too_big_) return;
  for (unsigned char c : content) eight_bit_ |= c >= 0x80;

  std::string piece;
  piece.reserve(content.size() + 2);
  bool pending_cr = false;
  bool bare = CopyLineEndings(content, policy_ == BareLineEndings::kNormalize,
                              &pending_cr, &piece);
  if (pending_cr) {
    // A CR at the very end of a line that ReadLine returned means the line
    // ended at EOF without LF, which cannot happen; treat it as bare.
    bare = true;
    piece.append(policy_ == BareLineEndings::kNormalize ? "\r\n" : "\r");
  }
  bare_line_ending_ |= bare;

  size_ += piece.size();
  if (size_ > max_size_) {
    too_big_ = true;
    body_.clear();
    body_.shrink_to_fit();
    return;
  }
  body_.append(piece);
}

bool AppendBdatChunk(std::string_view chunk, BareLineEndings policy, bool final,
                     bool* pending_cr, std::string* out) {
  bool normalize = policy == BareLineEndings::kNormalize;
  bool bare = CopyLineEndings(chunk, normalize, pending_cr, out);
  if (final && *pending_cr) {
    *pending_cr = false;
    bare = true;
    out->append(normalize ? "\r\n" : "\r");
  }
  return bare;
}

}  // namespace corvus::mta
