// The configuration file, corvus.toml.
//
// One TOML file holds every setting. Each TOML table maps to one struct
// below, and each key keeps its TOML spelling as a field name, so a setting
// reads the same in the file, in the code and in the logs. Every field has
// its default here; docs/configuration.md lists them for operators.
//
// LoadConfig() is strict: an unknown key, a wrong type or a value out of
// range is a kConfig error naming the file, the key and what was expected,
// so that a typo never silently falls back to a default.
//
// Thread safety: Config is a plain value, read-only once loaded.
#ifndef CORVUS_COMMON_CONFIG_H_
#define CORVUS_COMMON_CONFIG_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/result.h"

namespace corvus {

// A host and port to listen on; `host` may be an IPv4 or IPv6 literal.
struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;  // "127.0.0.1:25", "[::1]:25"
};

// Parses "host:port" or "[v6]:port". Returns kInvalid on anything else.
Result<Endpoint> ParseEndpoint(std::string_view text);

// [server]: who this process is.
struct ServerConfig {
  std::string name = "corvus";         // unique name of this server
  std::string hostname = "localhost";  // used in greetings and Received:
  std::string zone = "local";
  // Roles this process runs: mta, proxy, mailbox, directory, admin.
  std::vector<std::string> roles = {"mta", "mailbox", "directory"};
  std::filesystem::path data_dir;  // required
  int threads = 0;                 // event loops; 0 means one per core
  int shutdown_grace_seconds = 10;
};

// [log]
struct LogConfig {
  LogLevel level = LogLevel::kInfo;
  std::filesystem::path file;  // empty: standard error
};

// [tls]
struct TlsConfig {
  std::filesystem::path certificate;  // PEM chain; empty disables TLS
  std::filesystem::path private_key;
};

// [directory]
struct DirectoryConfig {
  std::string backend = "sqlite";
  std::filesystem::path path = "directory.db";  // relative to data_dir
};

// [listen]: one endpoint per protocol; a missing key disables it.
struct ListenConfig {
  std::optional<Endpoint> smtp, submission, submissions, lmtp, imap, imaps,
      pop3, pop3s, http, admin;
};

// [limits]: apply to every listener unless a protocol overrides them.
struct LimitsConfig {
  int max_connections = 2000;         // per listener
  int max_connections_per_ip = 100;   // per listener and client address
  int idle_timeout_seconds = 300;
  int max_line_length = 8192;  // bytes, command lines
  // IMAP sessions one account may hold open at once (all its clients).
  int max_sessions_per_account = 20;
};

// Where a password may be sent over a connection without TLS.
enum class PlaintextAuth {
  kNever,     // only over TLS
  kLoopback,  // also from 127.0.0.0/8 and ::1
  kAlways,    // anywhere (for networks the operator trusts)
};

// True if a client may log in with a password now; every protocol
// (SMTP AUTH, IMAP LOGIN/AUTHENTICATE, POP3 USER/PASS/AUTH) asks this.
inline bool PlaintextAuthAllowed(PlaintextAuth policy, bool tls,
                                 bool peer_is_loopback) {
  if (tls) return true;
  switch (policy) {
    case PlaintextAuth::kAlways:
      return true;
    case PlaintextAuth::kLoopback:
      return peer_is_loopback;
    case PlaintextAuth::kNever:
      return false;
  }
  return false;
}

// [auth]
struct AuthConfig {
  // TOML: "never", "loopback" or "always".
  PlaintextAuth plaintext = PlaintextAuth::kLoopback;
};

// [smtp]: the mta role's SMTP and submission listeners.
struct SmtpConfig {
  int64_t max_message_size = 50 * 1024 * 1024;  // bytes, as in SIZE
  int max_recipients = 100;
  int max_header_size = 256 * 1024;  // bytes of header section
  int command_timeout_seconds = 300;
  int data_timeout_seconds = 600;
  int max_errors = 20;  // hard error budget; past it, 421 and hang up
  // Clients that may relay to any domain (CIDR).
  std::vector<std::string> trusted_networks = {"127.0.0.0/8", "::1/128"};
  // What to do with a bare CR or LF inside DATA: "reject" (550) or
  // "normalize" (rewrite as CRLF). Neither ever ends the data early.
  std::string bare_line_endings = "reject";
};

// [queue]: the mta role's durable queue.
struct QueueConfig {
  std::filesystem::path path = "queue";  // relative to data_dir
  int retry_initial_seconds = 60;
  int retry_max_seconds = 3600;
  int max_lifetime_seconds = 5 * 24 * 3600;
  // Messages delivered at once over the network; in-process deliveries
  // go in batches beside them.
  int delivery_concurrency = 20;
  // Smart host for every non-local recipient ("host:port"); unset: such
  // mail stays deferred until it expires and bounces.
  std::optional<Endpoint> relay_host;
};

// [store]: the mailbox role's message store.
struct StoreConfig {
  std::filesystem::path path = "store";  // relative to data_dir
  int orphan_grace_seconds = 3600;
  int collector_interval_seconds = 900;  // how often the collector runs
};

struct Config {
  std::filesystem::path file;  // where it was loaded from
  ServerConfig server;
  LogConfig log;
  TlsConfig tls;
  DirectoryConfig directory;
  ListenConfig listen;
  LimitsConfig limits;
  AuthConfig auth;
  SmtpConfig smtp;
  QueueConfig queue;
  StoreConfig store;

  // Resolves `path` against data_dir unless it is absolute.
  std::filesystem::path DataPath(const std::filesystem::path& path) const;
  bool HasRole(std::string_view role) const;
};

// Reads and validates `file`. Relative paths in the file are taken
// relative to the file's own folder.
Result<Config> LoadConfig(const std::filesystem::path& file);

// Parses TOML text as if read from `file_label` (tests use this).
Result<Config> ParseConfig(std::string_view text,
                           const std::filesystem::path& file_label);

}  // namespace corvus

#endif  // CORVUS_COMMON_CONFIG_H_
