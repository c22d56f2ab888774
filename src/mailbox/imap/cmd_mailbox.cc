// Mailbox management: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
// LIST, LSUB and STATUS (RFC 3501 §6.3, RFC 6154 special-use attributes,
// RFC 7162 HIGHESTMODSEQ and RFC 8438 SIZE in STATUS).
#include <algorithm>
#include <cctype>

#include "common/log.h"
#include "mailbox/imap/imap_utf7.h"
#include "mailbox/imap/session.h"

namespace corvus::imap {
namespace {

// Patterns longer than this are refused: matching costs pattern x name.
constexpr size_t kMaxPatternLength = 1024;

// RFC 3501 §6.3.8: "*" matches anything, "%" anything but the
// hierarchy delimiter. Dynamic programming, so hostile patterns with many
// wildcards stay polynomial.
bool MatchPattern(std::string_view pattern, std::string_view name) {
  std::vector<char> row(name.size() + 1, 0), next(name.size() + 1, 0);
  row[0] = 1;
  for (char p : pattern) {
    std::fill(next.begin(), next.end(), 0);
    for (size_t j = 0; j <= name.size(); ++j) {
      if (p == '*' || p == '%') {
        // Zero characters, or one more allowed character after a match.
        bool carry =
            row[j] || (j > 0 && next[j - 1] &&
                       (p == '*' || name[j - 1] != kHierarchyDelimiter));
        next[j] = carry;
      } else if (j > 0 && row[j - 1] && name[j - 1] == p) {
        next[j] = 1;
      }
    }
    row.swap(next);
  }
  return row[name.size()];
}

bool IsParentOf(std::string_view parent, std::string_view child) {
  return child.size() > parent.size() + 1 && child.starts_with(parent) &&
         child[parent.size()] == kHierarchyDelimiter;
}

}  // namespace

Task<Completion> ImapSession::CmdCreate(const ImapCommand& command) {
  ImapReader r(command.args);
  auto name = ParseMailboxArg(r);
  if (!name) co_return NameFailure(name.error());
  // RFC 4466 §2.2 create parameters (e.g. USE) are not supported.
  if (!r.AtEnd()) co_return Completion::Bad("Unexpected CREATE arguments");
  if (*name == kInbox) {
    co_return Completion::No("[ALREADYEXISTS] INBOX always exists");
  }
  const std::string folder = *name;
  auto done = co_await WithAccount([&](AccountStore& s) -> Status {
    // RFC 3501 §6.3.3: create missing superior names too.
    for (size_t at = folder.find(kHierarchyDelimiter); at != std::string::npos;
         at = folder.find(kHierarchyDelimiter, at + 1)) {
      std::string parent = folder.substr(0, at);
      if (auto f = s.GetFolder(parent); !f) {
        if (f.error().code != ErrorCode::kNotFound) return Fail(f.error());
        if (auto c = s.CreateFolder(parent); !c) return Fail(c.error());
      }
    }
    auto created = s.CreateFolder(folder);
    if (!created) return Fail(created.error());
    return Status{};
  });
  if (!done) co_return StoreFailure(done.error());
  NotifyChange();
  co_return Completion::Ok("CREATE completed");
}

Task<Completion> ImapSession::CmdDelete(const ImapCommand& command) {
  ImapReader r(command.args);
  auto name = ParseMailboxArg(r);
  if (!name) co_return NameFailure(name.error());
  if (!r.AtEnd()) co_return Completion::Bad("Unexpected DELETE arguments");
  const std::string folder = *name;
  auto done = co_await WithAccount(
      [&](AccountStore& s) { return s.DeleteFolder(folder); });
  if (!done) co_return StoreFailure(done.error());
  NotifyChange();
  // Deleting the selected mailbox leaves nothing to show; end the
  // selection here rather than let the next sync hang up on the client.
  if (state_ == ImapState::kSelected && folder_ == folder) {
    Deselect();
    if (qresync_enabled_) Untagged("OK [CLOSED] Mailbox deleted");
  }
  co_return Completion::Ok("DELETE completed");
}

Task<Completion> ImapSession::CmdRename(const ImapCommand& command) {
  ImapReader r(command.args);
  auto from = ParseMailboxArg(r);
  if (!from || !r.Consume(' ')) co_return Completion::Bad("Invalid RENAME");
  auto to = ParseMailboxArg(r);
  if (!to || !r.AtEnd()) co_return Completion::Bad("Invalid RENAME");
  const std::string source = *from;
  const std::string target = *to;
  auto done = co_await WithAccount(
      [&](AccountStore& s) { return s.RenameFolder(source, target); });
  if (!done) co_return StoreFailure(done.error());
  NotifyChange();
  // The selected mailbox (or its parent) may have moved; follow it, since
  // its UIDVALIDITY and messages are unchanged. Renaming INBOX moves the
  // messages instead, which Sync() reports as expunges.
  if (state_ == ImapState::kSelected && source != kInbox) {
    if (folder_ == source) {
      folder_ = target;
    } else if (IsParentOf(source, folder_)) {
      folder_ = target + folder_.substr(source.size());
    }
  }
  co_return Completion::Ok("RENAME completed");
}

Task<Completion> ImapSession::CmdSubscribe(const ImapCommand& command) {
  const bool subscribe = command.name == "SUBSCRIBE";
  ImapReader r(command.args);
  auto name = ParseMailboxArg(r);
  if (!name) co_return NameFailure(name.error());
  if (!r.AtEnd()) co_return Completion::Bad("Unexpected arguments");
  const std::string folder = *name;
  auto done = co_await WithAccount(
      [&](AccountStore& s) { return s.SetSubscribed(folder, subscribe); });
  if (!done) co_return StoreFailure(done.error());
  co_return Completion::Ok(command.name + " completed");
}

namespace {

// LIST-EXTENDED (RFC 5258) options and LIST-STATUS (RFC 5819).
struct ListOptions {
  bool select_subscribed = false;
  bool select_special_use = false;
  bool return_subscribed = false;
  std::vector<std::string> status_items;  // RETURN (STATUS (...))
};

constexpr std::string_view kStatusItems[] = {
    "MESSAGES", "RECENT",        "UIDNEXT", "UIDVALIDITY",
    "UNSEEN",   "HIGHESTMODSEQ", "SIZE"};

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(c));
  return out;
}

