// STAT, LIST and UIDL (RFC 1939 sections 5 and 7): what the snapshot
// holds, by number, size and unique id. Deleted messages are left out of
// listings and refused by number (RFC 1939 section 5, DELE).
#include <string>

#include "mailbox/pop3/session.h"

namespace corvus::pop3 {

Task<void> Pop3Session::CmdStat(const Pop3Command& command) {
  if (!command.argument.empty()) {
    co_await Err("Syntax: STAT");
    co_return;
  }
  std::string text = std::to_string(maildrop_->LiveCount()) + " " +
                     std::to_string(maildrop_->LiveSize());
  Ok(text);
}

Task<void> Pop3Session::CmdList(const Pop3Command& command) {
  if (!command.argument.empty()) {
    MaildropMessage* message = co_await RequireMessage(command.argument);
    if (message == nullptr) co_return;
    std::string text = command.argument + " " + std::to_string(message->size);
    Ok(text);
    co_return;
  }

  std::string reply = "+OK " + std::to_string(maildrop_->LiveCount()) +
                      " messages (" + std::to_string(maildrop_->LiveSize()) +
                      " octets)\r\n";
  const auto& messages = maildrop_->messages();
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].deleted) continue;
    reply +=
        std::to_string(i + 1) + " " + std::to_string(messages[i].size) + "\r\n";
  }
  reply += ".\r\n";
  conn_.Queue(reply);
}

Task<void> Pop3Session::CmdUidl(const Pop3Command& command) {
  if (!command.argument.empty()) {
    MaildropMessage* message = co_await RequireMessage(command.argument);
    if (message == nullptr) co_return;
    std::string text = command.argument + " " + maildrop_->UniqueId(*message);
    Ok(text);
    co_return;
  }

  std::string reply = "+OK Unique-ID listing follows\r\n";
  const auto& messages = maildrop_->messages();
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].deleted) continue;
    reply +=
        std::to_string(i + 1) + " " + maildrop_->UniqueId(messages[i]) + "\r\n";
  }
  reply += ".\r\n";
  conn_.Queue(reply);
}

}  // namespace corvus::pop3
