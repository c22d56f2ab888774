#include "common/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>

namespace corvus {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::shared_ptr<spdlog::logger> g_sink;

spdlog::logger& Sink() {
  if (!g_sink) {
    g_sink = spdlog::stderr_logger_mt("corvus");
    g_sink->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %v",
                        spdlog::pattern_time_type::utc);
  }
  return *g_sink;
}

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (unsigned char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) {
      return true;
    }
  }
  return false;
}

// Appends " key=value", quoting the value when it holds spaces or
// specials so that the line stays machine-parsable.
void AppendField(std::string& out, std::string_view key,
                 std::string_view value) {
  out += ' ';
  out += key;
  out += '=';
  std::string clean = SanitizeForLog(value, 512);
  if (!NeedsQuotes(clean)) {
    out += clean;
    return;
  }
  // Backslashes were already escaped by SanitizeForLog, so a quote is the
  // only character left that could end the value early.
  out += '"';
  for (char c : clean) {
    if (c == '"') {
      out += "\\x22";
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  for (LogLevel level :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kNotice,
        LogLevel::kWarning, LogLevel::kError, LogLevel::kFatal}) {
    if (LogLevelName(level) == name) return level;
  }
  return std::nullopt;
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kNotice:
      return "notice";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kFatal:
      return "fatal";
  }
  return "unknown";
}

Status InitLogging(const LogOptions& options) {
  g_min_level = static_cast<int>(options.level);
  std::shared_ptr<spdlog::logger> sink;
  if (options.file.empty()) {
    sink = std::make_shared<spdlog::logger>(
        "corvus", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  } else {
    try {
      sink = std::make_shared<spdlog::logger>(
          "corvus", std::make_shared<spdlog::sinks::basic_file_sink_mt>(
                        options.file));
    } catch (const spdlog::spdlog_ex& e) {
      return Fail(Error{ErrorCode::kIo,
                        "cannot open log file: " + std::string(e.what()),
                        {{"file", options.file}}});
    }
  }
  sink->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %v",
                    spdlog::pattern_time_type::utc);
  // Our own levels are filtered above; spdlog passes everything through
  // and flushes at once so that a crash never hides the last lines.
  sink->set_level(spdlog::level::trace);
  sink->flush_on(spdlog::level::trace);
  g_sink = std::move(sink);
  return {};
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_min_level.load();
}

Logger Logger::With(std::string_view key, std::string_view value) const {
  Logger child = *this;
  AppendField(child.context_, key, value);
  return child;
}

void Logger::Log(LogLevel level, std::string_view event,
                 LogFields fields) const {
  if (!LogEnabled(level)) return;
  std::string line = "level=";
  line += LogLevelName(level);
  line += context_;
  AppendField(line, "event", event);
  for (const LogField& field : fields) {
    AppendField(line, field.key, field.value);
  }
  Sink().info(line);
}

std::string SanitizeForLog(std::string_view text, size_t max_length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(text.size(), max_length) + 3);
  for (size_t i = 0; i < text.size(); ++i) {
    if (i >= max_length) {
      out += "...";
      break;
    }
    unsigned char c = text[i];
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string FormatPeer(std::string_view name, std::string_view address) {
  std::string out = name.empty() ? "unknown" : std::string(name);
  out += '[';
  out += address;
  out += ']';
  return out;
}

}  // namespace corvus
