// BDAT (RFC 3030 CHUNKING): the message in counted chunks, no
// dot-stuffing. Whatever the reply, a chunk's bytes are always read off
// the connection, so that message data is never parsed as commands.
#include <algorithm>

#include "mta/smtp/session.h"

namespace corvus::mta {

Task<Status> SmtpSession::DiscardBytes(uint64_t count) {
  constexpr uint64_t kPiece = 64 * 1024;
  while (count > 0) {
    uint64_t piece = std::min(count, kPiece);
    auto data = co_await conn_.ReadExactly(static_cast<size_t>(piece));
    if (!data) co_return Fail(data.error());
    count -= piece;
  }
  co_return Status{};
}

Task<void> SmtpSession::CmdBdat(const SmtpCommand& command) {
  auto arguments = ParseBdat(command.argument);
  if (!arguments) {
    // Without a size there is no way to find where the chunk ends, so
    // the rest of the stream cannot be trusted as commands.
    co_await Close421("4.5.4", "Malformed BDAT command, closing connection",
                      "malformed BDAT");
    co_return;
  }
  const uint64_t size = arguments->size;

  // A client may wait for the replies to its earlier pipelined commands
  // before sending the chunk; send them rather than wait for each other.
  co_await FlushNow();
  if (closing_) co_return;
  conn_.SetTimeout(options_.data_timeout);
  std::optional<SmtpReply> refusal = CheckDataAllowed();
  if (!refusal && bdat_size_ + size > options_.max_message_size) {
    refusal = SmtpReply{552, "5.3.4", "Message size exceeds fixed limit"};
  }
  if (refusal) {
    auto discarded = co_await DiscardBytes(size);
    conn_.SetTimeout(options_.command_timeout);
    if (!discarded) {
      co_await HandleReadError(discarded.error(), "BDAT");
      co_return;
    }
    // RFC 3030 §2: after a failed chunk the client sends no more BDATs for
    // this transaction; any that come get 503.
    co_await Reject("BDAT", *refusal);
    ResetTransaction();
    co_return;
  }

  auto chunk = co_await conn_.ReadExactly(static_cast<size_t>(size));
  conn_.SetTimeout(options_.command_timeout);
  if (!chunk) {
    // The transaction is abandoned: the sink never sees partial data.
    co_await HandleReadError(chunk.error(), "BDAT");
    co_return;
  }
  bdat_size_ += size;
  bdat_bare_line_ending_ |=
      AppendBdatChunk(*chunk, options_.bare_line_endings, arguments->last,
                      &bdat_pending_cr_, &bdat_body_);
  if (!arguments->last) {
    SetState(SmtpState::kBdat);
    std::string text = std::to_string(size) + " octets received";
    co_await Reply(250, "2.0.0", text);
    co_return;
  }

  if (bdat_bare_line_ending_ &&
      options_.bare_line_endings == BareLineEndings::kReject) {
    co_await Reject("BDAT", 550, "5.6.0",
                    "Message contains bare CR or LF; lines must end with "
                    "CRLF");
    ResetTransaction();
    co_return;
  }
  bool body_8bit = std::any_of(bdat_body_.begin(), bdat_body_.end(),
                               [](char c) { return (c & 0x80) != 0; });
  std::string body = std::move(bdat_body_);
  bdat_body_.clear();
  co_await FinishMessage(std::move(body), body_8bit);
}

}  // namespace corvus::mta
