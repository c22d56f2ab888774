#include "common/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

namespace corvus {
namespace {

const std::set<std::string> kKnownRoles = {"mta", "proxy", "mailbox",
                                           "directory", "admin"};

// Reads the keys of one TOML table into a struct and remembers which keys
// it consumed, so that Finish() can reject the ones nobody asked for.
class TableReader {
 public:
  TableReader(const toml::table* table, std::string prefix, std::string file)
      : table_(table), prefix_(std::move(prefix)), file_(std::move(file)) {}

  Status Int(std::string_view key, int64_t& out, int64_t min, int64_t max) {
    const toml::node* node = Take(key);
    if (node == nullptr) return {};
    auto value = node->value<int64_t>();
    if (!node->is_integer() || !value) {
      return Bad(key, "an integer");
    }
    if (*value < min || *value > max) {
      return Bad(key, "an integer from " + std::to_string(min) + " to " +
                          std::to_string(max));
    }
    out = *value;
    return {};
  }

  Status Int(std::string_view key, int& out, int min, int max) {
    int64_t wide = out;
    if (auto status = Int(key, wide, min, max); !status) return status;
    out = static_cast<int>(wide);
    return {};
  }

  Status String(std::string_view key, std::string& out) {
    const toml::node* node = Take(key);
    if (node == nullptr) return {};
    if (!node->is_string()) return Bad(key, "a string");
    out = *node->value<std::string>();
    return {};
  }

  Status OneOf(std::string_view key, std::string& out,
               std::initializer_list<std::string_view> allowed) {
    std::string value = out;
    if (auto status = String(key, value); !status) return status;
    if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
      std::string list;
      for (std::string_view a : allowed) {
        list += list.empty() ? "" : ", ";
        list += "\"" + std::string(a) + "\"";
      }
      return Bad(key, "one of " + list);
    }
    out = value;
    return {};
  }

  Status Path(std::string_view key, std::filesystem::path& out) {
    std::string value = out.string();
    if (auto status = String(key, value); !status) return status;
    out = value;
    return {};
  }

  Status Strings(std::string_view key, std::vector<std::string>& out) {
    const toml::node* node = Take(key);
    if (node == nullptr) return {};
    const toml::array* array = node->as_array();
    if (array == nullptr) return Bad(key, "an array of strings");
    std::vector<std::string> values;
    for (const toml::node& element : *array) {
      if (!element.is_string()) return Bad(key, "an array of strings");
      values.push_back(*element.value<std::string>());
    }
    out = std::move(values);
    return {};
  }

  Status EndpointValue(std::string_view key, std::optional<Endpoint>& out) {
    const toml::node* node = Take(key);
    if (node == nullptr) return {};
    auto text = node->value<std::string>();
    if (!node->is_string()) return Bad(key, "a \"host:port\" string");
    auto endpoint = ParseEndpoint(*text);
    if (!endpoint) return Bad(key, "a \"host:port\" string");
    out = *endpoint;
    return {};
  }

  Status Level(std::string_view key, LogLevel& out) {
    std::string name(LogLevelName(out));
    if (auto status = String(key, name); !status) return status;
    auto level = ParseLogLevel(name);
    if (!level) {
      return Bad(key,
                 "one of \"debug\", \"info\", \"notice\", \"warning\", "
                 "\"error\", \"fatal\"");
    }
    out = *level;
    return {};
  }

  // Rejects every key of the table that no reader call consumed.
  Status Finish() const {
    if (table_ == nullptr) return {};
    for (const auto& [key, node] : *table_) {
      if (!seen_.contains(std::string(key.str()))) {
        return Fail(Error{ErrorCode::kConfig,
                          "unknown key '" + Qualified(key.str()) + "'",
                          {{"file", file_}}});
      }
    }
    return {};
  }

 private:
  const toml::node* Take(std::string_view key) {
    seen_.insert(std::string(key));
    if (table_ == nullptr) return nullptr;
    return table_->get(key);
  }

  std::string Qualified(std::string_view key) const {
    return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
  }

  std::unexpected<Error> Bad(std::string_view key,
                             const std::string& expected) const {
    return Fail(Error{ErrorCode::kConfig,
                      "bad value for '" + Qualified(key) + "': expected " +
                          expected,
                      {{"file", file_}}});
  }

