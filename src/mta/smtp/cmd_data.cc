// DATA (RFC 5321 §4.1.1.4) and what every finished message goes through,
// whether it came by DATA or BDAT: header limit, Received:, hand-off to
// the queue (or, for LMTP, the store), replies and the delivery log line.
#include <algorithm>
#include <chrono>

#include "mta/smtp/data_reader.h"
#include "mta/smtp/session.h"

namespace corvus::mta {
namespace {

// Size of the header section: up to and including the empty line, or the
// whole message if there is none.
uint64_t HeaderSectionSize(std::string_view body) {
  if (body.starts_with("\r\n")) return 0;
  size_t end = body.find("\r\n\r\n");
  return end == std::string_view::npos ? body.size() : end + 4;
}

// Longest data line read into memory at once. Beyond the message size
// the line is useless anyway; the reader discards it and marks the
// message too big.
size_t DataLineLimit(uint64_t max_message_size) {
  constexpr uint64_t kSlack = 1024;
  constexpr uint64_t kFloor = 64 * 1024;
  return static_cast<size_t>(std::max(max_message_size + kSlack, kFloor));
}

}  // namespace

std::optional<SmtpReply> SmtpSession::CheckDataAllowed() const {
  switch (state_) {
    case SmtpState::kGreeted:
    case SmtpState::kReady:
      return SmtpReply{503, "5.5.1", "Need MAIL command"};
    case SmtpState::kMail:
      // RFC 2920 §3.1: a pipelining client learns here that every RCPT
      // failed.
      if (rcpt_refused_ > 0) {
        return SmtpReply{554, "5.5.1", "No valid recipients"};
      }
      return SmtpReply{503, "5.5.1", "Need RCPT command"};
    case SmtpState::kRcpt:
    case SmtpState::kBdat:
      return std::nullopt;
  }
  return std::nullopt;
}

Task<void> SmtpSession::CmdData(const SmtpCommand& command) {
  if (!command.argument.empty()) {
    co_await Reply(501, "5.5.4", "Syntax: DATA");
    co_return;
  }
  if (state_ == SmtpState::kBdat) {
    // RFC 3030 §2: DATA may not be mixed with BDAT in one transaction.
    co_await Reply(503, "5.5.1", "DATA not allowed during BDAT transfer");
    co_return;
  }
  if (auto refusal = CheckDataAllowed()) {
    co_await Reply(*refusal);
    co_return;
  }

  conn_.Queue(SmtpReply{354, "", "End data with <CR><LF>.<CR><LF>"}.Format());
  co_await FlushNow();
  if (closing_) co_return;

  conn_.SetTimeout(options_.data_timeout);
  DotDataReader reader(options_.bare_line_endings, options_.max_message_size);
  const size_t line_limit = DataLineLimit(options_.max_message_size);
  for (;;) {
    // Not interruptible: a shutdown lets a transfer finish within grace.
    auto line = co_await conn_.ReadLine(line_limit, false);
    if (!line) {
      if (line.error().code == ErrorCode::kProtocol) {
        reader.AddDiscardedLine();
        continue;
      }
      // The transaction is abandoned: the sink never sees partial data.
      co_await HandleReadError(line.error(), "DATA");
      co_return;
    }
    if (reader.AddLine(*line)) break;
  }
  conn_.SetTimeout(options_.command_timeout);

  if (reader.too_big()) {
    co_await Reject("DATA", 552, "5.3.4", "Message size exceeds fixed limit");
    ResetTransaction();
    co_return;
  }
  if (reader.saw_bare_line_ending() &&
      options_.bare_line_endings == BareLineEndings::kReject) {
    co_await Reject("DATA", 550, "5.6.0",
                    "Message contains bare CR or LF; lines must end with "
                    "CRLF");
    ResetTransaction();
    co_return;
  }
  std::string body = reader.TakeBody();
  co_await FinishMessage(std::move(body), reader.saw_8bit());
}

Task<void> SmtpSession::FinishMessage(std::string body, bool body_8bit) {
  if (HeaderSectionSize(body) > options_.max_header_size) {
    co_await Reject("DATA", 552, "5.3.4",
                    "Message header section exceeds limit");
    ResetTransaction();
    co_return;
  }

  Envelope envelope;
  envelope.queue_id = NewQueueId();
  envelope.mail_from = mail_from_;
  envelope.rcpt_to = recipients_;
  envelope.smtputf8 = mail_parameters_.smtputf8;
  envelope.body_8bit =
      body_8bit || mail_parameters_.body == BodyType::k8BitMime;
  envelope.ret = mail_parameters_.ret;
  envelope.envid = mail_parameters_.envid;
  envelope.upstream_queue_id = mail_parameters_.xqueueid;
  envelope.helo = helo_;
  envelope.client_address = conn_.peer_address();
  envelope.tls = conn_.is_tls();
  envelope.authenticated = authenticated_;
  envelope.protocol =
      ReceivedProtocol(options_.mode, esmtp_, conn_.is_tls(),
                       !authenticated_.empty(), mail_parameters_.smtputf8);
  envelope.received_at = std::chrono::system_clock::now();
  std::string data = FormatReceivedHeader(envelope, options_.hostname);
  data += body;
  body.clear();
  body.shrink_to_fit();
  const uint64_t size = data.size();

  if (options_.mode == SmtpMode::kLmtp) {
    co_await FinishLmtp(std::move(envelope), std::move(data));
    ResetTransaction();
    co_return;
  }

  auto queued = co_await deps_.sink->Accept(envelope, std::move(data));
  if (!queued) {
    conn_.log().Error("queue_failed", {{"error", queued.error().ToString()},
                                       {"from", FormatFrom()},
                                       {"to", FormatTo()}});
    SmtpReply reply =
        queued.error().code == ErrorCode::kPermanent
            ? SmtpReply{554, "5.3.0", "Message refused by the queue"}
            : SmtpReply{451, "4.3.0", "Temporary queue failure, try later"};
    co_await Reply(reply);
    ResetTransaction();
    co_return;
  }
  conn_.log().Notice("queued", {{"queue_id", *queued},
                                {"size", size},
                                {"nrcpt", recipients_.size()},
                                {"from", FormatFrom()},
                                {"to", FormatTo()}});
  std::string text = "Ok: queued as " + *queued;
  co_await Reply(250, "2.0.0", text);
  ResetTransaction();
}

Task<void> SmtpSession::FinishLmtp(Envelope envelope, std::string data) {
  const uint64_t size = data.size();
  std::vector<SmtpReply> replies =
      co_await deps_.lmtp->Deliver(envelope, std::move(data));
  if (replies.size() != envelope.rcpt_to.size()) {
    conn_.log().Error(
        "lmtp_result_mismatch",
        {{"want", envelope.rcpt_to.size()}, {"got", replies.size()}});
    replies.assign(envelope.rcpt_to.size(),
                   SmtpReply{451, "4.3.0", "Temporary delivery failure"});
  }

  // RFC 2033 §4.2: one reply per accepted recipient, in RCPT order. A
  // recipient's delivery failure is not the client's error, so these
  // replies bypass the error budget.
  for (size_t i = 0; i < replies.size(); ++i) {
    const SmtpReply& reply = replies[i];
    std::string to = "<" + envelope.rcpt_to[i].address + ">";
    std::string reply_text =
        std::to_string(reply.code) + " " + reply.enhanced + " " + reply.text;
    conn_.log().Notice(reply.ok() ? "delivered" : "reject",
                       {{"queue_id", envelope.queue_id},
                        {"size", size},
                        {"reply", reply_text},
                        {"from", FormatFrom()},
                        {"to", to}});
    conn_.Queue(reply.Format());
  }
  co_return;
}

}  // namespace corvus::mta
