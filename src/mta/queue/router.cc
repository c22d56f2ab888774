#include "mta/queue/router.h"

#include <set>

#include "directory/address.h"

namespace corvus {

Router::Router(Directory& directory, std::string server_name,
               std::optional<Endpoint> local_lmtp,
               std::optional<Endpoint> relay_host, Logger log,
               bool in_process)
    : directory_(directory),
      server_name_(std::move(server_name)),
      local_lmtp_(std::move(local_lmtp)),
      relay_host_(std::move(relay_host)),
      log_(std::move(log)),
      in_process_(in_process) {}

Result<std::vector<QueueRecipient>> Router::Expand(
    const std::vector<std::string>& recipients) {
  std::vector<QueueRecipient> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& address, const std::string& original) {
    if (!seen.insert(address).second) return;
    QueueRecipient r;
    r.address = address;
    r.original = original;
    out.push_back(std::move(r));
  };

  for (const std::string& rcpt : recipients) {
    auto resolution = directory_.Resolve(rcpt);
    if (!resolution) {
      if (resolution.error().code == ErrorCode::kTemporary ||
          resolution.error().code == ErrorCode::kIo) {
        return Fail(resolution.error());
      }
      // Gone since RCPT (or never an address): let delivery bounce it.
      auto normalized = NormalizeAddress(rcpt);
      add(normalized ? normalized->address : rcpt, rcpt);
      continue;
    }
    if (resolution->loop_detected) {
      log_.Warning("alias_loop", {{"to", rcpt}});
    }
    for (const Account& account : resolution->accounts) {
      add(account.address, rcpt);
    }
    for (const std::string& external : resolution->external) {
      add(external, rcpt);
    }
    for (const std::string& unknown : resolution->unknown) {
      log_.Warning("dangling_alias_target", {{"to", rcpt},
                                             {"target", unknown}});
    }
  }
  return out;
}

Result<Route> Router::RouteFor(std::string_view address) {
  std::string_view domain = DomainOfAddress(address);
  auto local = directory_.IsLocalDomain(domain);
  if (!local) return Fail(local.error());

  if (!*local) {
    if (!relay_host_) {
      return Fail(ErrorCode::kTemporary,
                  "no relay_host configured for remote delivery");
    }
    return Route{*relay_host_, false, "relay"};
  }

  // Local domain: the account's home server, found on every attempt.
  std::string home;
  auto account = directory_.GetAccount(address);
  if (account) home = account->home_server;
  if (home.empty() || home == server_name_) {
    if (in_process_) return Route{{}, true, server_name_, true};
    if (!local_lmtp_) {
      return Fail(ErrorCode::kTemporary,
                  "this server has no lmtp listener for local delivery");
    }
    return Route{*local_lmtp_, true, server_name_};
  }
  auto servers = directory_.ListServers();
  if (!servers) return Fail(servers.error());
  for (const ServerInfo& server : *servers) {
    if (server.name != home) continue;
    for (const std::string& entry : server.addresses) {
      if (!entry.starts_with("lmtp=")) continue;
      auto endpoint = ParseEndpoint(entry.substr(5));
      if (endpoint) return Route{*endpoint, true, home};
    }
  }
  return Fail(Error{ErrorCode::kTemporary, "home server has no lmtp address",
                    {{"server", home}}});
}

}  // namespace corvus