// Reads "(item item ...)" of STATUS. kProtocol on anything else.
Result<std::vector<std::string>> ReadStatusItems(ImapReader& r) {
  if (!r.Consume('(')) return Fail(ErrorCode::kProtocol, "Invalid STATUS");
  std::vector<std::string> items;
  do {
    auto item = r.Atom();
    if (!item) return Fail(ErrorCode::kProtocol, "Invalid STATUS item");
    std::string upper = Upper(*item);
    if (std::find(std::begin(kStatusItems), std::end(kStatusItems), upper) ==
        std::end(kStatusItems)) {
      return Fail(ErrorCode::kProtocol, "Unknown STATUS item");
    }
    items.push_back(std::move(upper));
  } while (r.Consume(' '));
  if (!r.Consume(')')) return Fail(ErrorCode::kProtocol, "Invalid STATUS");
  return items;
}

// "MESSAGES 3 UIDNEXT 9" for `items` of `status`.
std::string FormatStatus(const std::vector<std::string>& items,
                         const FolderStatus& status) {
  std::string out;
  for (const std::string& item : items) {
    uint64_t value = 0;
    if (item == "MESSAGES") value = status.messages;
    if (item == "UIDNEXT") value = status.folder.uidnext;
    if (item == "UIDVALIDITY") value = status.folder.uidvalidity;
    if (item == "UNSEEN") value = status.unseen;
    if (item == "HIGHESTMODSEQ") value = status.folder.highestmodseq;
    if (item == "SIZE") value = status.size;
    if (!out.empty()) out.push_back(' ');
    out += item + " " + std::to_string(value);
  }
  return out;
}

