// IMAP argument grammars; see imap_parser.h.
#include "mailbox/imap/imap_parser.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <ctime>

namespace corvus::imap {
namespace {

std::unexpected<Error> Bad(std::string message) {
  return Fail(ErrorCode::kProtocol, std::move(message));
}

// atom-specials (RFC 3501 §9): ( ) { SP CTL % * " \ ] and 8-bit.
bool IsAtomChar(unsigned char c, bool allow_bracket, bool allow_wildcards) {
  if (c <= 0x20 || c >= 0x7f) return false;
  switch (c) {
    case '(':
    case ')':
    case '{':
    case '"':
    case '\\':
      return false;
    case '%':
    case '*':
      return allow_wildcards;
    case ']':
      return allow_bracket;
    default:
      return true;
  }
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(c));
  return out;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

constexpr std::array<std::string_view, 12> kMonths = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int MonthIndex(std::string_view name) {
  for (size_t i = 0; i < kMonths.size(); ++i) {
    if (EqualsNoCase(kMonths[i], name)) return static_cast<int>(i);
  }
  return -1;
}

// Days since 1970-01-01 of a proleptic Gregorian date (month 0-based).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  m += 1;
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool ParseDigits(std::string_view s, int& out) {
  if (s.empty() || s.size() > 4) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  std::from_chars(s.data(), s.data() + s.size(), out);
  return true;
}

// "d-Mon-yyyy" or "dd-Mon-yyyy" to days since the epoch.
std::optional<int64_t> ParseDateText(std::string_view s) {
  size_t dash1 = s.find('-');
  if (dash1 == std::string_view::npos) return std::nullopt;
  size_t dash2 = s.find('-', dash1 + 1);
  if (dash2 == std::string_view::npos) return std::nullopt;
  int day = 0, year = 0;
  std::string_view day_text = s.substr(0, dash1);
  if (day_text.size() == 2 && day_text[0] == ' ') day_text.remove_prefix(1);
  if (!ParseDigits(day_text, day) || day_text.size() > 2) return std::nullopt;
  int month = MonthIndex(s.substr(dash1 + 1, dash2 - dash1 - 1));
  std::string_view year_text = s.substr(dash2 + 1);
  if (month < 0 || year_text.size() != 4 || !ParseDigits(year_text, year)) {
    return std::nullopt;
  }
  if (day < 1 || day > 31) return std::nullopt;
  return DaysFromCivil(year, month, day);
}

}  // namespace

std::optional<LiteralSpec> TrailingLiteral(std::string_view line) {
  if (line.ends_with("\r\n")) {
    line.remove_suffix(2);
  } else if (line.ends_with('\n')) {
    line.remove_suffix(1);
  } else {
    return std::nullopt;
  }
  if (!line.ends_with('}')) return std::nullopt;
  line.remove_suffix(1);
  LiteralSpec spec;
  if (line.ends_with('+') || line.ends_with('-')) {
    spec.non_synchronizing = true;
    line.remove_suffix(1);
  }
  size_t open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view digits = line.substr(open + 1);
  if (digits.empty() || digits.size() > 20) return std::nullopt;
  if (!std::all_of(digits.begin(), digits.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  uint64_t size = 0;
  auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), size);
  (void)end;
  // RFC 3501 §4.3: a literal's size is a number32.
  spec.size = (ec != std::errc() || size > 0xffffffffULL) ? UINT64_MAX : size;
  return spec;
}

std::string TagForError(std::string_view buffer) {
  size_t end = 0;
  while (end < buffer.size() && end < 64 &&
         IsAtomChar(static_cast<unsigned char>(buffer[end]), true, false) &&
         buffer[end] != '+') {
    ++end;
  }
  if (end == 0 || (end < buffer.size() && buffer[end] != ' ')) return "*";
  return std::string(buffer.substr(0, end));
}

Result<ImapCommand> ParseCommand(std::string_view buffer) {
  ImapReader reader(buffer);
  ImapCommand command;

  // tag = 1*<any ASTRING-CHAR except "+"> (RFC 3501 §9).
  auto tag = reader.Atom(/*allow_bracket=*/true);
  if (!tag || tag->find('+') != std::string::npos) {
    return Bad("Missing or invalid tag");
  }
  command.tag = std::move(*tag);
  if (auto space = reader.ExpectSpace(); !space) {
    return Bad("Missing command");
  }
  auto name = reader.Atom();
  if (!name) return Bad("Missing or invalid command name");
  command.name = Upper(*name);
  if (command.name == "UID") {
    command.uid = true;
    if (!reader.ExpectSpace()) return Bad("Missing command after UID");
    auto sub = reader.Atom();
    if (!sub) return Bad("Missing command after UID");
    command.name = Upper(*sub);
  }
  if (!reader.AtEnd()) {
    if (auto space = reader.ExpectSpace(); !space) {
      return Bad("Invalid characters in command name");
    }
  }
  command.args = reader.rest();
  return command;
}

// --- ImapReader ----------------------------------------------------------

bool ImapReader::AtEnd() const {
  std::string_view rest = in_.substr(pos_);
  return rest.empty() || rest == "\r\n" || rest == "\n";
}

Status ImapReader::ExpectEnd() const {
  if (!AtEnd()) return Bad("Unexpected text after arguments");
  return Status{};
}

bool ImapReader::Consume(char c) {
  if (!Peek(c)) return false;
  ++pos_;
  return true;
}

Status ImapReader::Expect(char c) {
  if (Consume(c)) return Status{};
  if (c == ' ') return Bad("Missing argument");
  return Bad(std::string("Expected '") + c + "'");
}

bool ImapReader::ConsumeKeyword(std::string_view keyword) {
  if (in_.size() - pos_ < keyword.size()) return false;
  if (!EqualsNoCase(in_.substr(pos_, keyword.size()), keyword)) return false;
  size_t after = pos_ + keyword.size();
  if (after < in_.size() &&
      IsAtomChar(static_cast<unsigned char>(in_[after]), false, false)) {
    return false;
  }
  pos_ = after;
  return true;
}

Result<std::string> ImapReader::AtomLike(bool allow_bracket,
                                         bool allow_wildcards) {
  size_t start = pos_;
  while (pos_ < in_.size() && IsAtomChar(static_cast<unsigned char>(in_[pos_]),
                                         allow_bracket, allow_wildcards)) {
    ++pos_;
  }
  if (pos_ == start) return Bad("Expected an atom");
  return std::string(in_.substr(start, pos_ - start));
}

Result<std::string> ImapReader::Atom(bool allow_bracket) {
  return AtomLike(allow_bracket, false);
}

Result<std::string> ImapReader::FetchAttName() {
  size_t start = pos_;
  while (pos_ < in_.size() && in_[pos_] != '[' &&
         IsAtomChar(static_cast<unsigned char>(in_[pos_]), false, false)) {
    ++pos_;
  }
  if (pos_ == start) return Bad("Expected a fetch attribute");
  return std::string(in_.substr(start, pos_ - start));
}

Result<std::string> ImapReader::Quoted() {
  if (!Consume('"')) return Bad("Expected a quoted string");
  std::string out;
  while (pos_ < in_.size()) {
    char c = in_[pos_++];
    if (c == '"') return out;
    if (c == '\\') {
      // RFC 3501 §9: only \" and \\ are quoted-specials.
      if (pos_ >= in_.size() || (in_[pos_] != '"' && in_[pos_] != '\\')) {
        return Bad("Invalid escape in quoted string");
      }
      out.push_back(in_[pos_++]);
      continue;
    }
    if (c == '\r' || c == '\n' || c == '\0') {
      return Bad("Invalid character in quoted string");
    }
    out.push_back(c);
  }
  return Bad("Unterminated quoted string");
}

Result<std::string> ImapReader::Literal8() {
  if (!Consume('~')) return Bad("Expected a literal8");
  return Literal(/*allow_nul=*/true);
}

Result<std::string> ImapReader::Literal(bool allow_nul) {
  if (!Consume('{')) return Bad("Expected a literal");
  uint64_t size = 0;
  size_t digits = 0;
  while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') {
    if (++digits > 10) return Bad("Literal too large");
    size = size * 10 + static_cast<uint64_t>(in_[pos_++] - '0');
  }
  if (digits == 0) return Bad("Invalid literal");
  if (!Consume('+')) Consume('-');
  if (!Consume('}')) return Bad("Invalid literal");
  if (!Consume('\r')) {
    // Bare LF after the brace is tolerated, as for command lines.
  }
  if (!Consume('\n')) return Bad("Literal not at end of line");
  if (in_.size() - pos_ < size) return Bad("Literal shorter than announced");
  std::string out(in_.substr(pos_, size));
  pos_ += size;
  // RFC 3501 §4.3: a literal of CHAR8 cannot contain NUL.
  if (!allow_nul && out.find('\0') != std::string::npos) {
    return Bad("NUL in literal");
  }
  return out;
}

