// SEARCH and UID SEARCH (RFC 3501 §6.4.4) with ESEARCH return options
// (RFC 4731), SEARCHRES "$" (RFC 5182) and CONDSTORE MODSEQ (RFC 7162).
//
// The query path is separate from the command: MatchMessage() evaluates a
// parsed SearchKey against one message's metadata and, only for keys that
// need it, its bytes. A future index answers the same keys by replacing
// the scan in CmdSearch; the parser and the response code stay.
//
// Header keys (HEADER, the header half of TEXT, SENTBEFORE/ON/SINCE) read
// the header block from the store's header cache (account_store.h), so a
// header search opens no blob; a message without a cached header, and
// BODY/TEXT, read the blob. The scan goes kScanChunk messages at a time,
// so that a large mailbox's rows and headers are never all in memory.
//
// BODY and TEXT look into every leaf part with its transfer encoding
// (base64, quoted-printable) undone. TODO(corvus): charsets other than
// UTF-8 and US-ASCII are not converted and case folding is ASCII only,
// so "ÉTÉ" does not find "été". Costs recall until the Xapian index
// answers these keys.
#include <algorithm>
#include <cctype>
#include <map>

#include "common/log.h"
#include "mailbox/imap/binary_section.h"
#include "mailbox/imap/session.h"
#include "mime/decode.h"
#include "mime/header.h"
#include "mime/message.h"

namespace corvus::imap {
namespace {

using Kind = SearchKey::Kind;

// Scans in kScanChunk steps; see the top of this file.
constexpr size_t kScanChunk = 1000;

// ASCII case folding by table: std::tolower is a call per byte, and the
// body scan runs over every byte of the mailbox.
struct FoldTable {
  unsigned char lower[256];
  constexpr FoldTable() : lower() {
    for (int c = 0; c < 256; ++c) {
      lower[c] =
          static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
  }
};
constexpr FoldTable kFold;

unsigned char Fold(char c) {
  return kFold.lower[static_cast<unsigned char>(c)];
}

// True if `haystack` contains `needle`, ignoring ASCII case.
bool ContainsNoCase(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > haystack.size()) return false;
  const unsigned char first = Fold(needle[0]);
  const size_t last_start = haystack.size() - needle.size();
  for (size_t i = 0; i <= last_start; ++i) {
    if (Fold(haystack[i]) != first) continue;
    size_t k = 1;
    while (k < needle.size() && Fold(haystack[i + k]) == Fold(needle[k])) ++k;
    if (k == needle.size()) return true;
  }
  return false;
}

// True if evaluating `key` reads a header field.
bool NeedsHeader(const SearchKey& key) {
  switch (key.kind) {
    case Kind::kHeader:
    case Kind::kText:
    case Kind::kSentBefore:
    case Kind::kSentOn:
    case Kind::kSentSince:
      return true;
    default:
      return std::any_of(key.children.begin(), key.children.end(), NeedsHeader);
  }
}

// True if evaluating `key` reads a message body.
bool NeedsBody(const SearchKey& key) {
  return key.kind == Kind::kBody || key.kind == Kind::kText ||
         std::any_of(key.children.begin(), key.children.end(), NeedsBody);
}

bool UsesModseq(const SearchKey& key) {
  return key.kind == Kind::kModseq ||
         std::any_of(key.children.begin(), key.children.end(), UsesModseq);
}

// Days since the epoch of an RFC 5322 Date: value ("Tue, 1 Jul 2003
// 10:52:37 +0200"), ignoring time and zone as RFC 3501 §6.4.4 asks.
std::optional<int64_t> SentDay(std::string_view value) {
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr",
                                                 "may", "jun", "jul", "aug",
                                                 "sep", "oct", "nov", "dec"};
  size_t comma = value.find(',');
  if (comma != std::string_view::npos) value.remove_prefix(comma + 1);
  std::vector<std::string> words;
  std::string word;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
      if (words.size() == 3) break;
    } else {
      word.push_back(static_cast<char>(std::tolower(c)));
    }
  }
  if (!word.empty() && words.size() < 3) words.push_back(word);
  if (words.size() < 3) return std::nullopt;
  int month = -1;
  for (int i = 0; i < 12; ++i) {
    if (words[1].starts_with(kMonths[i])) month = i;
  }
  char* end = nullptr;
  long day = std::strtol(words[0].c_str(), &end, 10);
  long year = std::strtol(words[2].c_str(), nullptr, 10);
  if (month < 0 || day < 1 || day > 31 || year < 1) return std::nullopt;
  if (year < 50) year += 2000;
  if (year < 1000) year += 1900;
  // Days from civil (proleptic Gregorian).
  int m = month + 1;
  int64_t y = year - (m <= 2);
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// One message as the query sees it. The header comes from the header
// cache when there is one; the blob is read only once a key needs it (the
// body, or a header that is not cached), and parsed only for the body.
class SearchTarget {
 public:
  SearchTarget(const MessageInfo& info, const std::string* cached_header,
               const BlobStore& blobs)
      : info_(info), cached_header_(cached_header), blobs_(blobs) {}

