// Structured logging: one line per event, key=value fields.
//
// A line looks like
//   2026-12-04T17:20:00.123Z level=notice role=mta conn=42 event=connect
//       peer=mx.example[192.0.2.1]
// (one physical line). A Logger carries inherited context (role,
// connection id, account, ...) so that callers name only what is new.
// Values from the network are made printable and cut to a bounded length
// before they are written; passwords and message bodies are never passed
// to the logger at all.
//
// Levels, and what each means:
//   debug    developer detail, off by default
//   info     routine events an operator rarely reads
//   notice   what an operator wants by default: logins, deliveries, rejects
//   warning  something is wrong but service continues
//   error    an operation failed and was counted
//   fatal    start-up cannot continue; the process exits
//
// Thread safety: Logger is an immutable value; Log() may be called from any
// thread. InitLogging() must run before other threads start.
#ifndef CORVUS_COMMON_LOG_H_
#define CORVUS_COMMON_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace corvus {

enum class LogLevel { kDebug, kInfo, kNotice, kWarning, kError, kFatal };

// Parses "debug", "info", "notice", "warning", "error" or "fatal".
std::optional<LogLevel> ParseLogLevel(std::string_view name);
std::string_view LogLevelName(LogLevel level);

struct LogOptions {
  LogLevel level = LogLevel::kInfo;
  std::string file;  // empty: standard error
};

// Configures the process-wide sink. Returns kIo if `file` cannot be opened.
Status InitLogging(const LogOptions& options);

// True if events at `level` are written; lets callers skip costly
// formatting.
bool LogEnabled(LogLevel level);

// One key=value pair. The value is escaped when the line is written.
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  LogField(std::string_view k, int64_t v) : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, uint64_t v)
      : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, int v) : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, unsigned v)
      : key(k), value(std::to_string(v)) {}
  std::string_view key;
  std::string value;
};

using LogFields = std::initializer_list<LogField>;

class Logger {
 public:
  Logger() = default;

  // Returns a logger whose lines also carry key=value.
  Logger With(std::string_view key, std::string_view value) const;

  void Log(LogLevel level, std::string_view event, LogFields fields) const;
  void Debug(std::string_view event, LogFields fields = {}) const {
    Log(LogLevel::kDebug, event, fields);
  }
  void Info(std::string_view event, LogFields fields = {}) const {
    Log(LogLevel::kInfo, event, fields);
  }
  void Notice(std::string_view event, LogFields fields = {}) const {
    Log(LogLevel::kNotice, event, fields);
  }
  void Warning(std::string_view event, LogFields fields = {}) const {
    Log(LogLevel::kWarning, event, fields);
  }
  void Error(std::string_view event, LogFields fields = {}) const {
    Log(LogLevel::kError, event, fields);
  }
  void Fatal(std::string_view event, LogFields fields = {}) const {
    Log(LogLevel::kFatal, event, fields);
  }

 private:
  std::string context_;  // pre-rendered " key=value" pairs
};

// Makes untrusted text safe for one log field: non-printable bytes and
// the backslash become \xNN, and text beyond `max_length` bytes is cut and marked with "...".
std::string SanitizeForLog(std::string_view text, size_t max_length = 200);

// Formats a peer as "name[address]", "unknown" standing in for no name.
std::string FormatPeer(std::string_view name, std::string_view address);

}  // namespace corvus

#endif  // CORVUS_COMMON_LOG_H_