  const toml::table* table_;
  std::string prefix_;
  std::string file_;
  std::set<std::string> seen_;
};

// Runs `read` over table `name` of `root`, then rejects unknown keys.
template <typename ReadFn>
Status ReadSection(const toml::table& root, std::string_view name,
                   const std::string& file, ReadFn read) {
  const toml::node* node = root.get(name);
  const toml::table* table = nullptr;
  if (node != nullptr) {
    table = node->as_table();
    if (table == nullptr) {
      return Fail(Error{ErrorCode::kConfig,
                        "'" + std::string(name) + "' must be a table",
                        {{"file", file}}});
    }
  }
  TableReader reader(table, std::string(name), file);
  if (auto status = read(reader); !status) return status;
  return reader.Finish();
}

Status ReadServer(TableReader& r, ServerConfig& c) {
  if (auto s = r.String("name", c.name); !s) return s;
  if (auto s = r.String("hostname", c.hostname); !s) return s;
  if (auto s = r.String("zone", c.zone); !s) return s;
  if (auto s = r.Strings("roles", c.roles); !s) return s;
  if (auto s = r.Path("data_dir", c.data_dir); !s) return s;
  if (auto s = r.Int("threads", c.threads, 0, 256); !s) return s;
  return r.Int("shutdown_grace_seconds", c.shutdown_grace_seconds, 0, 3600);
}

Status ReadListen(TableReader& r, ListenConfig& c) {
  if (auto s = r.EndpointValue("smtp", c.smtp); !s) return s;
  if (auto s = r.EndpointValue("submission", c.submission); !s) return s;
  if (auto s = r.EndpointValue("submissions", c.submissions); !s) return s;
  if (auto s = r.EndpointValue("lmtp", c.lmtp); !s) return s;
  if (auto s = r.EndpointValue("imap", c.imap); !s) return s;
  if (auto s = r.EndpointValue("imaps", c.imaps); !s) return s;
  if (auto s = r.EndpointValue("pop3", c.pop3); !s) return s;
  if (auto s = r.EndpointValue("pop3s", c.pop3s); !s) return s;
  if (auto s = r.EndpointValue("http", c.http); !s) return s;
  return r.EndpointValue("admin", c.admin);
}

Status ReadLimits(TableReader& r, LimitsConfig& c) {
  if (auto s = r.Int("max_connections", c.max_connections, 1, 1000000); !s) {
    return s;
  }
  if (auto s = r.Int("max_connections_per_ip", c.max_connections_per_ip, 1,
                     1000000);
      !s) {
    return s;
  }
  if (auto s = r.Int("idle_timeout_seconds", c.idle_timeout_seconds, 1,
                     86400);
      !s) {
    return s;
  }
  if (auto s = r.Int("max_line_length", c.max_line_length, 512, 1 << 20);
      !s) {
    return s;
  }
  return r.Int("max_sessions_per_account", c.max_sessions_per_account, 1,
               1000000);
}

Status ReadAuth(TableReader& r, AuthConfig& c) {
  std::string plaintext = "loopback";
  if (auto s = r.OneOf("plaintext", plaintext,
                       {"never", "loopback", "always"});
      !s) {
    return s;
  }
  c.plaintext = plaintext == "never"    ? PlaintextAuth::kNever
                : plaintext == "always" ? PlaintextAuth::kAlways
                                        : PlaintextAuth::kLoopback;
  return {};
}

Status ReadSmtp(TableReader& r, SmtpConfig& c) {
  if (auto s = r.Int("max_message_size", c.max_message_size, 1024,
                     int64_t{1} << 34);
      !s) {
    return s;
  }
  if (auto s = r.Int("max_recipients", c.max_recipients, 1, 100000); !s) {
    return s;
  }
  if (auto s = r.Int("max_header_size", c.max_header_size, 1024, 1 << 26);
      !s) {
    return s;
  }
  if (auto s = r.Int("command_timeout_seconds", c.command_timeout_seconds, 1,
                     86400);
      !s) {
    return s;
  }
  if (auto s = r.Int("data_timeout_seconds", c.data_timeout_seconds, 1,
                     86400);
      !s) {
    return s;
  }
  if (auto s = r.Int("max_errors", c.max_errors, 1, 10000); !s) return s;
  if (auto s = r.Strings("trusted_networks", c.trusted_networks); !s) {
    return s;
  }
  return r.OneOf("bare_line_endings", c.bare_line_endings,
                 {"reject", "normalize"});
}

Status ReadQueue(TableReader& r, QueueConfig& c) {
  if (auto s = r.Path("path", c.path); !s) return s;
  if (auto s = r.Int("retry_initial_seconds", c.retry_initial_seconds, 1,
                     86400);
      !s) {
    return s;
  }
  if (auto s = r.Int("retry_max_seconds", c.retry_max_seconds, 1, 604800);
      !s) {
    return s;
  }
  if (auto s = r.Int("max_lifetime_seconds", c.max_lifetime_seconds, 1,
                     90 * 86400);
      !s) {
    return s;
  }
  if (auto s = r.EndpointValue("relay_host", c.relay_host); !s) return s;
  return r.Int("delivery_concurrency", c.delivery_concurrency, 1, 1000);
}

Status ReadStore(TableReader& r, StoreConfig& c) {
  if (auto s = r.Path("path", c.path); !s) return s;
  if (auto s = r.Int("orphan_grace_seconds", c.orphan_grace_seconds, 0,
                     30 * 86400);
      !s) {
    return s;
  }
  return r.Int("collector_interval_seconds", c.collector_interval_seconds, 1,
               86400);
}

// Cross-field checks that no single key can express.
Status Validate(Config& config, const std::string& file) {
  auto bad = [&](std::string message) {
    return Fail(Error{ErrorCode::kConfig, std::move(message),
                      {{"file", file}}});
  };
  if (config.server.data_dir.empty()) {
    return bad("missing key 'server.data_dir'");
  }
  for (const std::string& role : config.server.roles) {
    if (!kKnownRoles.contains(role)) {
      return bad("bad value for 'server.roles': unknown role '" + role +
                 "', expected mta, proxy, mailbox, directory or admin");
    }
  }
  if (config.directory.backend != "sqlite") {
    return bad("bad value for 'directory.backend': expected \"sqlite\"");
  }
  if (config.tls.certificate.empty() != config.tls.private_key.empty()) {
    return bad("'tls.certificate' and 'tls.private_key' go together");
  }
  if (config.queue.retry_max_seconds < config.queue.retry_initial_seconds) {
    return bad(
        "bad value for 'queue.retry_max_seconds': expected at least "
        "'queue.retry_initial_seconds'");
  }
  return {};
}

}  // namespace