Result<std::string> ImapReader::String() {
  if (Peek('"')) return Quoted();
  if (Peek('{')) return Literal();
  return Bad("Expected a string");
}

Result<std::string> ImapReader::AString() {
  if (Peek('"') || Peek('{')) return String();
  return AtomLike(/*allow_bracket=*/true, false);
}

Result<std::optional<std::string>> ImapReader::NString() {
  if (ConsumeKeyword("NIL")) return std::optional<std::string>();
  auto s = String();
  if (!s) return Fail(s.error());
  return std::optional<std::string>(std::move(*s));
}

Result<std::string> ImapReader::ListMailbox() {
  if (Peek('"') || Peek('{')) return String();
  return AtomLike(/*allow_bracket=*/true, /*allow_wildcards=*/true);
}

Result<uint64_t> ImapReader::Number() {
  size_t start = pos_;
  uint64_t value = 0;
  while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') {
    if (pos_ - start >= 19) return Bad("Number too large");
    value = value * 10 + static_cast<uint64_t>(in_[pos_++] - '0');
  }
  if (pos_ == start) return Bad("Expected a number");
  return value;
}

Result<uint32_t> ImapReader::NzNumber32() {
  auto n = Number();
  if (!n) return Fail(n.error());
  if (*n == 0 || *n > 0xffffffffULL) return Bad("Number out of range");
  return static_cast<uint32_t>(*n);
}

