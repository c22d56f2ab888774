// IMAP4rev1 command syntax (RFC 3501 §9, RFC 9051 §9): the tag and
// command name, and the argument grammars the commands share — atoms,
// quoted strings, literals, sequence sets, flag lists, FETCH attributes,
// SEARCH keys, STORE and APPEND arguments, date-times.
//
// How a command reaches the parser. The session reads one line; if it
// ends in a literal announcement ({n}, {n+} or {n-}, see
// TrailingLiteral()), it answers "+ " for a synchronising one, reads n
// bytes, then reads the next line, until a line ends without one. The
// whole command — lines and literal bytes exactly as on the wire — is one
// buffer, and the functions here parse that buffer. They never read from
// the network, so they can be tested and fuzzed alone.
//
// Hostile input: every function bounds its work by the input size, list
// nesting is bounded by kMaxNesting (an error past it, never deep
// recursion), and every error is a value: kProtocol with a message fit
// for a tagged BAD.
//
// Thread safety: pure functions and plain values.
#ifndef CORVUS_MAILBOX_IMAP_IMAP_PARSER_H_
#define CORVUS_MAILBOX_IMAP_IMAP_PARSER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/account_store.h"

namespace corvus::imap {

// Parenthesised lists and SEARCH keys nest at most this deep.
inline constexpr int kMaxNesting = 16;

// A literal announced at the end of a line.
struct LiteralSpec {
  uint64_t size = 0;
  // {n+} (RFC 7888 LITERAL+) or {n-} (LITERAL-): the client sends the
  // bytes without waiting for a continuation.
  bool non_synchronizing = false;
};

// Returns the literal `line` announces, if it ends (before its CRLF or
// LF) in "{n}", "{n+}" or "{n-}". A brace group that is not a valid
// literal is left for the parser to refuse; sizes beyond 2^32-1 read as
// UINT64_MAX so the caller's size limit refuses them.
std::optional<LiteralSpec> TrailingLiteral(std::string_view line);

// The first token of `buffer` if it looks like a tag, else "*". For BAD
// replies to commands that failed to parse.
std::string TagForError(std::string_view buffer);

// A sequence set. Numbers are 1..2^32-1; kMaxUid stands for "*".
struct SequenceSet {
  UidSet ranges;       // as written: first may be above last
  bool saved = false;  // "$" (RFC 5182): the last SEARCH result
};

// A parsed command line.
struct ImapCommand {
  std::string tag;
  std::string name;  // upper case, e.g. "FETCH"
  bool uid = false;  // "UID FETCH" etc.
  // What follows the name and its space, up to and including the final
  // line terminator; empty if nothing follows.
  std::string_view args;
};

// Splits tag, (UID) and command name off `buffer`, which must stay alive
// as long as `args` is used.
Result<ImapCommand> ParseCommand(std::string_view buffer);

// A cursor over command arguments.
class ImapReader {
 public:
  explicit ImapReader(std::string_view input) : in_(input) {}

  // True when only the line terminator (or nothing) is left.
  bool AtEnd() const;
  // Requires AtEnd(); else "unexpected text".
  Status ExpectEnd() const;
  bool Peek(char c) const { return pos_ < in_.size() && in_[pos_] == c; }
  bool Consume(char c);
  Status Expect(char c);
  Status ExpectSpace() { return Expect(' '); }
  // Consumes `keyword` (case-insensitive) if it is the next atom.
  bool ConsumeKeyword(std::string_view keyword);

  // ATOM-CHAR+ (RFC 3501 §9). With `allow_bracket`, also ']' (ASTRING).
  Result<std::string> Atom(bool allow_bracket = false);
  // atom | quoted | literal.
  Result<std::string> AString();
  // quoted | literal.
  Result<std::string> String();
  // NIL | string.
  Result<std::optional<std::string>> NString();
  // A FETCH attribute name: atom characters up to '[' ("BODY.PEEK").
  Result<std::string> FetchAttName();
  // list-mailbox: like astring but '%' and '*' allowed in atoms.
  Result<std::string> ListMailbox();
  // "~{n}" literal8 (RFC 3516): like a literal, but NUL is allowed.
  Result<std::string> Literal8();
  // 1*DIGIT, at most 19 digits (so it fits in 64 bits).
  Result<uint64_t> Number();
  Result<uint32_t> NzNumber32();
  Result<SequenceSet> Sequence();
  // A flag: "\Seen" or a keyword atom. "\*" when `allow_wildcard`.
  Result<std::string> Flag(bool allow_wildcard = false);
  // "(" [flag *(SP flag)] ")".
  Result<std::vector<std::string>> FlagList();
  // A date as in SEARCH SINCE: "1-Feb-1994", optionally quoted.
  // Returns Unix seconds of 00:00 UTC that day.
  Result<int64_t> Date();
  // An APPEND date-time: "\"17-Jul-1996 02:44:25 -0700\"" as Unix seconds.
  Result<int64_t> DateTime();