// Reads "(opt opt ...)" of atoms, upper-cased; STATUS takes its list.
Status ReadListOptions(ImapReader& r, bool is_return, ListOptions& options) {
  if (!r.Consume('(')) return Fail(ErrorCode::kProtocol, "Invalid LIST");
  while (!r.Peek(')')) {
    auto atom = r.Atom();
    if (!atom) return Fail(ErrorCode::kProtocol, "Invalid LIST option");
    std::string option = Upper(*atom);
    if (option == "SUBSCRIBED") {
      (is_return ? options.return_subscribed : options.select_subscribed) =
          true;
    } else if (option == "SPECIAL-USE") {
      if (!is_return) options.select_special_use = true;
    } else if (is_return && option == "STATUS") {
      if (!r.Consume(' ')) return Fail(ErrorCode::kProtocol, "Invalid STATUS");
      auto items = ReadStatusItems(r);
      if (!items) return Fail(items.error());
      options.status_items = std::move(*items);
    } else if (option != "CHILDREN" && option != "REMOTE" &&
               option != "RECURSIVEMATCH") {
      // RFC 5258 §3: unknown options are an error. TODO(corvus):
      // RECURSIVEMATCH is accepted but yields no CHILDINFO, so unsubscribed
      // parents of subscribed folders are not shown for it.
      return Fail(ErrorCode::kProtocol, "Unknown LIST option");
    }
    if (!r.Consume(' ')) break;
  }
  if (!r.Consume(')')) return Fail(ErrorCode::kProtocol, "Invalid LIST");
  return Status{};
}

}  // namespace

