// POP3 command lines, arguments, multi-line bodies and SASL PLAIN.
#include "mailbox/pop3/pop3_command.h"

#include <array>
#include <utility>

namespace corvus::pop3 {
namespace {

struct VerbName {
  std::string_view name;
  Pop3Verb verb;
};

constexpr std::array<VerbName, 14> kVerbs = {{
    {"CAPA", Pop3Verb::kCapa},
    {"STLS", Pop3Verb::kStls},
    {"USER", Pop3Verb::kUser},
    {"PASS", Pop3Verb::kPass},
    {"AUTH", Pop3Verb::kAuth},
    {"STAT", Pop3Verb::kStat},
    {"LIST", Pop3Verb::kList},
    {"RETR", Pop3Verb::kRetr},
    {"DELE", Pop3Verb::kDele},
    {"NOOP", Pop3Verb::kNoop},
    {"RSET", Pop3Verb::kRset},
    {"QUIT", Pop3Verb::kQuit},
    {"TOP", Pop3Verb::kTop},
    {"UIDL", Pop3Verb::kUidl},
}};

char Upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c;
}

bool IsLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::optional<uint32_t> ParseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > 0xffffffffu) return std::nullopt;
  return static_cast<uint32_t>(value);
}

}  // namespace

Result<Pop3Command> ParsePop3Command(std::string_view line) {
  if (line.ends_with("\r\n")) {
    line.remove_suffix(2);
  } else if (line.ends_with('\n')) {
    line.remove_suffix(1);
  }
  if (line.empty()) return Fail(ErrorCode::kProtocol, "Empty command");
  // A NUL or a control byte has no place in a command and is the usual
  // sign of a client speaking another protocol, or of an attack on a C
  // string somewhere behind us.
  for (char c : line) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7e) {
      return Fail(ErrorCode::kProtocol, "Invalid characters in command");
    }
  }

  size_t space = line.find(' ');
  std::string_view keyword = line.substr(0, space);
  if (keyword.empty() || keyword.size() > kMaxKeywordLength) {
    return Fail(ErrorCode::kProtocol, "Unknown command");
  }
  Pop3Command command;
  for (char c : keyword) {
    if (!IsLetter(c)) return Fail(ErrorCode::kProtocol, "Unknown command");
    command.name.push_back(Upper(c));
  }
  for (const VerbName& row : kVerbs) {
    if (row.name == command.name) command.verb = row.verb;
  }
  if (space != std::string_view::npos) {
    command.argument = std::string(line.substr(space + 1));
  }
  return command;
}

std::optional<uint32_t> ParseMessageNumber(std::string_view text) {
  auto value = ParseDecimal(text);
  if (!value || *value == 0) return std::nullopt;
  return value;
}

std::optional<uint32_t> ParseLineCount(std::string_view text) {
  return ParseDecimal(text);
}

std::optional<std::pair<std::string_view, std::string_view>> SplitTwoArguments(
    std::string_view text) {
  size_t space = text.find(' ');
  if (space == std::string_view::npos || space == 0 ||
      space + 1 == text.size()) {
    return std::nullopt;
  }
  std::string_view second = text.substr(space + 1);
  if (second.find(' ') != std::string_view::npos) return std::nullopt;
  return std::make_pair(text.substr(0, space), second);
}

void AppendMultiline(std::string& out, std::string_view data) {
  out.reserve(out.size() + data.size() + data.size() / 64 + 5);
  bool line_start = true;
  for (char c : data) {
    // RFC 1939 section 3: a line beginning with the termination octet is
    // byte-stuffed by prepending it once more.
    if (line_start && c == '.') out.push_back('.');
    out.push_back(c);
    line_start = c == '\n';
  }
  if (!data.empty() && !data.ends_with("\r\n")) out += "\r\n";
  out += ".\r\n";
}

std::string_view TopOfMessage(std::string_view message, uint32_t lines) {
  // Find the end of the header section: an empty line, which is either
  // the very first line or a terminator followed by another terminator.
  size_t body_start = std::string_view::npos;
  if (message.starts_with("\r\n")) {
    body_start = 2;
  } else if (message.starts_with('\n')) {
    body_start = 1;
  } else {
    for (size_t lf = message.find('\n'); lf != std::string_view::npos;
         lf = message.find('\n', lf + 1)) {
      std::string_view rest = message.substr(lf + 1);
      if (rest.starts_with("\r\n")) {
        body_start = lf + 3;
        break;
      }
      if (rest.starts_with('\n')) {
        body_start = lf + 2;
        break;
      }
    }
  }
  if (body_start == std::string_view::npos) return message;

  size_t end = body_start;
  for (uint32_t i = 0; i < lines && end < message.size(); ++i) {
    size_t lf = message.find('\n', end);
    end = lf == std::string_view::npos ? message.size() : lf + 1;
  }
  return message.substr(0, end);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Upper(a[i]) != Upper(b[i])) return false;
  }
  return true;
}

}  // namespace corvus::pop3
