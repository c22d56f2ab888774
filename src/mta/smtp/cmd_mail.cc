// MAIL FROM (RFC 5321 §4.1.1.2): opens a transaction.
#include "mta/smtp/session.h"

namespace corvus::mta {

Task<void> SmtpSession::CmdMail(const SmtpCommand& command) {
  if (InTransaction()) {
    co_await Reply(503, "5.5.1", "Nested MAIL command");
    co_return;
  }

  auto mail = ParseMailFrom(command.argument);
  if (!mail) {
    co_await Reject("MAIL", mail.error(), "<>");
    co_return;
  }
  const MailParameters& parameters = mail->parameters;
  // Parameters are service extensions, which exist only after EHLO/LHLO.
  if (!esmtp_ && parameters.any) {
    co_await Reject("MAIL", 555, "5.5.4", "Parameters need EHLO", "<>");
    co_return;
  }
  if (!parameters.xqueueid.empty() && options_.mode != SmtpMode::kLmtp) {
    co_await Reject("MAIL", 555, "5.5.4", "XQUEUEID is for LMTP only", "<>");
    co_return;
  }
  // RFC 1870 §6.2: refuse at MAIL a message declared too big.
  if (parameters.size && *parameters.size > options_.max_message_size) {
    co_await Reject("MAIL", 552, "5.3.4",
                    "Message size exceeds fixed maximum message size", "<>");
    co_return;
  }

  mail_from_ = mail->path.mailbox;
  mail_parameters_ = parameters;
  recipients_.clear();
  rcpt_refused_ = 0;
  SetState(SmtpState::kMail);
  co_await Reply(250, "2.1.0", "Ok");
}

}  // namespace corvus::mta
