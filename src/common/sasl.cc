#include "common/sasl.h"

#include <array>
#include <cstdint>

namespace corvus {

std::optional<std::string> DecodeBase64(std::string_view text) {
  static constexpr std::array<int8_t, 256> kTable = [] {
    std::array<int8_t, 256> table{};
    table.fill(-1);
    constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < kAlphabet.size(); ++i) {
      table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
    }
    return table;
  }();
  if (text.size() % 4 != 0) return std::nullopt;

  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t group = 0;
    int padding = 0;
    const bool last_group = i + 4 == text.size();
    for (size_t k = 0; k < 4; ++k) {
      char c = text[i + k];
      // Padding only at the end, and at most two characters of it.
      if (c == '=' && last_group && k >= 2) {
        ++padding;
        group <<= 6;
        continue;
      }
      int8_t value = kTable[static_cast<unsigned char>(c)];
      if (value < 0 || padding > 0) return std::nullopt;
      group = (group << 6) | static_cast<uint32_t>(value);
    }
    out.push_back(static_cast<char>(group >> 16));
    if (padding < 2) out.push_back(static_cast<char>((group >> 8) & 0xff));
    if (padding < 1) out.push_back(static_cast<char>(group & 0xff));
  }
  return out;
}

std::optional<PlainCredentials> ParseSaslPlain(std::string_view decoded) {
  size_t first = decoded.find('\0');
  if (first == std::string_view::npos) return std::nullopt;
  size_t second = decoded.find('\0', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  if (decoded.find('\0', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  PlainCredentials out{
      std::string(decoded.substr(0, first)),
      std::string(decoded.substr(first + 1, second - first - 1)),
      std::string(decoded.substr(second + 1))};
  if (out.authcid.empty() || out.password.empty()) return std::nullopt;
  return out;
}

}  // namespace corvus
