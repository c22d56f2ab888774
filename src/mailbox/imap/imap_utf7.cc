// Modified UTF-7; see imap_utf7.h.
#include "mailbox/imap/imap_utf7.h"

#include <cstdint>
#include <vector>

namespace corvus::imap {
namespace {

// RFC 3501 §5.1.3: modified BASE64 uses ',' in place of '/'.
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int Base64Value(char c) {
  size_t at = kAlphabet.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

std::unexpected<Error> Invalid(std::string message) {
  return Fail(ErrorCode::kInvalid, std::move(message));
}

// Decodes one UTF-8 sequence at `pos`; returns the code point, or -1.
int32_t NextCodePoint(std::string_view s, size_t& pos) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char b0 = byte(pos);
  int length = 0;
  int32_t cp = 0;
  int32_t min = 0;
  if (b0 < 0x80) {
    ++pos;
    return b0;
  } else if ((b0 & 0xe0) == 0xc0) {
    length = 2, cp = b0 & 0x1f, min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    length = 3, cp = b0 & 0x0f, min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    length = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return -1;
  }
  if (pos + length > s.size()) return -1;
  for (int i = 1; i < length; ++i) {
    unsigned char b = byte(pos + i);
    if ((b & 0xc0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
  pos += length;
  return cp;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Writes UTF-16 units as modified BASE64, without padding.
void AppendShifted(std::string& out, const std::vector<uint16_t>& units) {
  uint32_t bits = 0;
  int count = 0;
  for (uint16_t unit : units) {
    bits = (bits << 16) | unit;
    count += 16;
    while (count >= 6) {
      count -= 6;
      out.push_back(kAlphabet[(bits >> count) & 0x3f]);
    }
  }
  if (count > 0) out.push_back(kAlphabet[(bits << (6 - count)) & 0x3f]);
}

// Decodes the BASE64 run `run` (between '&' and '-') into UTF-8.
Status DecodeShifted(std::string_view run, std::string& out) {
  uint32_t bits = 0;
  int count = 0;
  uint16_t high_surrogate = 0;
  for (char c : run) {
    int value = Base64Value(c);
    if (value < 0) return Invalid("invalid character in shifted name");
    bits = (bits << 6) | static_cast<uint32_t>(value);
    count += 6;
    if (count < 16) continue;
    count -= 16;
    uint16_t unit = static_cast<uint16_t>(bits >> count);
    bits &= (1u << count) - 1;
    if (high_surrogate != 0) {
      if (unit < 0xdc00 || unit > 0xdfff) return Invalid("unpaired surrogate");
      AppendUtf8(
          out, 0x10000 + ((high_surrogate - 0xd800u) << 10) + (unit - 0xdc00u));
      high_surrogate = 0;
    } else if (unit >= 0xd800 && unit <= 0xdbff) {
      high_surrogate = unit;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return Invalid("unpaired surrogate");
    } else if (unit >= 0x20 && unit <= 0x7e) {
      // RFC 3501 §5.1.3: printable US-ASCII represents itself.
      return Invalid("shifted printable ASCII");
    } else if (unit < 0x20 || unit == 0x7f) {
      return Invalid("control character in name");
    } else {
      AppendUtf8(out, unit);
    }
  }
  if (high_surrogate != 0) return Invalid("unpaired surrogate");
  if (count >= 6 || bits != 0) return Invalid("bad padding in shifted name");
  return Status{};
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (NextCodePoint(text, pos) < 0) return false;
  }
  return true;
}

Result<std::string> EncodeMailboxName(std::string_view utf8) {
  std::string out;
  std::vector<uint16_t> pending;
  auto flush = [&]() {
    if (pending.empty()) return;
    out.push_back('&');
    AppendShifted(out, pending);
    out.push_back('-');
    pending.clear();
  };
  size_t pos = 0;
  while (pos < utf8.size()) {
    int32_t cp = NextCodePoint(utf8, pos);
    if (cp < 0) return Invalid("mailbox name is not UTF-8");
    if (cp < 0x20 || cp == 0x7f) return Invalid("control character in name");
    if (cp < 0x7f) {
      flush();
      out.push_back(static_cast<char>(cp));
      if (cp == '&') out.push_back('-');
    } else if (cp < 0x10000) {
      pending.push_back(static_cast<uint16_t>(cp));
    } else {
      uint32_t v = static_cast<uint32_t>(cp) - 0x10000;
      pending.push_back(static_cast<uint16_t>(0xd800 + (v >> 10)));
      pending.push_back(static_cast<uint16_t>(0xdc00 + (v & 0x3ff)));
    }
  }
  flush();
  return out;
}

Result<std::string> DecodeMailboxName(std::string_view mutf7) {
  std::string out;
  size_t pos = 0;
  bool last_was_shift = false;
  while (pos < mutf7.size()) {
    unsigned char c = static_cast<unsigned char>(mutf7[pos]);
    if (c < 0x20 || c >= 0x7f) {
      return Invalid("mailbox name has a byte outside printable ASCII");
    }
    if (c != '&') {
      out.push_back(static_cast<char>(c));
      ++pos;
      last_was_shift = false;
      continue;
    }
    size_t end = mutf7.find('-', pos + 1);
    if (end == std::string_view::npos) return Invalid("unterminated shift");
    std::string_view run = mutf7.substr(pos + 1, end - pos - 1);
    if (run.empty()) {
      out.push_back('&');
      last_was_shift = false;
    } else {
      if (last_was_shift) return Invalid("adjacent shifted runs");
      if (auto s = DecodeShifted(run, out); !s) return Fail(s.error());
      last_was_shift = true;
    }
    pos = end + 1;
  }
  return out;
}

}  // namespace corvus::imap
