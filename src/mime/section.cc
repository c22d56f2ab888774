// BODY[section] extraction; see section.h.
#include "mime/section.h"

#include <charconv>
#include <vector>

#include "mime/header.h"

namespace corvus::mime {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Where a part path leads: the part, and whether it is a message (the
// root, or a message/rfc822 child) rather than a body part.
struct Target {
  const Part* part;
  bool is_message;
};

// RFC 3501 §6.4.5: part numbers index the parts of a multipart; a
// message/rfc822 part's numbers continue into the encapsulated message;
// a non-multipart message has just part 1, its body.
Result<Target> Resolve(const Message& message,
                       const std::vector<unsigned>& path) {
  Target t{&message.root, true};
  for (unsigned n : path) {
    if (!t.is_message && t.part->IsMessage()) {
      t = {&t.part->children[0], true};
    }
    if (t.part->IsMultipart()) {
      if (n == 0 || n > t.part->children.size()) {
        return Fail(ErrorCode::kNotFound, "no such part");
      }
      t = {&t.part->children[n - 1], false};
    } else if (t.is_message && n == 1) {
      t.is_message = false;
    } else {
      return Fail(ErrorCode::kNotFound, "no such part");
    }
  }
  return t;
}

// Parses "(name name ...)" field lists; names are atoms or quoted
// strings.
Result<std::vector<std::string>> ParseFieldList(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  if (s.empty() || s.front() != '(' || s.back() != ')') {
    return Fail(ErrorCode::kInvalid, "header field list must be (...)");
  }
  s = s.substr(1, s.size() - 2);
  std::vector<std::string> names;
  size_t pos = 0;
  while (pos < s.size()) {
    if (s[pos] == ' ') {
      ++pos;
      continue;
    }
    std::string name;
    if (s[pos] == '"') {
      ++pos;
      while (pos < s.size() && s[pos] != '"') {
        if (s[pos] == '\\' && pos + 1 < s.size()) ++pos;
        name.push_back(s[pos++]);
      }
      if (pos >= s.size()) {
        return Fail(ErrorCode::kInvalid, "unterminated quoted field name");
      }
      ++pos;
    } else {
      while (pos < s.size() && s[pos] != ' ') name.push_back(s[pos++]);
    }
    names.push_back(std::move(name));
  }
  if (names.empty()) {
    return Fail(ErrorCode::kInvalid, "empty header field list");
  }
  return names;
}

// Copies the fields of `header` whose names are (or, with `exclude`, are
// not) in `names`, verbatim, then the empty line that ends a header.
std::string FilterHeader(std::string_view header,
                         const std::vector<std::string>& names, bool exclude) {
  std::string out;
  for (const HeaderField& f : SplitHeader(header)) {
    bool listed = false;
    for (const std::string& n : names) {
      if (EqualsIgnoreCase(f.name, n)) {
        listed = true;
        break;
      }
    }
    if (listed == exclude) continue;
    out.append(header.substr(f.begin, f.end - f.begin));
    if (!out.ends_with('\n')) out += "\r\n";
  }
  out += "\r\n";
  return out;
}

// The section-text after the part number.
struct Keyword {
  enum Kind { kNone, kMime, kHeader, kText, kFields, kFieldsNot };
  Kind kind = kNone;
  std::vector<std::string> fields;  // kFields, kFieldsNot
};

Result<Keyword> ParseKeyword(std::string_view text) {
  if (text.empty()) return Keyword{};
  if (EqualsIgnoreCase(text, "MIME")) return Keyword{Keyword::kMime, {}};
  if (EqualsIgnoreCase(text, "HEADER")) return Keyword{Keyword::kHeader, {}};
  if (EqualsIgnoreCase(text, "TEXT")) return Keyword{Keyword::kText, {}};

  constexpr std::string_view kFieldsNot = "HEADER.FIELDS.NOT ";
  constexpr std::string_view kFields = "HEADER.FIELDS ";
  Keyword keyword;
  std::string_view list;
  if (text.size() > kFieldsNot.size() &&
      EqualsIgnoreCase(text.substr(0, kFieldsNot.size()), kFieldsNot)) {
    keyword.kind = Keyword::kFieldsNot;
    list = text.substr(kFieldsNot.size());
  } else if (text.size() > kFields.size() &&
             EqualsIgnoreCase(text.substr(0, kFields.size()), kFields)) {
    keyword.kind = Keyword::kFields;
    list = text.substr(kFields.size());
  } else {
    return Fail(ErrorCode::kInvalid, "unknown section keyword");
  }
  Result<std::vector<std::string>> names = ParseFieldList(list);
  if (!names) return Fail(std::move(names.error()));
  keyword.fields = std::move(*names);
  return keyword;
}

}  // namespace

Result<SectionData> ExtractSection(std::string_view raw, const Message& message,
                                   std::string_view section) {
  // Part path: nz-number *("." nz-number).
  std::vector<unsigned> path;
  size_t pos = 0;
  while (pos < section.size() && IsDigit(section[pos])) {
    unsigned n = 0;
    auto [end, ec] = std::from_chars(section.data() + pos,
                                     section.data() + section.size(), n);
    if (ec != std::errc() || n == 0) {
      return Fail(ErrorCode::kInvalid, "bad section part number");
    }
    path.push_back(n);
    pos = end - section.data();
    if (pos < section.size()) {
      if (section[pos] != '.') {
        return Fail(ErrorCode::kInvalid, "bad section part number");
      }
      ++pos;
      if (pos == section.size()) {
        return Fail(ErrorCode::kInvalid, "section ends with a dot");
      }
    }
  }
  std::string_view text = section.substr(pos);

  // The keyword is checked before the part exists, so that syntax errors
  // are reported as such whatever the message looks like.
  Result<Keyword> keyword = ParseKeyword(text);
  if (!keyword) {
    return Fail(
        std::move(keyword.error()).With("section", std::string(section)));
  }
  if (keyword->kind == Keyword::kMime && path.empty()) {
    return Fail(ErrorCode::kInvalid, "MIME needs a part number");
  }

  Result<Target> target = Resolve(message, path);
  if (!target) {
    return Fail(
        std::move(target.error()).With("section", std::string(section)));
  }
  const Part& part = *target->part;
  if (keyword->kind == Keyword::kNone) {
    if (path.empty()) return SectionData{{0, raw.size()}, std::nullopt};
    return SectionData{part.body, std::nullopt};
  }
  if (keyword->kind == Keyword::kMime) {
    return SectionData{part.header, std::nullopt};
  }

  // HEADER, HEADER.FIELDS and TEXT apply to a message: the root, or the
  // message inside a message/rfc822 part.
  const Part* msg = nullptr;
  if (target->is_message) {
    msg = &part;
  } else if (part.IsMessage()) {
    msg = &part.children[0];
  } else {
    return Fail(Error{ErrorCode::kNotFound, "part is not a message", {}}.With(
        "section", std::string(section)));
  }
  switch (keyword->kind) {
    case Keyword::kHeader:
      return SectionData{msg->header, std::nullopt};
    case Keyword::kText:
      return SectionData{msg->body, std::nullopt};
    case Keyword::kFields:
    case Keyword::kFieldsNot:
      return SectionData{msg->header,
                         FilterHeader(msg->header.Of(raw), keyword->fields,
                                      keyword->kind == Keyword::kFieldsNot)};
    default:
      break;
  }
  return Fail(ErrorCode::kInvalid, "unknown section keyword");
}

}  // namespace corvus::mime
