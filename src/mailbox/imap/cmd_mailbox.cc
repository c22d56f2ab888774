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
        bool carry = row[j] ||
                     (j > 0 && next[j - 1] &&
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
    for (size_t at = folder.find(kHierarchyDelimiter);
         at != std::string::npos;
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
  auto done = co_await WithAccount([&](AccountStore& s) {
    return s.SetSubscribed(folder, subscribe);
  });
  if (!done) co_return StoreFailure(done.error());
  co_return Completion::Ok(command.name + " completed");
}

Task<Completion> ImapSession::CmdList(const ImapCommand& command) {
  const bool lsub = command.name == "LSUB";
  ImapReader r(command.args);
  auto reference = r.AString();
  if (!reference || !r.Consume(' ')) co_return Completion::Bad("Invalid LIST");
  auto pattern_wire = r.ListMailbox();
  if (!pattern_wire || !r.AtEnd()) {
    // TODO(corvus): LIST-EXTENDED (RFC 5258) selection and return
    // options and LIST-STATUS (RFC 5819) are refused; clients then issue
    // STATUS per mailbox.
    co_return Completion::Bad("Invalid LIST arguments");
  }
  std::string wire = *reference + *pattern_wire;
  if (wire.size() > kMaxPatternLength) {
    co_return Completion::No("[LIMIT] Pattern too long");
  }

  // RFC 3501 §6.3.8: an empty pattern asks for the delimiter.
  if (pattern_wire->empty()) {
    Untagged(command.name + " (\\Noselect) \"/\" \"\"");
    co_return Completion::Ok(command.name + " completed");
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

  std::vector<FolderInfo> folders;
  auto done = co_await WithAccount([&](AccountStore& s) -> Status {
    auto list = s.ListFolders();
    if (!list) return Fail(list.error());
    folders = std::move(*list);
    return Status{};
  });
  if (!done) co_return StoreFailure(done.error());

  for (const FolderInfo& folder : folders) {
    if (lsub && !folder.subscribed) continue;
    if (!MatchPattern(pattern, folder.name)) continue;
    bool children = std::any_of(
        folders.begin(), folders.end(),
        [&folder](const FolderInfo& f) { return IsParentOf(folder.name, f.name); });
    std::string attributes = children ? "\\HasChildren" : "\\HasNoChildren";
    if (!folder.role.empty()) attributes += " " + folder.role;
    if (lsub) attributes.clear();
    Untagged(command.name + " (" + attributes + ") \"/\" " +
             ToWireName(folder.name));
    co_await FlushIfLarge();
  }
  co_return Completion::Ok(command.name + " completed");
}

Task<Completion> ImapSession::CmdStatus(const ImapCommand& command) {
  ImapReader r(command.args);
  auto name = ParseMailboxArg(r);
  if (!name || !r.Consume(' ') || !r.Consume('(')) {
    co_return Completion::Bad("Invalid STATUS");
  }
  std::vector<std::string> items;
  do {
    auto item = r.Atom();
    if (!item) co_return Completion::Bad("Invalid STATUS item");
    std::string upper = *item;
    for (char& c : upper) c = static_cast<char>(std::toupper(c));
    static constexpr std::string_view kItems[] = {
        "MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY",
        "UNSEEN",   "HIGHESTMODSEQ", "SIZE"};
    if (std::find(std::begin(kItems), std::end(kItems), upper) ==
        std::end(kItems)) {
      co_return Completion::Bad("Unknown STATUS item");
    }
    items.push_back(std::move(upper));
  } while (r.Consume(' '));
  if (!r.Consume(')') || !r.AtEnd()) co_return Completion::Bad("Invalid STATUS");

  FolderStatus status;
  const std::string folder = *name;
  auto done = co_await WithAccount([&](AccountStore& s) -> Status {
    auto st = s.Select(folder);
    if (!st) return Fail(st.error());
    status = std::move(*st);
    return Status{};
  });
  if (!done) co_return StoreFailure(done.error());

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
  // RFC 7162 §3.1.2: STATUS (HIGHESTMODSEQ) enables CONDSTORE.
  if (std::find(items.begin(), items.end(), "HIGHESTMODSEQ") != items.end()) {
    condstore_enabled_ = true;
  }
  Untagged("STATUS " + ToWireName(folder) + " (" + out + ")");
  co_return Completion::Ok("STATUS completed");
}

}  // namespace corvus::imap
