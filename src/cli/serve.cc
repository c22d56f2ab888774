// `corvus serve`: runs the roles the configuration lists in this process.
//
// Start-up is strict: any configuration, TLS or port problem is reported
// as one fatal line and the process exits non-zero before serving.
// SIGTERM or SIGINT starts a graceful shutdown (see common/net.h).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>

#include "cli/cli.h"
#include "cli/node.h"
#include "common/net.h"
#include "common/tls.h"

namespace corvus::cli {
namespace {

Status RunServe(Context& context) {
  auto config = context.LoadConfig();
  if (!config) return Fail(config.error());

  LogOptions log_options{config->log.level, config->log.file.string()};
  if (auto s = InitLogging(log_options); !s) return s;
  Logger log = Logger().With("server", config->server.name);

  ServerOptions server_options;
  server_options.threads = config->server.threads;
  server_options.shutdown_grace =
      std::chrono::seconds(config->server.shutdown_grace_seconds);
  server_options.log = log;
  if (!config->tls.certificate.empty()) {
    auto tls = TlsContext::Load(config->tls.certificate,
                                config->tls.private_key);
    if (!tls) return Fail(tls.error());
    server_options.tls = *tls;
  }
  // The node is declared first so that it outlives the server: the
  // server's event loops hold coroutines that use the node's services.
  std::unique_ptr<Node> node;
  Server server(server_options);
  auto started = Node::Start(*config, server, log);
  if (!started) return Fail(started.error());
  node = std::move(*started);

  log.Notice("start", {{"roles", [&] {
                          std::string roles;
                          for (const auto& r : config->server.roles) {
                            roles += roles.empty() ? r : "," + r;
                          }
                          return roles;
                        }()}});
  server.Run();
  node->Stop();
  log.Notice("stop");
  return {};
}

}  // namespace

void AddServeCommand(CLI::App& app, Context& context) {
  CLI::App* serve = app.add_subcommand(
      "serve", "Run the roles of the configuration in the foreground");
  serve->callback([&context] {
    if (auto status = RunServe(context); !status) {
      context.ReportError(status.error());
    }
  });
}

}  // namespace corvus::cli
