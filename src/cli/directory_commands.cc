// Provisioning commands: `corvus domain|account|alias|list ...`.
//
// Each command opens the directory named by the configuration, performs
// one directory call (which is one transaction, so a failure never leaves
// a half-made object) and prints the result.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <charconv>
#include <iostream>
#include <sstream>

#include "cli/cli.h"
#include "directory/password.h"

namespace corvus::cli {
namespace {

using nlohmann::json;

json AccountJson(const Account& a) {
  return {{"id", a.id},
          {"address", a.address},
          {"name", a.display_name},
          {"status", AccountStatusName(a.status)},
          {"quota_bytes", a.quota_bytes},
          {"home_server", a.home_server},
          {"created", a.created}};
}

std::string AccountText(const Account& a) {
  std::ostringstream out;
  out << "address:     " << a.address << "\n"
      << "id:          " << a.id << "\n"
      << "name:        " << a.display_name << "\n"
      << "status:      " << AccountStatusName(a.status) << "\n"
      << "quota_bytes: " << a.quota_bytes
      << (a.quota_bytes == 0 ? " (unlimited)" : "") << "\n"
      << "home_server: "
      << (a.home_server.empty() ? "(this server)" : a.home_server) << "\n";
  return out.str();
}

// Parses a byte count with an optional K, M, G or T suffix (powers of
// 1024), e.g. "500M". Returns kInvalid for anything else.
Result<int64_t> ParseBytes(std::string_view text) {
  int64_t multiplier = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K': case 'k': multiplier = int64_t{1} << 10; break;
      case 'M': case 'm': multiplier = int64_t{1} << 20; break;
      case 'G': case 'g': multiplier = int64_t{1} << 30; break;
      case 'T': case 't': multiplier = int64_t{1} << 40; break;
      default: break;
    }
    if (multiplier != 1) text.remove_suffix(1);
  }
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(),
                                   value);
  if (text.empty() || ec != std::errc() ||
      end != text.data() + text.size() || value < 0 ||
      value > (int64_t{1} << 50) / multiplier) {
    return Fail(ErrorCode::kInvalid,
                "bad quota: expected bytes, optionally with K, M, G or T");
  }
  return value * multiplier;
}

// Reads one password line from standard input, without its line end.
Result<std::string> ReadPasswordFromStdin() {
  std::string password;
  if (!std::getline(std::cin, password)) {
    return Fail(ErrorCode::kInvalid, "no password on standard input");
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    return Fail(ErrorCode::kInvalid, "empty password on standard input");
  }
  return password;
}

// Wraps a command body: opens the directory, runs `body`, reports errors.
template <typename Body>
std::function<void()> WithDirectory(Context& context, Body body) {
  return [&context, body] {
    auto directory = context.OpenDirectory();
    if (!directory) {
      context.ReportError(directory.error());
      return;
    }
    if (Status status = body(**directory); !status) {
      context.ReportError(status.error());
    }
  };
}

void AddDomainCommands(CLI::App& app, Context& context) {
  CLI::App* domain = app.add_subcommand("domain", "Manage mail domains");
  domain->require_subcommand(1);
  auto name = std::make_shared<std::string>();

  CLI::App* create = domain->add_subcommand("create", "Add a local domain");
  create->add_option("DOMAIN", *name)->required();
  create->callback(WithDirectory(context, [&context, name](Directory& d) {
    if (Status s = d.CreateDomain(*name); !s) return s;
    context.Print({{"domain", *name}, {"created", true}},
                  "created domain " + *name);
    return Status{};
  }));

  CLI::App* list = domain->add_subcommand("list", "List local domains");
  list->callback(WithDirectory(context, [&context](Directory& d) -> Status {
    auto domains = d.ListDomains();
    if (!domains) return Fail(domains.error());
    json out = json::array();
    std::string text;
    for (const Domain& domain : *domains) {
      out.push_back({{"domain", domain.name}, {"created", domain.created}});
      text += domain.name + "\n";
    }
    context.Print(out, text);
    return {};
  }));

  CLI::App* remove =
      domain->add_subcommand("delete", "Remove a domain that has no users");
  remove->add_option("DOMAIN", *name)->required();
  remove->callback(WithDirectory(context, [&context, name](Directory& d) {
    if (Status s = d.DeleteDomain(*name); !s) return s;
    context.Print({{"domain", *name}, {"deleted", true}},
                  "deleted domain " + *name);
    return Status{};
  }));
}