Result<SequenceSet> ImapReader::Sequence() {
  SequenceSet set;
  // RFC 5182 §2: "$" stands for the saved search result.
  if (Consume('$')) {
    set.saved = true;
    return set;
  }
  auto one = [this]() -> Result<uint32_t> {
    if (Consume('*')) return kMaxUid;
    return NzNumber32();
  };
  do {
    auto first = one();
    if (!first) return Bad("Invalid sequence set");
    UidRange range{*first, *first};
    if (Consume(':')) {
      auto last = one();
      if (!last) return Bad("Invalid sequence set");
      range.last = *last;
    }
    set.ranges.push_back(range);
    // Each range costs at least two input bytes, so this is bounded.
  } while (Consume(','));
  return set;
}

Result<std::string> ImapReader::Flag(bool allow_wildcard) {
  if (Consume('\\')) {
    if (allow_wildcard && Consume('*')) return std::string("\\*");
    auto atom = Atom();
    if (!atom) return Bad("Invalid flag");
    return "\\" + *atom;
  }
  auto atom = Atom();
  if (!atom) return Bad("Invalid flag");
  return atom;
}

Result<std::vector<std::string>> ImapReader::FlagList() {
  if (auto open = Expect('('); !open) return Fail(open.error());
  std::vector<std::string> flags;
  if (Consume(')')) return flags;
  do {
    auto flag = Flag();
    if (!flag) return Fail(flag.error());
    flags.push_back(std::move(*flag));
  } while (Consume(' '));
  if (auto close = Expect(')'); !close) return Fail(close.error());
  return flags;
}