std::string Endpoint::ToString() const {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

Result<Endpoint> ParseEndpoint(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    size_t close = text.find("]:");
    if (close == std::string_view::npos) {
      return Fail(ErrorCode::kInvalid, "expected [address]:port");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Fail(ErrorCode::kInvalid, "expected host:port");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Fail(ErrorCode::kInvalid, "IPv6 addresses need [brackets]");
    }
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(),
                                   value);
  if (host.empty() || ec != std::errc() || end != port.data() + port.size() ||
      value > 65535) {
    return Fail(ErrorCode::kInvalid, "expected host:port");
  }
  return Endpoint{std::string(host), static_cast<uint16_t>(value)};
}

std::filesystem::path Config::DataPath(
    const std::filesystem::path& path) const {
  if (path.is_absolute()) return path;
  return server.data_dir / path;
}

bool Config::HasRole(std::string_view role) const {
  return std::find(server.roles.begin(), server.roles.end(), role) !=
         server.roles.end();
}

Result<Config> ParseConfig(std::string_view text,
                           const std::filesystem::path& file_label) {
  const std::string file = file_label.string();
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin.line;
    return Fail(Error{ErrorCode::kConfig,
                      "TOML syntax error: " + std::string(e.description()),
                      {{"file", file}, {"line", where.str()}}});
  }

  Config config;
  config.file = file_label;
  LogConfig& log = config.log;
  struct Section {
    std::string_view name;
    std::function<Status(TableReader&)> read;
  };
  const Section sections[] = {
      {"server", [&](TableReader& r) { return ReadServer(r, config.server); }},
      {"log",
       [&](TableReader& r) -> Status {
         if (auto s = r.Level("level", log.level); !s) return s;
         return r.Path("file", log.file);
       }},
      {"tls",
       [&](TableReader& r) -> Status {
         if (auto s = r.Path("certificate", config.tls.certificate); !s) {
           return s;
         }
         return r.Path("private_key", config.tls.private_key);
       }},
      {"directory",
       [&](TableReader& r) -> Status {
         if (auto s = r.String("backend", config.directory.backend); !s) {
           return s;
         }
         return r.Path("path", config.directory.path);
       }},
      {"listen", [&](TableReader& r) { return ReadListen(r, config.listen); }},
      {"limits", [&](TableReader& r) { return ReadLimits(r, config.limits); }},
      {"auth", [&](TableReader& r) { return ReadAuth(r, config.auth); }},
      {"smtp", [&](TableReader& r) { return ReadSmtp(r, config.smtp); }},
      {"queue", [&](TableReader& r) { return ReadQueue(r, config.queue); }},
      {"store", [&](TableReader& r) { return ReadStore(r, config.store); }},
  };
  for (const Section& section : sections) {
    if (auto s = ReadSection(root, section.name, file, section.read); !s) {
      return Fail(s.error());
    }
  }

  // Any top-level key that is not one of the sections above is a typo.
  for (const auto& [key, node] : root) {
    bool known = std::any_of(
        std::begin(sections), std::end(sections),
        [&](const Section& s) { return s.name == key.str(); });
    if (!known) {
      return Fail(Error{ErrorCode::kConfig,
                        "unknown key '" + std::string(key.str()) + "'",
                        {{"file", file}}});
    }
  }

  // Paths in the file are relative to the file's own folder.
  std::filesystem::path base = file_label.parent_path();
  auto anchor = [&](std::filesystem::path& p) {
    if (!p.empty() && p.is_relative()) p = base / p;
  };
  anchor(config.server.data_dir);
  anchor(config.log.file);
  anchor(config.tls.certificate);
  anchor(config.tls.private_key);

  if (auto s = Validate(config, file); !s) return Fail(s.error());
  return config;
}

Result<Config> LoadConfig(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return Fail(Error{ErrorCode::kConfig, "cannot read configuration file",
                      {{"file", file.string()}}});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), std::filesystem::absolute(file));
}

}  // namespace corvus
