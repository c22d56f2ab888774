// GETQUOTA, GETQUOTAROOT and SETQUOTA (RFC 9208). Each account has one
// quota root, "", holding its STORAGE limit from the directory.
#include "mailbox/imap/session.h"

namespace corvus::imap {

Task<Completion> ImapSession::CmdGetQuota(const ImapCommand& command) {
  const bool root_query = command.name == "GETQUOTAROOT";
  ImapReader r(command.args);
  auto argument = r.AString();
  if (!argument || !r.AtEnd()) co_return Completion::Bad("Invalid arguments");
  std::string mailbox;
  if (root_query) {
    auto name = ToStoreName(*argument);
    if (!name) co_return Completion::No("[CANNOT] Invalid mailbox name");
    mailbox = *name;
  } else if (!argument->empty()) {
    co_return Completion::No("[NONEXISTENT] No such quota root");
  }

  QuotaUsage usage;
  auto done = co_await WithAccount([&](AccountStore& s) -> Status {
    if (root_query) {
      if (auto f = s.GetFolder(mailbox); !f) return Fail(f.error());
    }
    auto u = s.Usage();
    if (!u) return Fail(u.error());
    usage = *u;
    return Status{};
  });
  if (!done) co_return StoreFailure(done.error());

  if (root_query) Untagged("QUOTAROOT " + ToWireName(mailbox) + " \"\"");
  // RFC 9208 §5.1: STORAGE is in units of 1024 octets.
  std::string resources;
  if (account_.quota_bytes > 0) {
    resources = "STORAGE " + std::to_string((usage.bytes + 1023) / 1024) + " " +
                std::to_string(account_.quota_bytes / 1024);
  }
  Untagged("QUOTA \"\" (" + resources + ")");
  co_return Completion::Ok(command.name + " completed");
}

Task<Completion> ImapSession::CmdSetQuota(const ImapCommand&) {
  co_return Completion::No("[NOPERM] Quotas are set by the administrator");
}

}  // namespace corvus::imap