Result<int64_t> ImapReader::Date() {
  std::string text;
  if (Peek('"')) {
    auto quoted = Quoted();
    if (!quoted) return Fail(quoted.error());
    text = std::move(*quoted);
  } else {
    size_t start = pos_;
    while (pos_ < in_.size() &&
           (std::isalnum(static_cast<unsigned char>(in_[pos_])) ||
            in_[pos_] == '-')) {
      ++pos_;
    }
    text = std::string(in_.substr(start, pos_ - start));
  }
  auto days = ParseDateText(text);
  if (!days) return Bad("Invalid date");
  return *days * 86400;
}

Result<int64_t> ImapReader::DateTime() {
  auto text = Quoted();
  if (!text) return Bad("Invalid date-time");
  // date-day-fixed "-" date-month "-" date-year SP time SP zone
  std::string_view s = *text;
  if (s.size() != 26 || s[11] != ' ' || s[20] != ' ' || s[14] != ':' ||
      s[17] != ':') {
    return Bad("Invalid date-time");
  }
  auto days = ParseDateText(s.substr(0, 11));
  int hour = 0, minute = 0, second = 0, zone = 0;
  if (!days || !ParseDigits(s.substr(12, 2), hour) ||
      !ParseDigits(s.substr(15, 2), minute) ||
      !ParseDigits(s.substr(18, 2), second) || (s[21] != '+' && s[21] != '-') ||
      !ParseDigits(s.substr(22, 4), zone) || hour > 23 || minute > 59 ||
      second > 60) {
    return Bad("Invalid date-time");
  }
  int64_t offset = (zone / 100) * 3600 + (zone % 100) * 60;
  if (s[21] == '-') offset = -offset;
  return *days * 86400 + hour * 3600 + minute * 60 + second - offset;
}

// --- FETCH ---------------------------------------------------------------

namespace {

// Reads "[section]" and returns the text between the brackets. Quoted
// header names may hold ']', so quotes are skipped over.
Result<std::string> ReadSection(ImapReader& r) {
  if (auto open = r.Expect('['); !open) return Fail(open.error());
  std::string_view rest = r.rest();
  bool quoted = false;
  for (size_t i = 0; i < rest.size(); ++i) {
    char c = rest[i];
    if (c == '\r' || c == '\n' || c == '\0' || c == '{') break;
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ']' && !quoted) {
      std::string section(rest.substr(0, i));
      for (size_t k = 0; k <= i; ++k) r.Consume(rest[k]);
      return section;
    }
  }
  return Bad("Invalid section");
}

Result<std::optional<std::pair<uint64_t, uint64_t>>> ReadPartial(
    ImapReader& r) {
  if (!r.Consume('<')) return std::optional<std::pair<uint64_t, uint64_t>>();
  auto origin = r.Number();
  if (!origin || !r.Consume('.')) return Bad("Invalid partial");
  auto count = r.Number();
  if (!count || *count == 0 || !r.Consume('>')) return Bad("Invalid partial");
  return std::optional(std::make_pair(*origin, *count));
}