void AddAccountCommands(CLI::App& app, Context& context) {
  CLI::App* account = app.add_subcommand("account", "Manage accounts");
  account->require_subcommand(1);
  struct Options {
    std::string address;
    std::string name;
    std::string quota = "0";
    bool password_stdin = false;
    std::string domain;
  };
  auto o = std::make_shared<Options>();

  CLI::App* create = account->add_subcommand("create", "Create an account");
  create->add_option("ADDRESS", o->address)->required();
  create->add_option("--name", o->name, "Display name");
  create->add_option("--quota", o->quota,
                     "Quota in bytes (K, M, G, T suffixes; 0: unlimited)");
  create->add_flag("--password-stdin", o->password_stdin,
                   "Read the password from the first line of stdin");
  create->callback(WithDirectory(context, [&context, o](Directory& d)
                                              -> Status {
    Account account;
    account.address = o->address;
    account.display_name = o->name;
    auto quota = ParseBytes(o->quota);
    if (!quota) return Fail(quota.error());
    account.quota_bytes = *quota;
    if (o->password_stdin) {
      auto password = ReadPasswordFromStdin();
      if (!password) return Fail(password.error());
      auto hash = HashPassword(*password);
      if (!hash) return Fail(hash.error());
      account.password_hash = *hash;
    }
    auto created = d.CreateAccount(account);
    if (!created) return Fail(created.error());
    std::string text = "created account " + created->address + " (id " +
                       created->id + ")";
    if (created->password_hash.empty()) {
      text += "\nno password set: it cannot log in until "
              "`corvus account passwd " + created->address + "`";
    }
    context.Print(AccountJson(*created), text);
    return {};
  }));

  CLI::App* list = account->add_subcommand("list", "List accounts");
  list->add_option("--domain", o->domain, "Only this domain");
  list->callback(WithDirectory(context, [&context, o](Directory& d)
                                            -> Status {
    std::optional<std::string_view> domain;
    if (!o->domain.empty()) domain = o->domain;
    auto accounts = d.ListAccounts(domain);
    if (!accounts) return Fail(accounts.error());
    json out = json::array();
    std::ostringstream text;
    for (const Account& a : *accounts) {
      out.push_back(AccountJson(a));
      text << a.address << "  " << AccountStatusName(a.status) << "  "
           << a.display_name << "\n";
    }
    context.Print(out, text.str());
    return {};
  }));

  CLI::App* show = account->add_subcommand("show", "Show one account");
  show->add_option("ADDRESS", o->address, "Address or id")->required();
  show->callback(WithDirectory(context, [&context, o](Directory& d)
                                            -> Status {
    auto a = d.GetAccount(o->address);
    if (!a) return Fail(a.error());
    context.Print(AccountJson(*a), AccountText(*a));
    return {};
  }));

  CLI::App* passwd = account->add_subcommand(
      "passwd", "Set the password, read from the first line of stdin");
  passwd->add_option("ADDRESS", o->address)->required();
  passwd->callback(WithDirectory(context, [&context, o](Directory& d)
                                              -> Status {
    auto a = d.GetAccount(o->address);
    if (!a) return Fail(a.error());
    auto password = ReadPasswordFromStdin();
    if (!password) return Fail(password.error());
    auto hash = HashPassword(*password);
    if (!hash) return Fail(hash.error());
    a->password_hash = *hash;
    if (Status s = d.UpdateAccount(*a); !s) return s;
    context.Print({{"address", a->address}, {"password_changed", true}},
                  "password changed for " + a->address);
    return {};
  }));

  // lock, unlock: the same body with a different target status.
  for (auto [verb, status, help] :
       {std::tuple{"lock", AccountStatus::kLocked,
                   "Refuse logins to an account (mail is still delivered)"},
        std::tuple{"unlock", AccountStatus::kActive,
                   "Make a locked account active again"}}) {
    CLI::App* sub = account->add_subcommand(verb, help);
    sub->add_option("ADDRESS", o->address)->required();
    sub->callback(WithDirectory(
        context, [&context, o, status = status](Directory& d) -> Status {
          auto a = d.GetAccount(o->address);
          if (!a) return Fail(a.error());
          a->status = status;
          if (Status s = d.UpdateAccount(*a); !s) return s;
          context.Print(AccountJson(*a),
                        a->address + " is now " +
                            std::string(AccountStatusName(status)));
          return {};
        }));
  }

  CLI::App* remove = account->add_subcommand("delete", "Delete an account");
  remove->add_option("ADDRESS", o->address)->required();
  remove->callback(WithDirectory(context, [&context, o](Directory& d)
                                              -> Status {
    if (Status s = d.DeleteAccount(o->address); !s) return s;
    context.Print({{"address", o->address}, {"deleted", true}},
                  "deleted account " + o->address);
    return {};
  }));
}

