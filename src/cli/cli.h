// Shared plumbing of the `corvus` command: global options, how results
// and errors are printed, and the registration function of each command
// family. Each family lives in its own file (init.cc, serve.cc,
// directory_commands.cc, ...).
//
// Output rules: success prints to stdout (a human table, or JSON with
// --json); an error prints one line "corvus: error: ..." to stderr and the
// command exits with kExitFailure. Usage errors exit with kExitUsage.
//
// Thread safety: single-threaded; `serve` hands over to the Server.
#ifndef CORVUS_CLI_CLI_H_
#define CORVUS_CLI_CLI_H_

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/config.h"
#include "common/result.h"
#include "directory/directory.h"

namespace CLI {
class App;
}

namespace corvus::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// State shared by all subcommands of one invocation.
struct Context {
  std::string config_path;  // --config, else $CORVUS_CONFIG
  bool json = false;        // --json
  int exit_code = kExitOk;

  // Loads the configuration named by --config / CORVUS_CONFIG.
  Result<Config> LoadConfig() const;
  // Loads the configuration and opens its directory.
  Result<std::unique_ptr<Directory>> OpenDirectory() const;

  // Prints "corvus: error: ..." and sets exit_code to kExitFailure.
  void ReportError(const Error& error);
  // Prints `value` as JSON (with --json) or `text` otherwise.
  void Print(const nlohmann::json& value, const std::string& text);
};

void AddInitCommand(CLI::App& app, Context& context);
void AddServeCommand(CLI::App& app, Context& context);
void AddDirectoryCommands(CLI::App& app, Context& context);
void AddQueueCommands(CLI::App& app, Context& context);
void AddStoreCommands(CLI::App& app, Context& context);
void AddMailboxCommands(CLI::App& app, Context& context);

}  // namespace corvus::cli

#endif  // CORVUS_CLI_CLI_H_