Status ReadFetchAtt(ImapReader& r, std::vector<FetchItem>& items) {
  auto name_or = r.FetchAttName();
  if (!name_or) return Bad("Invalid fetch attribute");
  std::string name = Upper(*name_or);
  auto simple = [&items](FetchAttr attr) {
    items.push_back(FetchItem(attr));
    return Status{};
  };
  if (name == "FLAGS") return simple(FetchAttr::kFlags);
  if (name == "UID") return simple(FetchAttr::kUid);
  if (name == "INTERNALDATE") return simple(FetchAttr::kInternalDate);
  if (name == "RFC822.SIZE") return simple(FetchAttr::kRfc822Size);
  if (name == "ENVELOPE") return simple(FetchAttr::kEnvelope);
  if (name == "BODYSTRUCTURE") return simple(FetchAttr::kBodyStructure);
  if (name == "RFC822") return simple(FetchAttr::kRfc822);
  if (name == "RFC822.HEADER") return simple(FetchAttr::kRfc822Header);
  if (name == "RFC822.TEXT") return simple(FetchAttr::kRfc822Text);
  if (name == "MODSEQ") return simple(FetchAttr::kModseq);
  if (name == "BODY" && !r.Peek('[')) return simple(FetchAttr::kBody);

  FetchItem item;
  if (name == "BODY" || name == "BODY.PEEK") {
    item.attr = FetchAttr::kBodySection;
  } else if (name == "BINARY" || name == "BINARY.PEEK") {
    item.attr = FetchAttr::kBinary;
  } else if (name == "BINARY.SIZE") {
    item.attr = FetchAttr::kBinarySize;
  } else {
    return Bad("Unknown fetch attribute");
  }
  item.peek = name.ends_with(".PEEK");
  auto section = ReadSection(r);
  if (!section) return Fail(section.error());
  item.section = std::move(*section);
  if (item.attr != FetchAttr::kBinarySize) {
    auto partial = ReadPartial(r);
    if (!partial) return Fail(partial.error());
    item.partial = *partial;
  }
  items.push_back(std::move(item));
  return Status{};
}

}  // namespace

Result<FetchRequest> ParseFetch(std::string_view args) {
  ImapReader r(args);
  FetchRequest request;
  auto set = r.Sequence();
  if (!set) return Fail(set.error());
  request.set = std::move(*set);
  if (auto sp = r.ExpectSpace(); !sp) return Fail(sp.error());

  // RFC 3501 §6.4.5: the macros ALL, FAST and FULL.
  auto add = [&request](std::initializer_list<FetchAttr> attrs) {
    for (FetchAttr a : attrs) request.items.push_back(FetchItem(a));
  };
  if (r.ConsumeKeyword("ALL")) {
    add({FetchAttr::kFlags, FetchAttr::kInternalDate, FetchAttr::kRfc822Size,
         FetchAttr::kEnvelope});
  } else if (r.ConsumeKeyword("FAST")) {
    add({FetchAttr::kFlags, FetchAttr::kInternalDate, FetchAttr::kRfc822Size});
  } else if (r.ConsumeKeyword("FULL")) {
    add({FetchAttr::kFlags, FetchAttr::kInternalDate, FetchAttr::kRfc822Size,
         FetchAttr::kEnvelope, FetchAttr::kBody});
  } else if (r.Consume('(')) {
    do {
      if (auto att = ReadFetchAtt(r, request.items); !att) {
        return Fail(att.error());
      }
    } while (r.Consume(' '));
    if (auto close = r.Expect(')'); !close) return Fail(close.error());
  } else if (auto att = ReadFetchAtt(r, request.items); !att) {
    return Fail(att.error());
  }

  // RFC 7162 §3.1.4 and §3.2.6: (CHANGEDSINCE n [VANISHED]).
  if (r.Consume(' ')) {
    if (auto open = r.Expect('('); !open) return Fail(open.error());
    do {
      if (r.ConsumeKeyword("CHANGEDSINCE")) {
        if (auto sp = r.ExpectSpace(); !sp) return Fail(sp.error());
        auto n = r.Number();
        if (!n) return Fail(n.error());
        request.changed_since = *n;
      } else if (r.ConsumeKeyword("VANISHED")) {
        request.vanished = true;
      } else {
        return Bad("Unknown FETCH modifier");
      }
    } while (r.Consume(' '));
    if (auto close = r.Expect(')'); !close) return Fail(close.error());
  }
  if (auto end = r.ExpectEnd(); !end) return Fail(end.error());
  return request;
}

// --- STORE ---------------------------------------------------------------

