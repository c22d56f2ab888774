// Header-field primitives; see header.h.
#include "mime/header.h"

#include <algorithm>

namespace corvus::mime {
namespace {

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

std::string_view TrimWsp(std::string_view s) {
  while (!s.empty() && IsWsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsWsp(s.back())) s.remove_suffix(1);
  return s;
}

// Unfolds `value` and drops comments outside quoted strings. Quoted
// strings keep their quotes and escapes so later steps can parse them.
// Nesting depth of comments is tracked with a counter, so hostile input
// such as "((((((" costs linear time.
std::string RemoveComments(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  int comment_depth = 0;
  bool in_quotes = false;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\r' || c == '\n') continue;
    if (in_quotes) {
      out.push_back(c);
      if (c == '\\' && i + 1 < value.size()) {
        out.push_back(value[++i]);
      } else if (c == '"') {
        in_quotes = false;
      }
      continue;
    }
    if (comment_depth > 0) {
      if (c == '\\') {
        ++i;
      } else if (c == '(') {
        ++comment_depth;
      } else if (c == ')') {
        --comment_depth;
      }
      continue;
    }
    if (c == '(') {
      comment_depth = 1;
      continue;
    }
    if (c == '"') in_quotes = true;
    out.push_back(c);
  }
  return out;
}

// Reads a parameter value starting at `pos` (quoted string or token) and
// advances `pos` past it.
std::string ReadParamValue(std::string_view s, size_t& pos) {
  std::string value;
  if (pos < s.size() && s[pos] == '"') {
    ++pos;
    while (pos < s.size() && s[pos] != '"') {
      if (s[pos] == '\\' && pos + 1 < s.size()) ++pos;
      value.push_back(s[pos++]);
    }
    if (pos < s.size()) ++pos;  // closing quote
    return value;
  }
  while (pos < s.size() && s[pos] != ';' && !IsWsp(s[pos])) {
    value.push_back(s[pos++]);
  }
  return value;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 2231 §4: percent-decodes an extended value; with `has_charset`,
// drops the leading "charset'language'" first.
std::string DecodeExtended(std::string_view value, bool has_charset) {
  if (has_charset) {
    size_t first = value.find('\'');
    size_t second = first == std::string_view::npos
                        ? std::string_view::npos
                        : value.find('\'', first + 1);
    if (second != std::string_view::npos) value.remove_prefix(second + 1);
  }
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '%' && i + 2 < value.size() &&
        HexValue(value[i + 1]) >= 0 && HexValue(value[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(value[i + 1]) * 16 +
                                      HexValue(value[i + 2])));
      i += 2;
    } else {
      out.push_back(value[i]);
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> ResolveParam(const std::vector<Param>& params,
                                        std::string_view name) {
  for (const Param& p : params) {
    if (EqualsIgnoreCase(p.name, name)) return p.value;
  }
  std::string extended = std::string(name) + "*";
  for (const Param& p : params) {
    if (EqualsIgnoreCase(p.name, extended))
      return DecodeExtended(p.value, true);
  }

  // Continuations: name*0, name*1, ... in order; the search is bounded by
  // the number of parameters, so a hostile list costs O(n^2) at worst on
  // a list that the header size already bounds.
  std::optional<std::string> joined;
  for (size_t index = 0; index < params.size(); ++index) {
    std::string plain = extended + std::to_string(index);
    std::string encoded = plain + "*";
    bool found = false;
    for (const Param& p : params) {
      if (EqualsIgnoreCase(p.name, plain)) {
        joined = joined.value_or("") + p.value;
      } else if (EqualsIgnoreCase(p.name, encoded)) {
        joined = joined.value_or("") + DecodeExtended(p.value, index == 0);
      } else {
        continue;
      }
      found = true;
      break;
    }
    if (!found) break;
  }
  return joined;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

bool IsHeaderLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return false;
  if (IsWsp(line.front())) return true;
  if (line.starts_with("From ")) return true;

  // RFC 5322 §2.2: field names are printable ASCII except the colon; the
  // obsolete syntax (§4.5) allows white space before the colon.
  size_t i = 0;
  while (i < line.size() && line[i] > ' ' && line[i] < 127 && line[i] != ':') {
    ++i;
  }
  while (i < line.size() && IsWsp(line[i])) ++i;
  return i < line.size() && line[i] == ':';
}

std::vector<HeaderField> SplitHeader(std::string_view header) {
  std::vector<HeaderField> fields;
  bool in_field = false;
  size_t pos = 0;
  while (pos < header.size()) {
    size_t nl = header.find('\n', pos);
    size_t line_end = nl == std::string_view::npos ? header.size() : nl + 1;
    std::string_view line = header.substr(pos, line_end - pos);
    std::string_view text = line;
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.empty()) break;

    if (IsWsp(text.front())) {
      if (in_field) {
        HeaderField& f = fields.back();
        f.end = line_end;
        size_t value_begin = f.value.data() - header.data();
        f.value = header.substr(value_begin, pos + text.size() - value_begin);
      }
    } else if (size_t colon = text.find(':');
               colon != std::string_view::npos && !text.starts_with("From ")) {
      HeaderField f;
      f.name = TrimWsp(text.substr(0, colon));
      f.value = text.substr(colon + 1);
      f.begin = pos;
      f.end = line_end;
      fields.push_back(f);
      in_field = true;
    } else {
      in_field = false;
    }
    pos = line_end;
  }
  return fields;
}

std::optional<std::string_view> FindField(
    const std::vector<HeaderField>& fields, std::string_view name) {
  for (const HeaderField& f : fields) {
    if (EqualsIgnoreCase(f.name, name)) return f.value;
  }
  return std::nullopt;
}

std::string Unfold(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c != '\r' && c != '\n') out.push_back(c);
  }
  return std::string(TrimWsp(out));
}