  const MessageInfo& info() const { return info_; }

  std::string_view Header() {
    if (cached_header_ != nullptr) return *cached_header_;
    std::string_view raw = Raw();
    return mime::MessageHeaderRange(raw).Of(raw);
  }

  // The stored message; empty if it cannot be read (see unreadable()).
  std::string_view Raw() {
    if (!raw_) {
      auto read = blobs_.Read(info_.blob, info_.size);
      unreadable_ = !read;
      raw_ = read ? std::move(*read) : std::string();
    }
    return *raw_;
  }

  const mime::Message& Parsed() {
    if (!parsed_) parsed_ = mime::ParseMessage(Raw());
    return *parsed_;
  }

  // True once reading the blob failed: the message is then left out of
  // the result, whatever the query said of its empty stand-in.
  bool unreadable() const { return unreadable_; }

  // The header block taken from the blob for want of a cached one, if
  // the blob was read: what the header cache should get.
  std::optional<std::string_view> HeaderToCache() {
    if (cached_header_ != nullptr || !raw_ || unreadable_) return {};
    return Header();
  }

 private:
  const MessageInfo& info_;
  const std::string* cached_header_;
  const BlobStore& blobs_;
  std::optional<std::string> raw_;
  std::optional<mime::Message> parsed_;
  bool unreadable_ = false;
};

// Fills in the blob names of the `listed` summaries (UID order) that
// have no cached header (`headers`, UID order): those are searched from
// their blobs.
Status AddBlobNames(AccountStore& store, std::string_view folder,
                    const std::vector<CachedHeader>& headers,
                    std::vector<MessageInfo>& listed) {
  std::vector<uint32_t> uncached;
  auto header = headers.begin();
  for (const MessageInfo& m : listed) {
    while (header != headers.end() && header->uid < m.uid) ++header;
    if (header == headers.end() || header->uid != m.uid) {
      uncached.push_back(m.uid);
    }
  }
  if (uncached.empty()) return {};
  auto full = store.ListMessages(folder, ToUidSet(uncached));
  if (!full) return Fail(full.error());
  auto summary = listed.begin();
  for (MessageInfo& m : *full) {
    while (summary != listed.end() && summary->uid < m.uid) ++summary;
    if (summary != listed.end() && summary->uid == m.uid) {
      summary->blob = std::move(m.blob);
    }
  }
  return {};
}

// UIDs each sequence-set key stands for, resolved before the scan.
using ResolvedSets = std::map<const SearchKey*, std::vector<uint32_t>>;