Result<StoreRequest> ParseStore(std::string_view args) {
  ImapReader r(args);
  StoreRequest request;
  auto set = r.Sequence();
  if (!set) return Fail(set.error());
  request.set = std::move(*set);
  if (auto sp = r.ExpectSpace(); !sp) return Fail(sp.error());

  if (r.Consume('(')) {
    if (!r.ConsumeKeyword("UNCHANGEDSINCE")) {
      return Bad("Unknown STORE modifier");
    }
    if (auto sp = r.ExpectSpace(); !sp) return Fail(sp.error());
    auto n = r.Number();
    if (!n) return Fail(n.error());
    request.unchanged_since = *n;
    if (!r.Consume(')') || !r.Consume(' ')) return Bad("Invalid modifier");
  }

  if (r.Consume('+')) {
    request.op = FlagOp::kAdd;
  } else if (r.Consume('-')) {
    request.op = FlagOp::kRemove;
  }
  if (r.ConsumeKeyword("FLAGS.SILENT")) {
    request.silent = true;
  } else if (!r.ConsumeKeyword("FLAGS")) {
    return Bad("Expected FLAGS, +FLAGS or -FLAGS");
  }
  if (auto sp = r.ExpectSpace(); !sp) return Fail(sp.error());

  if (r.Peek('(')) {
    auto flags = r.FlagList();
    if (!flags) return Fail(flags.error());
    request.flags = std::move(*flags);
  } else {
    do {
      auto flag = r.Flag();
      if (!flag) return Fail(flag.error());
      request.flags.push_back(std::move(*flag));
    } while (r.Consume(' '));
  }
  if (auto end = r.ExpectEnd(); !end) return Fail(end.error());
  return request;
}

// --- SEARCH --------------------------------------------------------------