std::string StripComments(std::string_view value) {
  std::string cleaned = RemoveComments(value);
  std::string out;
  bool in_quotes = false;
  for (size_t i = 0; i < cleaned.size(); ++i) {
    char c = cleaned[i];
    if (c == '"') in_quotes = !in_quotes;
    if (in_quotes && c == '\\' && i + 1 < cleaned.size()) {
      out.push_back(c);
      out.push_back(cleaned[++i]);
      continue;
    }
    if (!in_quotes && IsWsp(c)) continue;
    out.push_back(c);
  }
  return out;
}

TypedValue ParseTypedValue(std::string_view value) {
  TypedValue result;
  std::string cleaned = RemoveComments(value);
  std::string_view s = cleaned;

  // The token ends at ';' or at white space, except around the '/' of a
  // media type. Ending at white space accepts the common breakage
  // "multipart/mixed boundary=x" (a missing ';').
  size_t pos = 0;
  while (pos < s.size() && IsWsp(s[pos])) ++pos;
  while (pos < s.size() && s[pos] != ';' && !IsWsp(s[pos])) {
    result.token.push_back(s[pos++]);
    size_t look = pos;
    while (look < s.size() && IsWsp(s[look])) ++look;
    if (look < s.size() && (s[look] == '/' || result.token.back() == '/')) {
      pos = look;
    }
  }

  while (pos < s.size()) {
    while (pos < s.size() && (IsWsp(s[pos]) || s[pos] == ';')) ++pos;
    size_t name_begin = pos;
    while (pos < s.size() && s[pos] != '=' && s[pos] != ';') ++pos;
    std::string_view name = TrimWsp(s.substr(name_begin, pos - name_begin));
    if (pos >= s.size() || s[pos] == ';') continue;  // no '=': skip it

    ++pos;  // '='
    while (pos < s.size() && IsWsp(s[pos])) ++pos;
    std::string param_value = ReadParamValue(s, pos);
    // Junk after the value up to the next ';' is ignored, like most MUAs.
    while (pos < s.size() && s[pos] != ';') ++pos;
    if (!name.empty()) {
      result.params.push_back({std::string(name), std::move(param_value)});
    }
  }
  return result;
}

}  // namespace corvus::mime