bool HasFlagNoCase(const std::vector<std::string>& flags,
                   std::string_view flag) {
  return std::any_of(flags.begin(), flags.end(), [flag](const std::string& f) {
    return f.size() == flag.size() &&
           std::equal(f.begin(), f.end(), flag.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) ==
                    std::tolower(static_cast<unsigned char>(b));
           });
  });
}

// True if no field of the header block `header` can match `needle` once
// decoded, judged from the raw bytes: most messages of a header search do
// not match, and this spares them splitting and decoding. It can only
// judge a plain ASCII block without encoded words, where decoding just
// unfolds lines, and a needle without blanks, which no unfolding joins.
bool HeaderCannotMatch(std::string_view header, std::string_view needle) {
  if (needle.empty()) return false;
  for (char c : needle) {
    if (c == ' ' || c == '\t') return false;
  }
  for (size_t i = 0; i < header.size(); ++i) {
    const auto c = static_cast<unsigned char>(header[i]);
    if (c >= 0x80) return false;
    if (c == '=' && i + 1 < header.size() && header[i + 1] == '?') {
      return false;
    }
  }
  return !ContainsNoCase(header, needle);
}

bool MatchHeader(SearchTarget& target, const SearchKey& key) {
  if (HeaderCannotMatch(target.Header(), key.text)) return false;
  for (const mime::HeaderField& field : mime::SplitHeader(target.Header())) {
    if (!mime::EqualsIgnoreCase(field.name, key.field)) continue;
    std::string value = mime::DecodeHeaderText(field.value);
    if (ContainsNoCase(value, key.text)) return true;
  }
  return false;
}

std::optional<int64_t> TargetSentDay(SearchTarget& target) {
  auto fields = mime::SplitHeader(target.Header());
  auto date = mime::FindField(fields, "Date");
  if (!date) return std::nullopt;
  return SentDay(mime::Unfold(*date));
}

// True unless the part's transfer encoding leaves its bytes as they are
// (7bit, 8bit, binary, or none), in which case it is searched in place.
bool NeedsDecoding(const mime::Part& part) {
  if (!part.encoding) return false;
  return !mime::EqualsIgnoreCase(*part.encoding, "7bit") &&
         !mime::EqualsIgnoreCase(*part.encoding, "8bit") &&
         !mime::EqualsIgnoreCase(*part.encoding, "binary");
}

// True if a leaf part's decoded body contains `needle`. Walks the part
// tree with an explicit stack; the parser bounds its size.
bool BodyContains(SearchTarget& target, std::string_view needle) {
  std::vector<const mime::Part*> stack = {&target.Parsed().root};
  while (!stack.empty()) {
    const mime::Part* part = stack.back();
    stack.pop_back();
    if (!part->children.empty()) {
      for (const mime::Part& child : part->children) stack.push_back(&child);
      continue;
    }
    std::string_view raw = target.Raw();
    if (!NeedsDecoding(*part)) {
      if (ContainsNoCase(part->body.Of(raw), needle)) return true;
      continue;
    }
    auto decoded = DecodePartBody(raw, *part);
    std::string_view text =
        decoded ? std::string_view(*decoded) : part->body.Of(raw);
    if (ContainsNoCase(text, needle)) return true;
  }
  return false;
}

