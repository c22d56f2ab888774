// The `corvus` command: one binary for serving and for administration.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <iostream>

#include "cli/cli.h"
#include "directory/directory_factory.h"

namespace corvus::cli {

Result<Config> Context::LoadConfig() const {
  if (config_path.empty()) {
    return Fail(ErrorCode::kConfig,
                "no configuration: pass --config FILE or set CORVUS_CONFIG");
  }
  return corvus::LoadConfig(config_path);
}

Result<std::unique_ptr<Directory>> Context::OpenDirectory() const {
  auto config = LoadConfig();
  if (!config) return Fail(config.error());
  return corvus::OpenDirectory(*config);
}

void Context::ReportError(const Error& error) {
  std::cerr << "corvus: error: " << error.ToString() << "\n";
  exit_code = kExitFailure;
}

void Context::Print(const nlohmann::json& value, const std::string& text) {
  if (json) {
    std::cout << value.dump(2) << "\n";
  } else if (!text.empty()) {
    std::cout << text;
    if (text.back() != '\n') std::cout << "\n";
  }
}

}  // namespace corvus::cli

int main(int argc, char** argv) {
  using corvus::cli::Context;
  Context context;
  if (const char* env = std::getenv("CORVUS_CONFIG")) {
    context.config_path = env;
  }

  CLI::App app{"Corvus mail platform: serve mail and administer it."};
  app.name("corvus");
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  app.add_option("-c,--config", context.config_path,
                 "Configuration file (default: $CORVUS_CONFIG)");
  app.add_flag("--json", context.json, "Print machine-readable JSON");
  app.require_subcommand(1);
  app.fallthrough();

  corvus::cli::AddInitCommand(app, context);
  corvus::cli::AddServeCommand(app, context);
  corvus::cli::AddDirectoryCommands(app, context);
  corvus::cli::AddQueueCommands(app, context);
  corvus::cli::AddStoreCommands(app, context);
  corvus::cli::AddMailboxCommands(app, context);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "corvus: error: " << e.what() << "\n"
              << "Run 'corvus --help' for usage.\n";
    return corvus::cli::kExitUsage;
  }
  return context.exit_code;
}