namespace {

Status ReadSearchKey(ImapReader& r, SearchKey& key, int depth);

// Reads "key *(SP key)" until ')' or the end, into parent.children.
Status ReadSearchKeys(ImapReader& r, SearchKey& parent, int depth,
                      bool in_parens) {
  parent.kind = SearchKey::Kind::kAnd;
  do {
    SearchKey child;
    if (auto s = ReadSearchKey(r, child, depth); !s) return s;
    parent.children.push_back(std::move(child));
    if (in_parens && r.Peek(')')) break;
  } while (r.Consume(' '));
  return Status{};
}

Status ReadSearchKey(ImapReader& r, SearchKey& key, int depth) {
  using K = SearchKey::Kind;
  if (depth > kMaxNesting) return Bad("Search keys nested too deeply");

  if (r.Consume('(')) {
    if (auto s = ReadSearchKeys(r, key, depth + 1, true); !s) return s;
    return r.Expect(')');
  }
  if (r.Peek('$') || r.Peek('*') ||
      (!r.rest().empty() && r.rest()[0] >= '0' && r.rest()[0] <= '9')) {
    auto set = r.Sequence();
    if (!set) return Fail(set.error());
    key.kind = K::kSequence;
    key.set = std::move(*set);
    return Status{};
  }

  auto word_or = r.Atom();
  if (!word_or) return Bad("Invalid search key");
  std::string word = Upper(*word_or);

  // Keys without arguments.
  struct FlagKey {
    std::string_view name;
    K kind;
    std::string_view flag;
  };
  static constexpr std::array<FlagKey, 15> kFlagKeys = {{
      {"ALL", K::kAll, ""},
      {"ANSWERED", K::kFlag, "\\Answered"},
      {"DELETED", K::kFlag, "\\Deleted"},
      {"DRAFT", K::kFlag, "\\Draft"},
      {"FLAGGED", K::kFlag, "\\Flagged"},
      {"SEEN", K::kFlag, "\\Seen"},
      {"UNANSWERED", K::kNoFlag, "\\Answered"},
      {"UNDELETED", K::kNoFlag, "\\Deleted"},
      {"UNDRAFT", K::kNoFlag, "\\Draft"},
      {"UNFLAGGED", K::kNoFlag, "\\Flagged"},
      {"UNSEEN", K::kNoFlag, "\\Seen"},
      {"NEW", K::kNew, ""},
      {"OLD", K::kOld, ""},
      {"RECENT", K::kRecent, ""},
      {"", K::kAll, ""},
  }};
  for (const FlagKey& fk : kFlagKeys) {
    if (!fk.name.empty() && word == fk.name) {
      key.kind = fk.kind;
      key.text = std::string(fk.flag);
      return Status{};
    }
  }

  if (auto sp = r.ExpectSpace(); !sp) return sp;
  if (word == "NOT") {
    key.kind = K::kNot;
    key.children.resize(1);
    return ReadSearchKey(r, key.children[0], depth + 1);
  }
  if (word == "OR") {
    key.kind = K::kOr;
    key.children.resize(2);
    if (auto s = ReadSearchKey(r, key.children[0], depth + 1); !s) return s;
    if (auto sp = r.ExpectSpace(); !sp) return sp;
    return ReadSearchKey(r, key.children[1], depth + 1);
  }
  if (word == "UID") {
    auto set = r.Sequence();
    if (!set) return Fail(set.error());
    key.kind = K::kUid;
    key.set = std::move(*set);
    return Status{};
  }
  if (word == "KEYWORD" || word == "UNKEYWORD") {
    auto flag = r.Atom();
    if (!flag) return Fail(flag.error());
    key.kind = word == "KEYWORD" ? K::kFlag : K::kNoFlag;
    key.text = std::move(*flag);
    return Status{};
  }
  if (word == "LARGER" || word == "SMALLER" || word == "MODSEQ") {
    // RFC 7162 §3.1.5: MODSEQ [entry-name entry-type] n; the entry is
    // accepted and ignored, since this server keeps one modseq per message.
    if (word == "MODSEQ" && r.Peek('"')) {
      if (!r.String() || !r.ExpectSpace() || !r.Atom() || !r.ExpectSpace()) {
        return Bad("Invalid MODSEQ entry");
      }
    }
    auto n = r.Number();
    if (!n) return Fail(n.error());
    key.kind = word == "LARGER"    ? K::kLarger
               : word == "SMALLER" ? K::kSmaller
                                   : K::kModseq;
    key.number = *n;
    return Status{};
  }
  static constexpr std::array<std::pair<std::string_view, K>, 6> kDateKeys = {{
      {"BEFORE", K::kBefore},
      {"ON", K::kOn},
      {"SINCE", K::kSince},
      {"SENTBEFORE", K::kSentBefore},
      {"SENTON", K::kSentOn},
      {"SENTSINCE", K::kSentSince},
  }};
  for (const auto& [name, kind] : kDateKeys) {
    if (word == name) {
      auto date = r.Date();
      if (!date) return Fail(date.error());
      key.kind = kind;
      key.number = static_cast<uint64_t>(*date);
      return Status{};
    }
  }
  static constexpr std::array<std::string_view, 5> kHeaderKeys = {
      "FROM", "TO", "CC", "BCC", "SUBJECT"};
  for (std::string_view name : kHeaderKeys) {
    if (word == name) {
      auto text = r.AString();
      if (!text) return Fail(text.error());
      key.kind = K::kHeader;
      key.field = std::string(name);
      key.text = std::move(*text);
      return Status{};
    }
  }
  if (word == "HEADER") {
    auto field = r.AString();
    if (!field) return Fail(field.error());
    if (auto sp = r.ExpectSpace(); !sp) return sp;
    auto text = r.AString();
    if (!text) return Fail(text.error());
    key.kind = K::kHeader;
    key.field = std::move(*field);
    key.text = std::move(*text);
    return Status{};
  }
  if (word == "BODY" || word == "TEXT") {
    auto text = r.AString();
    if (!text) return Fail(text.error());
    key.kind = word == "BODY" ? K::kBody : K::kText;
    key.text = std::move(*text);
    return Status{};
  }
  return Bad("Unknown search key");
}

}  // namespace

