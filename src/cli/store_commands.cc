// `corvus store collect`: one pass of the orphan collector by hand.
//
// A running server collects on its own every collector_interval_seconds.
// Run by hand while a server delivers, only the grace period protects
// in-flight blobs (the server's pins are in its own memory), so --grace
// below the configured value is refused unless the server is stopped; the
// command cannot tell, so the operator must.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "store/collector.h"
#include "store/store.h"

namespace corvus::cli {

void AddStoreCommands(CLI::App& app, Context& context) {
  CLI::App* store_cmd = app.add_subcommand("store", "Maintain the store");
  store_cmd->require_subcommand(1);
  auto grace = std::make_shared<int>(-1);
  auto server_stopped = std::make_shared<bool>(false);

  CLI::App* collect =
      store_cmd->add_subcommand("collect", "Reclaim unreferenced blobs now");
  collect->add_option("--grace", *grace,
                      "Seconds a blob must be old to go (default: "
                      "store.orphan_grace_seconds)");
  collect->add_flag("--server-stopped", *server_stopped,
                    "Promise that no server uses this store now, which "
                    "allows a shorter --grace");
  collect->callback([&context, grace, server_stopped] {
    auto config = context.LoadConfig();
    if (!config) return context.ReportError(config.error());
    int seconds = *grace < 0 ? config->store.orphan_grace_seconds : *grace;
    if (seconds < config->store.orphan_grace_seconds && !*server_stopped) {
      return context.ReportError(
          Error{ErrorCode::kInvalid,
                "--grace below store.orphan_grace_seconds needs "
                "--server-stopped",
                {}});
    }
    auto store = MessageStore::Open(*config);
    if (!store) return context.ReportError(store.error());
    OrphanCollector collector(**store, std::chrono::seconds(seconds));
    auto stats = collector.RunOnce();
    if (!stats) return context.ReportError(stats.error());
    context.Print({{"blobs_seen", stats->blobs_seen},
                   {"kept_young", stats->kept_young},
                   {"kept_referenced", stats->kept_referenced},
                   {"orphans_removed", stats->orphans_removed},
                   {"staging_removed", stats->staging_removed},
                   {"accounts_scanned", stats->accounts_scanned}},
                  "removed " + std::to_string(stats->orphans_removed) +
                      " orphan blobs and " +
                      std::to_string(stats->staging_removed) +
                      " staging files; kept " +
                      std::to_string(stats->kept_referenced) +
                      " referenced");
  });
}

}  // namespace corvus::cli
