// `corvus init`: lays out a new single-node data folder.
//
// Writes DIR/corvus.toml, creates the data folders and a self-signed TLS
// certificate, and creates the empty directory database. Every listener
// is on 127.0.0.1 at port-base + the protocol's standard port, so that
// several instances and a system MTA can share one machine.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/cli.h"
#include "common/tls.h"
#include "directory/directory_factory.h"

namespace corvus::cli {
namespace {

namespace fs = std::filesystem;

struct InitOptions {
  std::string dir;
  int port_base = 10000;
  std::string hostname = "localhost";
  bool force = false;
};

// Standard ports of each listener; the config gets port_base + these.
struct StandardPort {
  const char* listener;
  int port;
};
constexpr StandardPort kStandardPorts[] = {
    {"smtp", 25},   {"submission", 587}, {"submissions", 465},
    {"lmtp", 24},   {"imap", 143},       {"imaps", 993},
    {"pop3", 110},  {"pop3s", 995},
};
constexpr int kHighestStandardPort = 995;

std::string RenderConfig(const InitOptions& options) {
  std::ostringstream out;
  out << "# Corvus configuration, written by `corvus init`.\n"
         "# Every setting and its default: docs/configuration.md.\n"
         "# Relative paths are relative to this file's folder.\n\n"
         "[server]\n"
         "name = \"node1\"\n"
         "hostname = \""
      << options.hostname
      << "\"\n"
         "zone = \"local\"\n"
         "roles = [\"mta\", \"mailbox\", \"directory\"]\n"
         "data_dir = \".\"\n\n"
         "[log]\n"
         "level = \"info\"\n\n"
         "[tls]\n"
         "certificate = \"tls/cert.pem\"\n"
         "private_key = \"tls/key.pem\"\n\n"
         "[directory]\n"
         "backend = \"sqlite\"\n"
         "path = \"directory.db\"\n\n"
         "[listen]\n";
  for (const StandardPort& p : kStandardPorts) {
    out << p.listener << " = \"127.0.0.1:" << options.port_base + p.port
        << "\"\n";
  }
  return out.str();
}

Status RunInit(const InitOptions& options, Context& context) {
  if (options.port_base < 0 ||
      options.port_base + kHighestStandardPort > 65535) {
    return Fail(ErrorCode::kInvalid,
                "--port-base must be from 0 to " +
                    std::to_string(65535 - kHighestStandardPort));
  }
  fs::path dir = fs::absolute(options.dir);
  fs::path config_file = dir / "corvus.toml";
  if (fs::exists(config_file) && !options.force) {
    return Fail(Error{ErrorCode::kExists,
                      "already initialised (use --force to overwrite the "
                      "configuration)",
                      {{"file", config_file.string()}}});
  }

  std::error_code ec;
  for (const char* sub : {"", "tls", "queue", "store"}) {
    fs::create_directories(dir / sub, ec);
    if (ec) {
      return Fail(Error{ErrorCode::kIo, "cannot create folder: " +
                                            ec.message(),
                        {{"path", (dir / sub).string()}}});
    }
  }
  fs::permissions(dir / "tls", fs::perms::owner_all, ec);

  // Write the file in full before it is visible under its final name.
  fs::path temp = dir / "corvus.toml.tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << RenderConfig(options);
    if (!out.flush()) {
      return Fail(Error{ErrorCode::kIo, "cannot write configuration",
                        {{"file", temp.string()}}});
    }
  }
  fs::rename(temp, config_file, ec);
  if (ec) {
    return Fail(Error{ErrorCode::kIo, "cannot write configuration",
                      {{"file", config_file.string()}}});
  }

  fs::path cert = dir / "tls/cert.pem";
  fs::path key = dir / "tls/key.pem";
  if (!fs::exists(cert) || !fs::exists(key)) {
    if (auto s = WriteSelfSignedCertificate(cert, key, options.hostname);
        !s) {
      return s;
    }
  }

  // Loading the file we just wrote proves it is valid, and opening the
  // directory creates its schema.
  auto config = LoadConfig(config_file);
  if (!config) return Fail(config.error());
  auto directory = OpenDirectory(*config);
  if (!directory) return Fail(directory.error());

  nlohmann::json json = {{"config", config_file.string()},
                         {"data_dir", dir.string()},
                         {"port_base", options.port_base}};
  std::ostringstream text;
  text << "Initialised " << dir.string() << "\n"
       << "  configuration: " << config_file.string() << "\n"
       << "  SMTP on 127.0.0.1:" << options.port_base + 25
       << ", IMAP on 127.0.0.1:" << options.port_base + 143 << "\n"
       << "Next: corvus --config " << config_file.string()
       << " domain create example.com\n";
  context.Print(json, text.str());
  return {};
}

}  // namespace

void AddInitCommand(CLI::App& app, Context& context) {
  auto options = std::make_shared<InitOptions>();
  CLI::App* init = app.add_subcommand(
      "init", "Create a data folder with a configuration for one node");
  init->add_option("--dir", options->dir, "Data folder to create")
      ->required();
  init->add_option("--port-base", options->port_base,
                   "Listen on this number plus each standard port "
                   "(default 10000: SMTP 10025, IMAP 10143, ...)");
  init->add_option("--hostname", options->hostname,
                   "Name used in greetings and the TLS certificate");
  init->add_flag("--force", options->force,
                 "Overwrite an existing configuration file");
  init->callback([options, &context] {
    if (auto status = RunInit(*options, context); !status) {
      context.ReportError(status.error());
    }
  });
}

}  // namespace corvus::cli