  size_t position() const { return pos_; }
  std::string_view rest() const { return in_.substr(pos_); }

 private:
  Result<std::string> Quoted();
  Result<std::string> Literal(bool allow_nul = false);
  Result<std::string> AtomLike(bool allow_bracket, bool allow_wildcards);

  std::string_view in_;
  size_t pos_ = 0;
};

// --- FETCH -------------------------------------------------------------

enum class FetchAttr {
  kFlags,
  kUid,
  kInternalDate,
  kRfc822Size,
  kEnvelope,
  kBodyStructure,  // BODYSTRUCTURE
  kBody,           // BODY without a section: non-extensible structure
  kBodySection,    // BODY[...] / BODY.PEEK[...]
  kBinary,         // BINARY[...] / BINARY.PEEK[...] (RFC 3516)
  kBinarySize,     // BINARY.SIZE[...]
  kRfc822,         // = BODY[]
  kRfc822Header,   // = BODY.PEEK[HEADER]
  kRfc822Text,     // = BODY[TEXT]
  kModseq,         // RFC 7162
};

struct FetchItem {
  FetchItem() = default;
  explicit FetchItem(FetchAttr a, bool p = false, std::string s = {})
      : attr(a), peek(p), section(std::move(s)) {}

  FetchAttr attr = FetchAttr::kFlags;
  bool peek = false;
  std::string section;  // between the brackets, as written
  // <origin.count>; count 0 never happens (nz-number).
  std::optional<std::pair<uint64_t, uint64_t>> partial;
};

struct FetchRequest {
  SequenceSet set;
  std::vector<FetchItem> items;
  std::optional<uint64_t> changed_since;  // (CHANGEDSINCE n)
  bool vanished = false;                  // (VANISHED), UID FETCH only
};

// Parses "sequence-set SP (att-list | att | ALL | FAST | FULL)
// [SP (modifiers)]".
Result<FetchRequest> ParseFetch(std::string_view args);

// --- STORE -------------------------------------------------------------

struct StoreRequest {
  SequenceSet set;
  std::optional<uint64_t> unchanged_since;
  FlagOp op = FlagOp::kReplace;
  bool silent = false;
  std::vector<std::string> flags;
};

Result<StoreRequest> ParseStore(std::string_view args);

// --- SEARCH ------------------------------------------------------------

struct SearchKey {
  enum class Kind {
    kAll,
    kAnd,  // children all match (a parenthesised list or the top level)
    kOr,   // two children
    kNot,  // one child
    kSequence,
    kUid,
    kFlag,    // has `text` (a flag)
    kNoFlag,  // lacks `text`
    kNew,     // \Recent and not \Seen
    kOld,     // not \Recent
    kRecent,
    kHeader,  // header `field` contains `text`
    kBody,
    kText,
    kLarger,
    kSmaller,
    kBefore,  // internal date
    kOn,
    kSince,
    kSentBefore,
    kSentOn,
    kSentSince,
    kModseq,
  };
  Kind kind = Kind::kAll;
  std::string field;
  std::string text;
  uint64_t number = 0;  // size, date (Unix seconds) or modseq
  SequenceSet set;
  std::vector<SearchKey> children;
};

// ESEARCH (RFC 4731) RETURN options.
struct SearchReturn {
  bool esearch = false;  // RETURN was given
  bool min = false, max = false, all = false, count = false, save = false;
};

struct SearchRequest {
  SearchReturn ret;
  std::string charset;  // empty: none given
  SearchKey key;        // kAnd of the top-level keys
};

// Parses "[RETURN (opts)] [CHARSET x] key *(SP key)".
Result<SearchRequest> ParseSearch(std::string_view args);

// --- APPEND ------------------------------------------------------------

struct AppendMessage {
  std::vector<std::string> flags;
  std::optional<int64_t> internal_date;
  std::string data;
};

struct AppendRequest {
  std::string mailbox;  // as sent (mUTF-7 or UTF-8), not decoded
  std::vector<AppendMessage> messages;  // at least one
};

// Parses "mailbox 1*(SP [flag-list SP] [date-time SP] literal)": one
// message, or several (RFC 3502 MULTIAPPEND). Each literal may be a
// literal8 "~{n}" (RFC 3516, NUL allowed) or the RFC 6855 form
// "UTF8 (literal8)".
Result<AppendRequest> ParseAppend(std::string_view args);

// Formats Unix seconds as an IMAP date-time in UTC,
// "17-Jul-1996 09:44:25 +0000" (without quotes).
std::string FormatDateTime(int64_t unix_seconds);

}  // namespace corvus::imap

#endif  // CORVUS_MAILBOX_IMAP_IMAP_PARSER_H_