void AddAliasCommands(CLI::App& app, Context& context) {
  CLI::App* alias = app.add_subcommand("alias", "Manage aliases");
  alias->require_subcommand(1);
  auto address = std::make_shared<std::string>();
  auto targets = std::make_shared<std::vector<std::string>>();

  CLI::App* create =
      alias->add_subcommand("create", "Forward an address to targets");
  create->add_option("ALIAS", *address)->required();
  create->add_option("TARGET", *targets)->required();
  create->callback(WithDirectory(context, [&context, address,
                                           targets](Directory& d) {
    if (Status s = d.CreateAlias({*address, *targets}); !s) return s;
    context.Print({{"alias", *address}, {"targets", *targets}},
                  "created alias " + *address);
    return Status{};
  }));

  CLI::App* remove = alias->add_subcommand("delete", "Delete an alias");
  remove->add_option("ALIAS", *address)->required();
  remove->callback(WithDirectory(context, [&context, address](Directory& d) {
    if (Status s = d.DeleteAlias(*address); !s) return s;
    context.Print({{"alias", *address}, {"deleted", true}},
                  "deleted alias " + *address);
    return Status{};
  }));

  CLI::App* list = alias->add_subcommand("list", "List aliases");
  list->callback(WithDirectory(context, [&context](Directory& d) -> Status {
    auto aliases = d.ListAliases();
    if (!aliases) return Fail(aliases.error());
    json out = json::array();
    std::string text;
    for (const Alias& a : *aliases) {
      out.push_back({{"alias", a.address}, {"targets", a.targets}});
      text += a.address + " ->";
      for (const std::string& t : a.targets) text += " " + t;
      text += "\n";
    }
    context.Print(out, text);
    return {};
  }));
}

void AddListCommands(CLI::App& app, Context& context) {
  CLI::App* list_cmd =
      app.add_subcommand("list", "Manage distribution lists");
  list_cmd->require_subcommand(1);
  auto address = std::make_shared<std::string>();
  auto member = std::make_shared<std::string>();
  auto members = std::make_shared<std::vector<std::string>>();

  CLI::App* create = list_cmd->add_subcommand("create", "Create a list");
  create->add_option("LIST", *address)->required();
  create->add_option("--member", *members, "A member (repeatable)");
  create->callback(WithDirectory(context, [&context, address,
                                           members](Directory& d) {
    if (Status s = d.CreateList({*address, *members}); !s) return s;
    context.Print({{"list", *address}, {"members", *members}},
                  "created list " + *address);
    return Status{};
  }));

  CLI::App* add = list_cmd->add_subcommand("add-member", "Add a member");
  add->add_option("LIST", *address)->required();
  add->add_option("MEMBER", *member)->required();
  add->callback(WithDirectory(context, [&context, address,
                                        member](Directory& d) {
    if (Status s = d.AddListMember(*address, *member); !s) return s;
    context.Print({{"list", *address}, {"added", *member}},
                  "added " + *member + " to " + *address);
    return Status{};
  }));

  CLI::App* remove_member =
      list_cmd->add_subcommand("remove-member", "Remove a member");
  remove_member->add_option("LIST", *address)->required();
  remove_member->add_option("MEMBER", *member)->required();
  remove_member->callback(WithDirectory(context, [&context, address,
                                                  member](Directory& d) {
    if (Status s = d.RemoveListMember(*address, *member); !s) return s;
    context.Print({{"list", *address}, {"removed", *member}},
                  "removed " + *member + " from " + *address);
    return Status{};
  }));

  CLI::App* show = list_cmd->add_subcommand("show", "Show a list");
  show->add_option("LIST", *address)->required();
  show->callback(WithDirectory(context, [&context, address](Directory& d)
                                            -> Status {
    auto list = d.GetList(*address);
    if (!list) return Fail(list.error());
    std::string text = list->address + "\n";
    for (const std::string& m : list->members) text += "  " + m + "\n";
    context.Print({{"list", list->address}, {"members", list->members}},
                  text);
    return {};
  }));

  CLI::App* remove = list_cmd->add_subcommand("delete", "Delete a list");
  remove->add_option("LIST", *address)->required();
  remove->callback(WithDirectory(context, [&context, address](Directory& d) {
    if (Status s = d.DeleteList(*address); !s) return s;
    context.Print({{"list", *address}, {"deleted", true}},
                  "deleted list " + *address);
    return Status{};
  }));
}

}  // namespace

void AddDirectoryCommands(CLI::App& app, Context& context) {
  AddDomainCommands(app, context);
  AddAccountCommands(app, context);
  AddAliasCommands(app, context);
  AddListCommands(app, context);
}

}  // namespace corvus::cli