Result<SearchRequest> ParseSearch(std::string_view args) {
  ImapReader r(args);
  SearchRequest request;

  // RFC 4731 §3: RETURN (MIN MAX ALL COUNT) and RFC 5182 SAVE.
  if (r.ConsumeKeyword("RETURN")) {
    request.ret.esearch = true;
    if (!r.Consume(' ') || !r.Consume('(')) return Bad("Invalid RETURN");
    while (!r.Peek(')')) {
      auto opt = r.Atom();
      if (!opt) return Bad("Invalid RETURN option");
      std::string o = Upper(*opt);
      if (o == "MIN") {
        request.ret.min = true;
      } else if (o == "MAX") {
        request.ret.max = true;
      } else if (o == "ALL") {
        request.ret.all = true;
      } else if (o == "COUNT") {
        request.ret.count = true;
      } else if (o == "SAVE") {
        request.ret.save = true;
      } else {
        return Bad("Unknown RETURN option");
      }
      if (!r.Consume(' ')) break;
    }
    if (!r.Consume(')') || !r.Consume(' ')) return Bad("Invalid RETURN");
    // RFC 4731 §3.1: RETURN () means RETURN (ALL).
    const SearchReturn& rt = request.ret;
    if (!rt.min && !rt.max && !rt.count && !rt.save) request.ret.all = true;
  }
  if (r.ConsumeKeyword("CHARSET")) {
    if (auto sp = r.ExpectSpace(); !sp) return Fail(sp.error());
    auto charset = r.AString();
    if (!charset) return Fail(charset.error());
    request.charset = Upper(*charset);
    if (auto sp = r.ExpectSpace(); !sp) return Fail(sp.error());
  }
  if (auto keys = ReadSearchKeys(r, request.key, 1, false); !keys) {
    return Fail(keys.error());
  }
  if (auto end = r.ExpectEnd(); !end) return Fail(end.error());
  return request;
}

// --- APPEND --------------------------------------------------------------

Result<AppendRequest> ParseAppend(std::string_view args) {
  ImapReader r(args);
  AppendRequest request;
  auto mailbox = r.AString();
  if (!mailbox) return Fail(mailbox.error());
  request.mailbox = std::move(*mailbox);
  // Each round consumes at least one literal, so the loop is bounded by
  // the command's size.
  while (r.Consume(' ')) {
    AppendMessage message;
    if (r.Peek('(')) {
      auto flags = r.FlagList();
      if (!flags) return Fail(flags.error());
      message.flags = std::move(*flags);
      if (auto sp = r.ExpectSpace(); !sp) return Fail(sp.error());
    }
    if (r.Peek('"')) {
      auto date = r.DateTime();
      if (!date) return Fail(date.error());
      message.internal_date = *date;
      if (auto sp = r.ExpectSpace(); !sp) return Fail(sp.error());
    }
    // RFC 6855 §4: "UTF8 (~{n}...)"; RFC 3516 literal8 "~{n}".
    bool utf8 = r.ConsumeKeyword("UTF8");
    if (utf8 && (!r.Consume(' ') || !r.Consume('('))) {
      return Bad("Invalid UTF8 append data");
    }
    Result<std::string> data = r.Peek('~')   ? r.Literal8()
                               : r.Peek('{') ? r.String()
                                             : Bad("Message must be a literal");
    if (!data) return Fail(data.error());
    message.data = std::move(*data);
    if (utf8 && !r.Consume(')')) return Bad("Invalid UTF8 append data");
    request.messages.push_back(std::move(message));
  }
  if (request.messages.empty()) return Bad("Missing message");
  if (auto end = r.ExpectEnd(); !end) return Fail(end.error());
  return request;
}

std::string FormatDateTime(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%02d-%s-%04d %02d:%02d:%02d +0000",
                tm.tm_mday, std::string(kMonths[tm.tm_mon]).c_str(),
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buffer;
}

}  // namespace corvus::imap