// Evaluates `key` for one message. Pure apart from lazy parsing.
bool MatchMessage(const SearchKey& key, SearchTarget& target,
                  const ResolvedSets& sets) {
  const MessageInfo& m = target.info();
  const int64_t day_start = static_cast<int64_t>(key.number);
  switch (key.kind) {
    case Kind::kAll:
      return true;
    case Kind::kAnd:
      return std::all_of(
          key.children.begin(), key.children.end(),
          [&](const SearchKey& k) { return MatchMessage(k, target, sets); });
    case Kind::kOr:
      return MatchMessage(key.children[0], target, sets) ||
             MatchMessage(key.children[1], target, sets);
    case Kind::kNot:
      return !MatchMessage(key.children[0], target, sets);
    case Kind::kSequence:
    case Kind::kUid: {
      const std::vector<uint32_t>& uids = sets.at(&key);
      return std::binary_search(uids.begin(), uids.end(), m.uid);
    }
    case Kind::kFlag:
      return HasFlagNoCase(m.flags, key.text);
    case Kind::kNoFlag:
      return !HasFlagNoCase(m.flags, key.text);
    case Kind::kNew:
    case Kind::kRecent:
      return false;  // \Recent is not tracked; see cmd_select.cc
    case Kind::kOld:
      return true;
    case Kind::kLarger:
      return m.size > key.number;
    case Kind::kSmaller:
      return m.size < key.number;
    case Kind::kBefore:
      return m.internal_date < day_start;
    case Kind::kOn:
      return m.internal_date >= day_start &&
             m.internal_date < day_start + 86400;
    case Kind::kSince:
      return m.internal_date >= day_start;
    case Kind::kModseq:
      return m.modseq >= key.number;
    case Kind::kHeader:
      return MatchHeader(target, key);
    case Kind::kBody:
      return BodyContains(target, key.text);
    case Kind::kText:
      return ContainsNoCase(target.Header(), key.text) ||
             BodyContains(target, key.text);
    case Kind::kSentBefore:
    case Kind::kSentOn:
    case Kind::kSentSince: {
      auto sent = TargetSentDay(target);
      if (!sent) return false;
      int64_t day = day_start / 86400;
      if (key.kind == Kind::kSentBefore) return *sent < day;
      if (key.kind == Kind::kSentOn) return *sent == day;
      return *sent >= day;
    }
  }
  return false;
}

}  // namespace

