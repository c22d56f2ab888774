// `corvus queue list|show|flush|delete`: the operator's view of the mta
// role's queue. The commands open queue.db next to a running server (SQLite
// WAL allows it); the server picks up a flush within a second.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <ctime>
#include <sstream>

#include "cli/cli.h"
#include "mta/queue/queue.h"

namespace corvus::cli {
namespace {

using nlohmann::json;

std::string FormatTime(int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

json MessageJson(const QueuedMessage& m) {
  json recipients = json::array();
  for (const QueueRecipient& r : m.recipients) {
    recipients.push_back({{"address", r.address},
                          {"original", r.original},
                          {"state", RecipientStateName(r.state)},
                          {"attempts", r.attempts},
                          {"next_attempt", r.next_attempt},
                          {"last_error", r.last_error}});
  }
  return {{"id", m.id},         {"sender", m.sender},
          {"created", m.created}, {"size", m.size},
          {"client", m.client},  {"recipients", recipients}};
}

std::string MessageText(const QueuedMessage& m, bool details) {
  std::ostringstream out;
  out << m.id << "  " << FormatTime(m.created) << "  " << m.size
      << " bytes  from=<" << m.sender << ">\n";
  for (const QueueRecipient& r : m.recipients) {
    out << "    to=<" << r.address << ">  " << RecipientStateName(r.state);
    if (r.state == RecipientState::kPending) {
      out << "  attempts=" << r.attempts
          << "  next=" << FormatTime(r.next_attempt);
    }
    out << "\n";
    // Like mailq, the list says why a recipient waits.
    if ((details || r.state == RecipientState::kPending) &&
        !r.last_error.empty()) {
      out << "        " << r.last_error << "\n";
    }
  }
  return out.str();
}

// Opens the queue named by the configuration, runs `body`, reports errors.
template <typename Body>
std::function<void()> WithQueue(Context& context, Body body) {
  return [&context, body] {
    auto config = context.LoadConfig();
    if (!config) {
      context.ReportError(config.error());
      return;
    }
    auto queue = Queue::Open(config->DataPath(config->queue.path));
    if (!queue) {
      context.ReportError(queue.error());
      return;
    }
    if (Status status = body(**queue); !status) {
      context.ReportError(status.error());
    }
  };
}

}  // namespace

void AddQueueCommands(CLI::App& app, Context& context) {
  CLI::App* queue = app.add_subcommand("queue", "Inspect the mail queue");
  queue->require_subcommand(1);
  auto id = std::make_shared<std::string>();

  CLI::App* list = queue->add_subcommand("list", "List queued messages");
  list->callback(WithQueue(context, [&context](Queue& q) -> Status {
    auto messages = q.List();
    if (!messages) return Fail(messages.error());
    json out = json::array();
    std::string text;
    for (const QueuedMessage& m : *messages) {
      out.push_back(MessageJson(m));
      text += MessageText(m, false);
    }
    if (messages->empty()) text = "queue is empty";
    context.Print(out, text);
    return {};
  }));

  CLI::App* show = queue->add_subcommand(
      "show", "Show one message's recipients and last errors");
  show->add_option("ID", *id)->required();
  show->callback(WithQueue(context, [&context, id](Queue& q) -> Status {
    auto m = q.Get(*id);
    if (!m) return Fail(m.error());
    context.Print(MessageJson(*m), MessageText(*m, true));
    return {};
  }));

  CLI::App* flush =
      queue->add_subcommand("flush", "Retry every deferred recipient now");
  flush->callback(WithQueue(context, [&context](Queue& q) -> Status {
    auto count = q.FlushAll();
    if (!count) return Fail(count.error());
    context.Print({{"flushed", *count}},
                  std::to_string(*count) + " recipients due now");
    return {};
  }));

  CLI::App* remove = queue->add_subcommand(
      "delete", "Remove a message from the queue without delivering it");
  remove->add_option("ID", *id)->required();
  remove->callback(WithQueue(context, [&context, id](Queue& q) -> Status {
    if (Status s = q.Delete(*id); !s) return s;
    context.Print({{"id", *id}, {"deleted", true}}, "deleted " + *id);
    return {};
  }));
}

}  // namespace corvus::cli