Task<Completion> ImapSession::CmdList(const ImapCommand& command) {
  const bool lsub = command.name == "LSUB";
  ImapReader r(command.args);
  ListOptions options;
  if (!lsub && r.Peek('(')) {
    if (auto s = ReadListOptions(r, false, options); !s) {
      co_return Completion::Bad(s.error().message);
    }
    if (!r.Consume(' ')) co_return Completion::Bad("Invalid LIST");
  }
  auto reference = r.AString();
  if (!reference || !r.Consume(' ')) co_return Completion::Bad("Invalid LIST");

  // One pattern, or a parenthesised list of them (RFC 5258 §3).
  std::vector<std::string> wire_patterns;
  if (!lsub && r.Consume('(')) {
    do {
      auto p = r.ListMailbox();
      if (!p) co_return Completion::Bad("Invalid LIST pattern");
      wire_patterns.push_back(std::move(*p));
    } while (r.Consume(' ') && wire_patterns.size() < 100);
    if (!r.Consume(')')) co_return Completion::Bad("Invalid LIST patterns");
  } else {
    auto p = r.ListMailbox();
    if (!p) co_return Completion::Bad("Invalid LIST pattern");
    wire_patterns.push_back(std::move(*p));
  }
  if (!lsub && r.Consume(' ')) {
    if (!r.ConsumeKeyword("RETURN") || !r.Consume(' ')) {
      co_return Completion::Bad("Invalid LIST arguments");
    }
    if (auto s = ReadListOptions(r, true, options); !s) {
      co_return Completion::Bad(s.error().message);
    }
  }
  if (!r.AtEnd()) co_return Completion::Bad("Invalid LIST arguments");

  // RFC 3501 §6.3.8: an empty pattern asks for the delimiter.
  if (wire_patterns.size() == 1 && wire_patterns[0].empty()) {
    Untagged(command.name + " (\\Noselect) \"/\" \"\"");
    co_return Completion::Ok(command.name + " completed");
  }
  std::vector<std::string> patterns;
  for (const std::string& p : wire_patterns) {
    std::string wire = *reference + p;
    if (wire.size() > kMaxPatternLength) {
      co_return Completion::No("[LIMIT] Pattern too long");
    }
    std::string pattern;
    if (utf8_enabled_) {
      if (!IsValidUtf8(wire)) co_return Completion::Bad("Pattern is not UTF-8");
      pattern = wire;
    } else {
      auto decoded = DecodeMailboxName(wire);
      if (!decoded) co_return Completion::Bad("Invalid modified UTF-7 pattern");
      pattern = std::move(*decoded);
    }
    if (pattern.size() >= 5 &&
        std::equal(pattern.begin(), pattern.begin() + 5, "INBOX",
                   [](char a, char b) { return std::toupper(a) == b; }) &&
        (pattern.size() == 5 || pattern[5] == kHierarchyDelimiter ||
         pattern[5] == '*' || pattern[5] == '%')) {
      pattern.replace(0, 5, kInbox);
    }
    patterns.push_back(std::move(pattern));
  }

  std::vector<FolderInfo> folders;
  std::vector<FolderInfo> matched;
  std::vector<FolderStatus> statuses;
  const bool want_status = !options.status_items.empty();
  auto done = co_await WithAccount([&](AccountStore& s) -> Status {
    auto list = s.ListFolders();
    if (!list) return Fail(list.error());
    folders = std::move(*list);
    for (const FolderInfo& folder : folders) {
      bool subscribed_only = lsub || options.select_subscribed;
      if (subscribed_only && !folder.subscribed) continue;
      if (options.select_special_use && folder.role.empty()) continue;
      if (std::none_of(patterns.begin(), patterns.end(),
                       [&folder](const std::string& p) {
                         return MatchPattern(p, folder.name);
                       })) {
        continue;
      }
      matched.push_back(folder);
      if (!want_status) continue;
      auto st = s.Select(folder.name);
      if (!st) return Fail(st.error());
      statuses.push_back(std::move(*st));
    }
    return Status{};
  });
  if (!done) co_return StoreFailure(done.error());

  for (size_t i = 0; i < matched.size(); ++i) {
    const FolderInfo& folder = matched[i];
    bool children = std::any_of(folders.begin(), folders.end(),
                                [&folder](const FolderInfo& f) {
                                  return IsParentOf(folder.name, f.name);
                                });
    std::string attributes = children ? "\\HasChildren" : "\\HasNoChildren";
    if (!folder.role.empty()) attributes += " " + folder.role;
    if (options.select_subscribed || options.return_subscribed) {
      if (folder.subscribed) attributes += " \\Subscribed";
    }
    if (lsub) attributes.clear();
    std::string name = ToWireName(folder.name);
    Untagged(command.name + " (" + attributes + ") \"/\" " + name);
    // RFC 5819 §2: the STATUS response follows its LIST response.
    if (want_status) {
      Untagged("STATUS " + name + " (" +
               FormatStatus(options.status_items, statuses[i]) + ")");
    }
  }
  co_return Completion::Ok(command.name + " completed");
}

Task<Completion> ImapSession::CmdStatus(const ImapCommand& command) {
  ImapReader r(command.args);
  auto name = ParseMailboxArg(r);
  if (!name) co_return NameFailure(name.error());
  if (!r.Consume(' ')) co_return Completion::Bad("Invalid STATUS");
  auto items = ReadStatusItems(r);
  if (!items) co_return Completion::Bad(items.error().message);
  if (!r.AtEnd()) co_return Completion::Bad("Invalid STATUS");

  FolderStatus status;
  const std::string folder = *name;
  auto done = co_await WithAccount([&](AccountStore& s) -> Status {
    auto st = s.Select(folder);
    if (!st) return Fail(st.error());
    status = std::move(*st);
    return Status{};
  });
  if (!done) co_return StoreFailure(done.error());

  // RFC 7162 §3.1.2: STATUS (HIGHESTMODSEQ) enables CONDSTORE.
  if (std::find(items->begin(), items->end(), "HIGHESTMODSEQ") !=
      items->end()) {
    condstore_enabled_ = true;
  }
  Untagged("STATUS " + ToWireName(folder) + " (" +
           FormatStatus(*items, status) + ")");
  co_return Completion::Ok("STATUS completed");
}

}  // namespace corvus::imap
