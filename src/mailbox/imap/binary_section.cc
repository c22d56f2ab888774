// Content-Transfer-Encoding decoding for BINARY; see binary_section.h.
#include "mailbox/imap/binary_section.h"

#include <cctype>
#include <charconv>
#include <vector>

#include "mime/section.h"

namespace corvus::imap {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The part `section` names, walking RFC 3501 §6.4.5 part numbers: the
// parts of a multipart, and through a message/rfc822 to its body.
const mime::Part* FindPart(const mime::Part& root, std::string_view section) {
  const mime::Part* part = &root;
  while (!section.empty()) {
    size_t dot = section.find('.');
    std::string_view number = section.substr(0, dot);
    section = dot == std::string_view::npos ? std::string_view()
                                            : section.substr(dot + 1);
    size_t n = 0;
    auto [end, ec] =
        std::from_chars(number.data(), number.data() + number.size(), n);
    if (ec != std::errc() || end != number.data() + number.size() || n == 0) {
      return nullptr;
    }
    if (part->IsMessage()) part = &part->children[0];
    if (part->IsMultipart()) {
      if (n > part->children.size()) return nullptr;
      part = &part->children[n - 1];
    } else if (n != 1) {
      return nullptr;
    }
  }
  return part;
}

}  // namespace

Result<std::string> DecodeMailBase64(std::string_view text) {
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  bool padding = false;
  for (char c : text) {
    int value = -1;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    if (c >= '0' && c <= '9') value = c - '0' + 52;
    if (c == '+') value = 62;
    if (c == '/') value = 63;
    if (value < 0) {
      if (c == '=') {
        padding = true;
      } else if (c != '\r' && c != '\n' && c != ' ' && c != '\t') {
        return Fail(ErrorCode::kPermanent, "invalid base64");
      }
      continue;
    }
    if (padding) return Fail(ErrorCode::kPermanent, "data after padding");
    bits = (bits << 6) | static_cast<uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

std::string DecodeQuotedPrintable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '=') {
      out.push_back(c);
      continue;
    }
    // Soft line break: "=" then optional white space and a line end.
    size_t j = i + 1;
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
    if (j < text.size() && (text[j] == '\r' || text[j] == '\n')) {
      if (text[j] == '\r' && j + 1 < text.size() && text[j + 1] == '\n') ++j;
      i = j;
      continue;
    }
    if (j == text.size()) break;
    if (i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 +
                                      HexValue(text[i + 2])));
      i += 2;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

Result<std::string> DecodeBinarySection(std::string_view raw,
                                        const mime::Message& message,
                                        std::string_view section) {
  if (section.empty()) return std::string(raw);
  const mime::Part* part = FindPart(message.root, section);
  if (part == nullptr) {
    // Tell bad syntax from a missing part the way ExtractSection does.
    auto probe = mime::ExtractSection(raw, message, section);
    if (!probe && probe.error().code == ErrorCode::kInvalid) {
      return Fail(probe.error());
    }
    return Fail(ErrorCode::kNotFound, "no such part");
  }
  if (part->IsMultipart()) {
    return Fail(ErrorCode::kInvalid, "BINARY of a multipart");
  }
  return DecodePartBody(raw, *part);
}

Result<std::string> DecodePartBody(std::string_view raw,
                                   const mime::Part& part) {
  std::string_view body = part.body.Of(raw);
  std::string encoding = part.encoding.value_or("7bit");
  for (char& c : encoding) c = static_cast<char>(std::tolower(c));
  if (encoding == "7bit" || encoding == "8bit" || encoding == "binary") {
    return std::string(body);
  }
  if (encoding == "base64") return DecodeMailBase64(body);
  if (encoding == "quoted-printable") return DecodeQuotedPrintable(body);
  return Fail(ErrorCode::kPermanent, "unknown content transfer encoding");
}

}  // namespace corvus::imap
