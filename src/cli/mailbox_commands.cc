// `corvus mailbox list|cat`: an operator's look into an account's store,
// without a mail client: which messages a folder holds, and the exact
// bytes of one of them.
//
// Reads go through the same MessageStore as the server (SQLite WAL lets
// them run beside it).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <sstream>

#include "cli/cli.h"
#include "store/store.h"

namespace corvus::cli {
namespace {

using nlohmann::json;

struct MailboxOptions {
  std::string address;
  std::string folder = "INBOX";
  uint32_t uid = 0;
};

// Opens the store and the account of `address` (kNotFound if the account
// has never received mail here), then runs `body`.
template <typename Body>
std::function<void()> WithAccount(Context& context,
                                  std::shared_ptr<MailboxOptions> o,
                                  Body body) {
  return [&context, o, body] {
    auto config = context.LoadConfig();
    if (!config) return context.ReportError(config.error());
    auto directory = context.OpenDirectory();
    if (!directory) return context.ReportError(directory.error());
    auto account = (*directory)->GetAccount(o->address);
    if (!account) return context.ReportError(account.error());
    auto store = MessageStore::Open(*config);
    if (!store) return context.ReportError(store.error());
    auto handle = (*store)->OpenAccount(account->id, /*create=*/false);
    if (!handle) return context.ReportError(handle.error());
    if (Status s = body(**store, *handle); !s) context.ReportError(s.error());
  };
}

}  // namespace

void AddMailboxCommands(CLI::App& app, Context& context) {
  CLI::App* mailbox =
      app.add_subcommand("mailbox", "Look into an account's messages");
  mailbox->require_subcommand(1);
  auto o = std::make_shared<MailboxOptions>();

  CLI::App* list = mailbox->add_subcommand("list", "List a folder");
  list->add_option("ADDRESS", o->address)->required();
  list->add_option("--folder", o->folder, "Folder (default INBOX)");
  list->callback(WithAccount(
      context, o,
      [&context, o](MessageStore&,
                    MessageStore::AccountHandle& account) -> Status {
        auto messages = account->ListMessages(o->folder);
        if (!messages) return Fail(messages.error());
        json out = json::array();
        std::ostringstream text;
        for (const MessageInfo& m : *messages) {
          std::string flags;
          for (const std::string& f : m.flags) {
            flags += flags.empty() ? f : " " + f;
          }
          out.push_back({{"uid", m.uid},
                         {"size", m.size},
                         {"internal_date", m.internal_date},
                         {"flags", m.flags},
                         {"blob", m.blob}});
          text << m.uid << "  " << m.size << " bytes  (" << flags << ")\n";
        }
        context.Print(out, text.str());
        return {};
      }));

  CLI::App* cat =
      mailbox->add_subcommand("cat", "Print one message exactly as stored");
  cat->add_option("ADDRESS", o->address)->required();
  cat->add_option("UID", o->uid)->required();
  cat->add_option("--folder", o->folder, "Folder (default INBOX)");
  cat->callback(WithAccount(
      context, o,
      [o](MessageStore& store,
          MessageStore::AccountHandle& account) -> Status {
        auto messages = account->ListMessages(o->folder, UidSetOf({o->uid}));
        if (!messages) return Fail(messages.error());
        if (messages->empty()) {
          return Fail(Error{ErrorCode::kNotFound, "no such message",
                            {{"folder", o->folder},
                             {"uid", std::to_string(o->uid)}}});
        }
        auto data = store.blobs().Read(messages->front().blob);
        if (!data) return Fail(data.error());
        std::cout << *data;
        return {};
      }));
}

}  // namespace corvus::cli
