// libFuzzer target for the POP3 command parser, the argument parsers,
// the multi-line encoder, TOP and SASL PLAIN. Any input must parse or be
// refused; never crash, never loop; and a dot-stuffed body must never
// contain its own terminator early.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mailbox/pop3/pop3_command.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace corvus::pop3;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  // A command either parses to a clean keyword or is a protocol error.
  if (auto command = ParsePop3Command(input); command) {
    if (command->name.empty() || command->name.size() > kMaxKeywordLength) {
      __builtin_trap();
    }
    for (char c : command->name) {
      if (c < 'A' || c > 'Z') __builtin_trap();
    }
    for (char c : command->argument) {
      if (c < 0x20 || c > 0x7e) __builtin_trap();
    }
    (void)ParseMessageNumber(command->argument);
    if (auto two = SplitTwoArguments(command->argument); two) {
      (void)ParseMessageNumber(two->first);
      (void)ParseLineCount(two->second);
    }
  } else if (command.error().code != corvus::ErrorCode::kProtocol) {
    __builtin_trap();
  }
  if (auto number = ParseMessageNumber(input); number && *number == 0) {
    __builtin_trap();
  }

  // The input as a message body: after dot-stuffing, the only line that
  // is exactly "." is the terminator at the very end.
  std::string body;
  AppendMultiline(body, input);
  if (!body.ends_with("\r\n.\r\n") && body != ".\r\n") __builtin_trap();
  size_t start = 0;
  while (start < body.size()) {
    size_t lf = body.find('\n', start);
    if (lf == std::string::npos) __builtin_trap();
    std::string_view line(body.data() + start, lf + 1 - start);
    bool last = lf + 1 == body.size();
    if ((line == ".\r\n" || line == ".\n") != last) __builtin_trap();
    start = lf + 1;
  }

  // TOP returns a prefix of the message.
  uint32_t lines = size > 0 ? data[0] % 8 : 0;
  std::string_view top = TopOfMessage(input, lines);
  if (top.size() > input.size() || top != input.substr(0, top.size())) {
    __builtin_trap();
  }

  if (auto decoded = corvus::DecodeBase64(input); decoded) {
    if (decoded->size() > input.size()) __builtin_trap();
    (void)corvus::ParseSaslPlain(*decoded);
  }
  (void)corvus::ParseSaslPlain(input);
  return 0;
}