Task<Completion> ImapSession::CmdSearch(const ImapCommand& command) {
  auto request = ParseSearch(command.args);
  if (!request) co_return Completion::Bad(request.error().message);
  // RFC 3501 §6.4.4: an unsupported charset is NO [BADCHARSET].
  if (!request->charset.empty() && request->charset != "US-ASCII" &&
      request->charset != "UTF-8") {
    co_return Completion::No("[BADCHARSET (US-ASCII UTF-8)] Unknown charset");
  }

  // Resolve every sequence-set key against this session's view first.
  ResolvedSets sets;
  std::vector<const SearchKey*> stack = {&request->key};
  while (!stack.empty()) {
    const SearchKey* key = stack.back();
    stack.pop_back();
    for (const SearchKey& child : key->children) stack.push_back(&child);
    if (key->kind != Kind::kSequence && key->kind != Kind::kUid) continue;
    auto uids = ResolveSet(key->set, key->kind == Kind::kUid);
    if (!uids) {
      // RFC 9051 §6.4.4: in SEARCH, a sequence number past the end is no
      // error; it just matches nothing.
      if (messages_.empty() || key->kind == Kind::kUid) {
        sets[key] = {};
        continue;
      }
      SequenceSet clamped = key->set;
      for (UidRange& r : clamped.ranges) {
        r.first = std::min<uint32_t>(r.first, messages_.size());
        r.last = std::min<uint32_t>(r.last, messages_.size());
      }
      uids = ResolveSet(clamped, false);
      if (!uids) co_return Completion::Bad(uids.error().message);
    }
    sets[key] = std::move(*uids);
  }
  if (UsesModseq(request->key)) condstore_enabled_ = true;

  std::vector<uint32_t> matched;  // UIDs, ascending
  const std::string folder = folder_;
  const bool needs_header = NeedsHeader(request->key);
  const bool needs_body = NeedsBody(request->key);
  const BlobStore& blobs = deps_.store.blobs();
  const SequenceMap known = messages_;  // read on the blocking pool
  uint64_t max_modseq = 0;
  const SearchKey& root = request->key;

  // Messages this session has not been told about yet are not searched:
  // their sequence numbers do not exist for the client.
  for (uint32_t begin = 0; begin < known.size(); begin += kScanChunk) {
    // Sequence numbers begin + 1 .. end.
    const uint32_t end =
        std::min<uint32_t>(known.size(), begin + kScanChunk);
    const UidSet chunk = {{known.Uid(begin + 1), known.Uid(end)}};
    std::vector<MessageInfo> listed;
    std::vector<CachedHeader> headers;
    std::vector<CachedHeader> to_cache;
    auto done = co_await WithAccount([&](AccountStore& s) -> Status {
      // Only a blob read needs the blob name; the rest is in the compact
      // summaries.
      auto list = needs_body ? s.ListMessages(folder, chunk)
                             : s.ListSummaries(folder, chunk);
      if (!list) return Fail(list.error());
      listed = std::move(*list);
      if (!needs_header) return Status{};
      auto cached = s.ListHeaders(folder, chunk);
      if (!cached) return Fail(cached.error());
      headers = std::move(*cached);
      if (needs_body) return Status{};
      return AddBlobNames(s, folder, headers, listed);
    });
    if (!done) co_return StoreFailure(done.error());

    // On the blocking pool: it may read blobs.
    co_await Offload([&] {
      auto header = headers.begin();
      for (const MessageInfo& m : listed) {
        if (!known.Contains(m.uid)) continue;
        while (header != headers.end() && header->uid < m.uid) ++header;
        const bool cached = header != headers.end() && header->uid == m.uid;
        SearchTarget target(m, cached ? &header->header : nullptr, blobs);
        if (MatchMessage(root, target, sets) && !target.unreadable()) {
          matched.push_back(m.uid);
          max_modseq = std::max(max_modseq, m.modseq);
        }
        if (auto found = target.HeaderToCache(); found && needs_header) {
          to_cache.push_back({m.uid, std::string(*found)});
        }
      }
    });

    // Messages stored before the header cache existed get their entry
    // now, so that the next header search need not read their blobs.
    if (to_cache.empty()) continue;
    auto cached = co_await WithAccount([&](AccountStore& s) -> Status {
      return s.CacheHeaders(folder, to_cache);
    });
    if (!cached) {
      conn_.log().Warning("imap_header_cache_failed",
                          {{"error", cached.error().ToString()}});
    }
  }

  std::vector<uint32_t> numbers;
  for (uint32_t uid : matched) {
    if (command.uid) {
      numbers.push_back(uid);
    } else if (auto seq = messages_.Seq(uid)) {
      numbers.push_back(*seq);
    }
  }
  const SearchReturn& ret = request->ret;
  if (ret.save) saved_search_ = matched;

  if (!ret.esearch) {
    std::string line = "SEARCH";
    for (uint32_t n : numbers) line += " " + std::to_string(n);
    // RFC 7162 §3.1.5: with MODSEQ in the query, the highest one found.
    if (UsesModseq(request->key) && !numbers.empty()) {
      line += " (MODSEQ " + std::to_string(max_modseq) + ")";
    }
    Untagged(line);
  } else if (ret.min || ret.max || ret.all || ret.count) {
    // RFC 5182 §2.4: SAVE alone returns no ESEARCH response.
    std::string line = "ESEARCH (TAG " + ImapQuote(command.tag) + ")";
    if (command.uid) line += " UID";
    if (ret.min && !numbers.empty()) {
      line += " MIN " + std::to_string(numbers.front());
    }
    if (ret.max && !numbers.empty()) {
      line += " MAX " + std::to_string(numbers.back());
    }
    if (ret.count) line += " COUNT " + std::to_string(numbers.size());
    if (ret.all && !numbers.empty()) line += " ALL " + FormatNumberSet(numbers);
    if (UsesModseq(request->key) && !numbers.empty()) {
      line += " MODSEQ " + std::to_string(max_modseq);
    }
    Untagged(line);
  }
  co_return Completion::Ok(command.uid ? "UID SEARCH completed"
                                       : "SEARCH completed");
}

}  // namespace corvus::imap
