// MIME part-tree parser; see message.h.
//
// The walker finds boundaries itself rather than asking GMime, because
// IMAP needs the exact byte offsets of every header and body in the
// stored message, and GMime's tree is built for re-serialisation.
#include "mime/message.h"

#include <algorithm>
#include <cstring>

namespace corvus::mime {
namespace {

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

// Where a header block ends and the body begins.
struct HeaderSplit {
  ByteRange header;
  size_t body_begin;
};

// Finds the end of the header block starting at `begin`. The header ends
// after the first empty line; a line that cannot be part of a header
// (RFC 5322 §2.2: no colon) ends it too, with no separator consumed,
// which is what most parsers do with a missing blank line.
HeaderSplit SplitEntity(std::string_view raw, size_t begin, size_t end) {
  size_t pos = begin;
  while (pos < end) {
    const char* nl_ptr = static_cast<const char*>(
        std::memchr(raw.data() + pos, '\n', end - pos));
    size_t line_end = nl_ptr ? nl_ptr - raw.data() + 1 : end;
    std::string_view line = raw.substr(pos, line_end - pos);
    if (line == "\n" || line == "\r\n") {
      return {{begin, line_end - begin}, line_end};
    }
    std::string_view text = line;
    if (text.ends_with('\n')) text.remove_suffix(1);
    if (!IsHeaderLine(text)) return {{begin, pos - begin}, pos};
    pos = line_end;
  }
  return {{begin, end - begin}, end};
}

size_t CountLines(std::string_view body) {
  size_t lines = std::count(body.begin(), body.end(), '\n');
  if (!body.empty() && body.back() != '\n') ++lines;
  return lines;
}

std::optional<std::string> OptionalUnfold(
    const std::vector<HeaderField>& fields, std::string_view name) {
  std::optional<std::string_view> value = FindField(fields, name);
  if (!value) return std::nullopt;
  return Unfold(*value);
}

std::vector<Address> OptionalAddresses(const std::vector<HeaderField>& fields,
                                       std::string_view name) {
  std::optional<std::string_view> value = FindField(fields, name);
  if (!value) return {};
  return ParseAddressList(*value);
}

// Splits Content-Language ("en, fr (comment)") into tags.
std::vector<std::string> ParseLanguages(std::string_view value) {
  std::vector<std::string> tags;
  std::string cleaned = StripComments(value);
  size_t pos = 0;
  while (pos <= cleaned.size()) {
    size_t comma = cleaned.find(',', pos);
    if (comma == std::string::npos) comma = cleaned.size();
    if (comma > pos) tags.push_back(cleaned.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return tags;
}

Envelope ParseEnvelopeFields(const std::vector<HeaderField>& fields) {
  Envelope env;
  env.date = OptionalUnfold(fields, "Date");
  env.subject = OptionalUnfold(fields, "Subject");
  env.from = OptionalAddresses(fields, "From");
  env.sender = OptionalAddresses(fields, "Sender");
  env.reply_to = OptionalAddresses(fields, "Reply-To");
  env.to = OptionalAddresses(fields, "To");
  env.cc = OptionalAddresses(fields, "Cc");
  env.bcc = OptionalAddresses(fields, "Bcc");
  env.in_reply_to = OptionalUnfold(fields, "In-Reply-To");
  env.message_id = OptionalUnfold(fields, "Message-ID");
  // RFC 3501 §7.4.2: the server MUST default sender and reply-to to
  // from when they are absent.
  if (env.sender.empty()) env.sender = env.from;
  if (env.reply_to.empty()) env.reply_to = env.from;
  return env;
}

// A delimiter line found in a multipart body.
struct Delimiter {
  size_t begin;     // first '-' of "--boundary"
  size_t line_end;  // just past the line's LF (or the range end)
  bool close;       // "--boundary--"
};

// Returns the delimiter line at `pos`, which must be a line start, if the
// line is one. RFC 2046 §5.1.1: "--" boundary, optionally "--", then
// optional transport padding (white space) before the line break.
std::optional<Delimiter> DelimiterAt(std::string_view raw, size_t pos,
                                     size_t end, std::string_view boundary) {
  size_t n = 2 + boundary.size();
  if (end - pos < n || raw[pos] != '-' || raw[pos + 1] != '-' ||
      raw.substr(pos + 2, boundary.size()) != boundary) {
    return std::nullopt;
  }
  size_t p = pos + n;
  bool close = false;
  if (end - p >= 2 && raw[p] == '-' && raw[p + 1] == '-') {
    close = true;
    p += 2;
  }
  while (p < end && (IsWsp(raw[p]) || raw[p] == '\r')) ++p;
  if (p < end && raw[p] != '\n') return std::nullopt;
  return Delimiter{pos, p < end ? p + 1 : end, close};
}

class Walker {
 public:
  explicit Walker(std::string_view raw) : raw_(raw) {}

  Message Run() {
    Message message;
    ParseEntity(0, raw_.size(), 0, false, true, message.root);
    message.part_count = parts_;
    message.truncated = truncated_;
    return message;
  }

 private:
  // Parses the entity in [begin, end) into `part`. `in_digest` selects the
  // multipart/digest default type; `is_message` marks a message header.
  void ParseEntity(size_t begin, size_t end, int depth, bool in_digest,
                   bool is_message, Part& part) {
    ++parts_;
    HeaderSplit split = SplitEntity(raw_, begin, end);
    part.header = split.header;
    part.body = {split.body_begin, end - split.body_begin};
    std::string_view body = part.body.Of(raw_);
    part.body_lines = CountLines(body);

    std::vector<HeaderField> fields = SplitHeader(part.header.Of(raw_));
    ReadMimeFields(fields, in_digest, part);
    if (is_message) part.envelope = ParseEnvelopeFields(fields);

    bool descends = part.type == "multipart" ||
                    (part.type == "message" &&
                     (part.subtype == "rfc822" || part.subtype == "global"));
    if (!descends) return;
    if (depth >= kMaxDepth || parts_ >= kMaxParts) {
      Flatten(part);
      return;
    }
    if (part.type == "multipart") {
      ParseMultipart(depth, part);
    } else {
      part.children.resize(1);
      ParseEntity(part.body.offset, part.body.end(), depth + 1, false, true,
                  part.children[0]);
    }
  }

  void Flatten(Part& part) {
    part.type = "application";
    part.subtype = "octet-stream";
    part.flattened = true;
    truncated_ = true;
  }

  void ReadMimeFields(const std::vector<HeaderField>& fields, bool in_digest,
                      Part& part) {
    if (in_digest) {
      part.type = "message";
      part.subtype = "rfc822";
    }
    if (std::optional<std::string_view> ct =
            FindField(fields, "Content-Type")) {
      part.has_content_type = true;
      TypedValue tv = ParseTypedValue(*ct);
      part.params = std::move(tv.params);
      size_t slash = tv.token.find('/');
      // RFC 2045 §5.2: an invalid Content-Type means text/plain.
      if (slash != std::string::npos && slash > 0 &&
          slash + 1 < tv.token.size()) {
        part.type = AsciiLower(tv.token.substr(0, slash));
        part.subtype = AsciiLower(tv.token.substr(slash + 1));
      } else {
        part.type = "text";
        part.subtype = "plain";
      }
    }
    if (auto cte = FindField(fields, "Content-Transfer-Encoding")) {
      std::string token = StripComments(*cte);
      if (!token.empty()) part.encoding = std::move(token);
    }
    part.id = OptionalUnfold(fields, "Content-ID");
    part.description = OptionalUnfold(fields, "Content-Description");
    part.md5 = OptionalUnfold(fields, "Content-MD5");
    if (auto cd = FindField(fields, "Content-Disposition")) {
      TypedValue tv = ParseTypedValue(*cd);
      if (!tv.token.empty()) {
        part.disposition = std::move(tv.token);
        part.disposition_params = std::move(tv.params);
      }
    }
    if (auto cl = FindField(fields, "Content-Language")) {
      part.languages = ParseLanguages(*cl);
    }
    if (auto loc = FindField(fields, "Content-Location")) {
      // RFC 2557 §4.2: folding white space inside the URI is not part of
      // it.
      std::string uri;
      for (char c : Unfold(*loc)) {
        if (!IsWsp(c)) uri.push_back(c);
      }
      part.location = std::move(uri);
    }
  }

  // Splits the body of multipart `part` at its boundary.
  void ParseMultipart(int depth, Part& part) {
    std::string boundary = ResolveParam(part.params, "boundary").value_or("");
    // RFC 2046 §5.1.1: a boundary never ends in a space; senders that add
    // one still write delimiter lines without it (the space then reads as
    // transport padding).
    while (!boundary.empty() && IsWsp(boundary.back())) boundary.pop_back();
    std::vector<Delimiter> delimiters;
    if (!boundary.empty()) delimiters = FindDelimiters(part.body, boundary);
    bool digest = part.subtype == "digest";
    for (size_t i = 0; i < delimiters.size(); ++i) {
      if (delimiters[i].close) break;
      if (parts_ >= kMaxParts) {
        truncated_ = true;
        break;
      }
      size_t begin = delimiters[i].line_end;
      size_t end = part.body.end();  // missing close delimiter: runs to end
      if (i + 1 < delimiters.size()) {
        // The line break before a delimiter belongs to the delimiter.
        end = delimiters[i + 1].begin;
        if (end > begin && raw_[end - 1] == '\n') --end;
        if (end > begin && raw_[end - 1] == '\r') --end;
      }
      part.children.emplace_back();
      ParseEntity(begin, end, depth + 1, digest, false, part.children.back());
    }
    if (part.children.empty()) {
      // No boundary, or none found: keep BODYSTRUCTURE well-formed with
      // one text/plain part spanning the body.
      Part& only = part.children.emplace_back();
      ++parts_;
      only.header = {part.body.offset, 0};
      only.body = part.body;
      only.body_lines = part.body_lines;
    }
  }

  // Returns the delimiter lines of `boundary` in `body`, stopping after
  // the close delimiter.
  std::vector<Delimiter> FindDelimiters(ByteRange body,
                                        std::string_view boundary) const {
    std::vector<Delimiter> found;
    size_t pos = body.offset;
    size_t end = body.end();
    while (pos < end) {
      if (auto d = DelimiterAt(raw_, pos, end, boundary)) {
        found.push_back(*d);
        if (d->close) break;
      }
      const char* nl = static_cast<const char*>(
          std::memchr(raw_.data() + pos, '\n', end - pos));
      if (!nl) break;
      pos = nl - raw_.data() + 1;
    }
    return found;
  }

  std::string_view raw_;
  size_t parts_ = 0;
  bool truncated_ = false;
};

}  // namespace

std::optional<std::string_view> Part::FindParam(std::string_view name) const {
  for (const mime::Param& p : params) {
    if (EqualsIgnoreCase(p.name, name)) return p.value;
  }
  return std::nullopt;
}

Message ParseMessage(std::string_view raw) { return Walker(raw).Run(); }

ByteRange MessageHeaderRange(std::string_view raw) {
  return SplitEntity(raw, 0, raw.size()).header;
}

Envelope ParseEnvelope(std::string_view header) {
  return ParseEnvelopeFields(SplitHeader(header));
}

}  // namespace corvus::mime
