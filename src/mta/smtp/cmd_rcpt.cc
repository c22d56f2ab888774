// RCPT TO (RFC 5321 §4.1.1.3): adds one recipient, as the recipient
// policy decides.
#include "mta/smtp/session.h"

namespace corvus::mta {

Task<void> SmtpSession::CmdRcpt(const SmtpCommand& command) {
  if (state_ != SmtpState::kMail && state_ != SmtpState::kRcpt) {
    co_await Reply(503, "5.5.1",
                   state_ == SmtpState::kBdat ? "RCPT not allowed during BDAT"
                                              : "Need MAIL before RCPT");
    co_return;
  }

  auto rcpt = ParseRcptTo(command.argument, mail_parameters_.smtputf8);
  if (!rcpt) {
    ++rcpt_refused_;
    co_await Reject("RCPT", rcpt.error(), "<>");
    co_return;
  }
  std::string to = "<" + rcpt->path.mailbox + ">";
  if (!esmtp_ && rcpt->parameters.any) {
    ++rcpt_refused_;
    co_await Reject("RCPT", 555, "5.5.4", "Parameters need EHLO", to);
    co_return;
  }
  // RFC 5321 §4.5.3.1.10: past the limit, 452 so the client retries the
  // rest in another transaction.
  if (recipients_.size() >= static_cast<size_t>(options_.max_recipients)) {
    ++rcpt_refused_;
    co_await Reject("RCPT", 452, "4.5.3", "Too many recipients", to);
    co_return;
  }

  const SessionInfo info = Info();
  RcptVerdict verdict =
      co_await deps_.recipients->CheckRecipient(info, rcpt->path.mailbox);
  if (!verdict.accepted()) {
    ++rcpt_refused_;
    co_await Reject("RCPT", verdict.reply, to);
    co_return;
  }
  recipients_.push_back(Recipient{rcpt->path.mailbox, rcpt->parameters.notify,
                                  rcpt->parameters.orcpt});
  SetState(SmtpState::kRcpt);
  co_await Reply(verdict.reply);
}

}  // namespace corvus::mta
