// RETR, TOP and DELE (RFC 1939 sections 5 and 7): a message's bytes, as
// stored, dot-stuffed; and the deleted mark that UPDATE acts on.
//
// TODO(corvus): RETR and TOP read the whole blob into memory and queue
// its dot-stuffed copy; reading and sending it in chunks would bound a
// session's memory. Costs about twice the message size (up to
// [smtp] max_message_size) per concurrent RETR.
#include <string>
#include <utility>

#include "mailbox/pop3/session.h"

namespace corvus::pop3 {

Task<MaildropMessage*> Pop3Session::RequireMessage(std::string_view argument) {
  auto number = ParseMessageNumber(argument);
  if (!number) {
    co_await Err("Invalid message number");
    co_return nullptr;
  }
  MaildropMessage* message = maildrop_->Find(*number);
  if (message == nullptr) {
    co_await Err("No such message");
    co_return nullptr;
  }
  if (message->deleted) {
    std::string text =
        "Message " + std::to_string(*number) + " already deleted";
    co_await Err(text);
    co_return nullptr;
  }
  co_return message;
}

Task<std::optional<std::string>> Pop3Session::LoadMessage(
    const MaildropMessage& message) {
  Result<std::string> data = Fail(ErrorCode::kTemporary, "not read");
  MessageStore* store = deps_.store;
  const Maildrop& drop = *maildrop_;
  co_await Offload([&data, store, &drop, &message] {
    data = drop.ReadMessage(*store, message);
  });
  if (!data) {
    // The message may have been expunged by another client and its blob
    // collected since login: not our fault, not the client's.
    conn_.log().Warning(
        "message_unreadable",
        {{"uid", message.uid}, {"error", data.error().ToString()}});
    std::string text = data.error().code == ErrorCode::kNotFound
                           ? "Message is no longer available"
                           : std::string(kCodeSysTemp) + "Cannot read message";
    co_await Err(text);
    co_return std::nullopt;
  }
  co_return std::move(*data);
}

Task<void> Pop3Session::CmdRetr(const Pop3Command& command) {
  MaildropMessage* message = co_await RequireMessage(command.argument);
  if (message == nullptr) co_return;
  auto data = co_await LoadMessage(*message);
  if (!data) co_return;

  std::string reply = "+OK " + std::to_string(data->size()) + " octets\r\n";
  AppendMultiline(reply, *data);
  conn_.Queue(reply);
  message->retrieved = true;
  ++retrieved_;
}

Task<void> Pop3Session::CmdTop(const Pop3Command& command) {
  auto arguments = SplitTwoArguments(command.argument);
  auto lines = arguments ? ParseLineCount(arguments->second) : std::nullopt;
  if (!lines) {
    co_await Err("Syntax: TOP message lines");
    co_return;
  }
  MaildropMessage* message = co_await RequireMessage(arguments->first);
  if (message == nullptr) co_return;
  auto data = co_await LoadMessage(*message);
  if (!data) co_return;

  // TOP is a preview: unlike RETR it does not mark the message \Seen.
  std::string reply = "+OK Top of message follows\r\n";
  AppendMultiline(reply, TopOfMessage(*data, *lines));
  conn_.Queue(reply);
}

Task<void> Pop3Session::CmdDele(const Pop3Command& command) {
  MaildropMessage* message = co_await RequireMessage(command.argument);
  if (message == nullptr) co_return;
  message->deleted = true;
  std::string text = "Message " + command.argument + " deleted";
  Ok(text);
}

}  // namespace corvus::pop3
