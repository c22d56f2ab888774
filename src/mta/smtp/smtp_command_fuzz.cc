// libFuzzer target for the SMTP command line, path, parameter and BDAT
// parsers, and the DATA body decoder. Any input must parse or be refused
// with a 5xx reply; never crash, never loop.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mta/smtp/data_reader.h"
#include "mta/smtp/smtp_command.h"

namespace {

void CheckReply(const corvus::mta::SmtpReply& reply) {
  if (reply.code < 500 || reply.code > 559) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace corvus::mta;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto command = ParseSmtpCommand(input); command) {
    switch (command->verb) {
      case SmtpVerb::kMail:
        if (auto mail = ParseMailFrom(command->argument); !mail) {
          CheckReply(mail.error());
        }
        break;
      case SmtpVerb::kRcpt:
        for (bool utf8 : {false, true}) {
          if (auto rcpt = ParseRcptTo(command->argument, utf8); !rcpt) {
            CheckReply(rcpt.error());
          }
        }
        break;
      case SmtpVerb::kBdat:
        if (auto bdat = ParseBdat(command->argument); !bdat) {
          CheckReply(bdat.error());
        }
        break;
      default:
        break;
    }
  } else {
    CheckReply(command.error());
  }

  // The raw input as MAIL/RCPT arguments, without the verb check.
  (void)ParseMailFrom(input);
  (void)ParseRcptTo(input, true);
  (void)IsValidUtf8(input);

  // The input as a DATA stream: lines split at LF as ReadLine does. The
  // decoder must never report an end of data that is not CRLF.CRLF.
  DotDataReader reader(BareLineEndings::kNormalize, 1 << 16);
  bool previous_crlf = true;
  size_t start = 0;
  while (start < input.size()) {
    size_t lf = input.find('\n', start);
    size_t end = lf == std::string_view::npos ? input.size() : lf + 1;
    std::string_view line = input.substr(start, end - start);
    if (reader.AddLine(line)) {
      if (!previous_crlf || line != ".\r\n") __builtin_trap();
      break;
    }
    previous_crlf = line.ends_with("\r\n");
    start = end;
  }
  std::string body = reader.TakeBody();
  // Normalized bodies hold no bare CR or LF.
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r')) __builtin_trap();
    if (body[i] == '\r' && (i + 1 == body.size() || body[i + 1] != '\n')) {
      __builtin_trap();
    }
  }
  return 0;
}
