// Address-list parser; see address.h.
//
// Two passes: a lexer turns the value into tokens (atoms, quoted
// strings, domain literals, comments, specials), then a parser walks the
// tokens. Every loop iteration consumes at least one token, so the
// parser ends on any input.
#include "mime/address.h"

#include <cstddef>

namespace corvus::mime {
namespace {

enum class TokenKind { kAtom, kQuoted, kDomainLiteral, kComment, kSpecial };

struct Token {
  TokenKind kind;
  std::string text;  // unquoted for kQuoted/kComment, raw otherwise
  char special = 0;
};

bool IsWsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// RFC 5322 §3.2.3 specials that matter for address structure. '.' is kept
// inside atoms (obs-phrase allows it, and local parts contain it).
bool IsSpecial(char c) {
  return c == '<' || c == '>' || c == ',' || c == ':' || c == ';' || c == '@' ||
         c == '(' || c == ')' || c == '"' || c == '[' || c == ']';
}

// Reads a delimited run that may contain backslash escapes, starting just
// after the opening delimiter. Comments nest (RFC 5322 §3.2.2).
std::string ReadDelimited(std::string_view s, size_t& pos, char close,
                          bool nests) {
  std::string text;
  int depth = 1;
  while (pos < s.size()) {
    char c = s[pos++];
    if (c == '\\' && pos < s.size()) {
      text.push_back(s[pos++]);
      continue;
    }
    if (nests && c == '(') ++depth;
    if (c == close && --depth == 0) break;
    if (c == '\r' || c == '\n') continue;
    text.push_back(c);
  }
  return text;
}

std::vector<Token> Lex(std::string_view s) {
  std::vector<Token> tokens;
  size_t pos = 0;
  while (pos < s.size()) {
    char c = s[pos];
    if (IsWsp(c)) {
      ++pos;
    } else if (c == '"') {
      ++pos;
      tokens.push_back({TokenKind::kQuoted, ReadDelimited(s, pos, '"', false)});
    } else if (c == '(') {
      ++pos;
      tokens.push_back({TokenKind::kComment, ReadDelimited(s, pos, ')', true)});
    } else if (c == '[') {
      size_t begin = pos++;
      while (pos < s.size() && s[pos] != ']') ++pos;
      if (pos < s.size()) ++pos;
      tokens.push_back({TokenKind::kDomainLiteral,
                        std::string(s.substr(begin, pos - begin))});
    } else if (IsSpecial(c)) {
      ++pos;
      tokens.push_back({TokenKind::kSpecial, std::string(1, c), c});
    } else {
      size_t begin = pos;
      while (pos < s.size() && !IsWsp(s[pos]) && !IsSpecial(s[pos])) ++pos;
      tokens.push_back(
          {TokenKind::kAtom, std::string(s.substr(begin, pos - begin))});
    }
  }
  return tokens;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  std::vector<Address> Run() {
    while (pos_ < tokens_.size()) {
      if (IsSpecialAt(',')) {
        ++pos_;
      } else if (IsSpecialAt(';')) {
        ++pos_;
        CloseGroup();
      } else {
        ParseItem();
      }
    }
    CloseGroup();
    return std::move(out_);
  }

 private:
  bool IsSpecialAt(char c) const {
    return pos_ < tokens_.size() && tokens_[pos_].kind == TokenKind::kSpecial &&
           tokens_[pos_].special == c;
  }

  void CloseGroup() {
    if (!in_group_) return;
    in_group_ = false;
    out_.push_back({Address::Kind::kGroupEnd, "", "", "", ""});
  }

  // Joins tokens [begin, end) as a phrase: words separated by one space,
  // comments dropped.
  std::string Phrase(size_t begin, size_t end) const {
    std::string out;
    for (size_t i = begin; i < end; ++i) {
      const Token& t = tokens_[i];
      if (t.kind == TokenKind::kComment) continue;
      if (!out.empty()) out.push_back(' ');
      out += t.text;
    }
    return out;
  }

  // Joins tokens without spaces: local parts and domains.
  std::string Joined(size_t begin, size_t end) const {
    std::string out;
    for (size_t i = begin; i < end; ++i) {
      if (tokens_[i].kind != TokenKind::kComment) out += tokens_[i].text;
    }
    return out;
  }

  // The last comment in [begin, end), used as the display name of
  // "user@host (Name)" addresses.
  std::string CommentName(size_t begin, size_t end) const {
    std::string name;
    for (size_t i = begin; i < end; ++i) {
      if (tokens_[i].kind == TokenKind::kComment) name = tokens_[i].text;
    }
    return name;
  }

  // Advances to the next token that is one of `stops` (or the end).
  void SkipUntil(std::string_view stops) {
    while (pos_ < tokens_.size() &&
           !(tokens_[pos_].kind == TokenKind::kSpecial &&
             stops.find(tokens_[pos_].special) != std::string_view::npos)) {
      ++pos_;
    }
  }

  void ParseItem() {
    size_t begin = pos_;
    SkipUntil("<:@,;>");
    size_t phrase_end = pos_;
    if (pos_ >= tokens_.size() || IsSpecialAt(',') || IsSpecialAt(';')) {
      AddBare(begin, phrase_end);
      return;
    }
    char c = tokens_[pos_].special;
    ++pos_;
    if (c == '<') {
      ParseAngle(Phrase(begin, phrase_end));
    } else if (c == ':') {
      // A colon inside a group is garbage; treat it as a separator.
      if (!in_group_) {
        CloseGroup();
        in_group_ = true;
        out_.push_back({Address::Kind::kGroupStart, "", "",
                        Phrase(begin, phrase_end), ""});
      }
    } else if (c == '@') {
      size_t domain_begin = pos_;
      SkipUntil("<,;>:");
      std::string local = Joined(begin, phrase_end);
      if (local.empty()) return;  // "@host" alone names no mailbox
      Add(CommentName(begin, pos_), "", std::move(local),
          Joined(domain_begin, pos_));
    }
    // A stray '>' is dropped: it has been consumed above.
  }

  // Parses the inside of "<[route:]local@domain>" after the '<'.
  void ParseAngle(std::string name) {
    std::string route;
    size_t begin = pos_;
    // RFC 5322 §4.4 obs-route: "@a,@b:" before the address.
    if (IsSpecialAt('@')) {
      SkipUntil(":>");
      if (IsSpecialAt(':')) {
        route = Joined(begin, pos_);
        ++pos_;
        begin = pos_;
      } else {
        pos_ = begin;
      }
    }
    SkipUntil("@>");
    std::string local = Joined(begin, pos_);
    std::string host;
    if (IsSpecialAt('@')) {
      ++pos_;
      size_t domain_begin = pos_;
      SkipUntil(">");
      host = Joined(domain_begin, pos_);
    }
    if (IsSpecialAt('>')) ++pos_;
    SkipUntil(",;");
    if (local.empty() && host.empty()) return;  // "<>" null path
    Add(std::move(name), std::move(route), std::move(local), std::move(host));
  }

  // A phrase with no '@': a bare local name such as "undisclosed".
  void AddBare(size_t begin, size_t end) {
    std::string local = Joined(begin, end);
    if (local.empty()) {
      if (pos_ == begin && pos_ < tokens_.size()) ++pos_;
      return;
    }
    Add(CommentName(begin, end), "", Phrase(begin, end), "");
  }

  void Add(std::string name, std::string route, std::string local,
           std::string host) {
    if (host.empty()) host = std::string(kMissingHost);
    out_.push_back({Address::Kind::kMailbox, std::move(name), std::move(route),
                    std::move(local), std::move(host)});
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  bool in_group_ = false;
  std::vector<Address> out_;
};

}  // namespace

std::vector<Address> ParseAddressList(std::string_view value) {
  return Parser(Lex(value)).Run();
}

}  // namespace corvus::mime
