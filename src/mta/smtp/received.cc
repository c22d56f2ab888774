// Queue ids and the Received: trace header (RFC 5321 §4.4).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

#include "mta/smtp/smtp_session.h"

namespace corvus::mta {
namespace {

// Makes a client-supplied HELO safe inside a header: printable ASCII
// without the comment delimiters, cut to a domain's length.
std::string SanitizeHelo(std::string_view helo) {
  constexpr size_t kMax = 255;
  std::string out;
  for (unsigned char c : helo.substr(0, kMax)) {
    bool safe = c > ' ' && c < 0x7F && c != '(' && c != ')' && c != '\\';
    out.push_back(safe ? static_cast<char>(c) : '?');
  }
  return out.empty() ? "unknown" : out;
}

// RFC 5321 §4.1.3 address literal: [192.0.2.1] or [IPv6:2001:db8::1].
std::string AddressLiteral(std::string_view address) {
  if (address.find(':') != std::string_view::npos) {
    return "[IPv6:" + std::string(address) + "]";
  }
  return "[" + std::string(address) + "]";
}

// RFC 5322 §3.3 date-time in UTC.
std::string FormatDate(std::chrono::system_clock::time_point when) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed",
                                          "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr",
                                            "May", "Jun", "Jul", "Aug",
                                            "Sep", "Oct", "Nov", "Dec"};
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%s, %d %s %04d %02d:%02d:%02d +0000",
                kDays[utc.tm_wday % 7], utc.tm_mday, kMonths[utc.tm_mon % 12],
                utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
  return buffer;
}

}  // namespace

std::string NewQueueId() {
  static std::atomic<uint32_t> counter{std::random_device{}()};
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%013llX%05X",
                static_cast<unsigned long long>(micros) & 0xFFFFFFFFFFFFFULL,
                counter.fetch_add(1) & 0xFFFFFu);
  return buffer;
}

std::string ReceivedProtocol(SmtpMode mode, bool esmtp, bool tls,
                             bool authenticated, bool smtputf8) {
  if (mode != SmtpMode::kLmtp && !esmtp) return "SMTP";
  std::string out;
  // RFC 6531 §3.7.3: UTF8SMTP / UTF8LMTP with the same S and A suffixes.
  if (smtputf8) out = "UTF8";
  out += mode == SmtpMode::kLmtp ? "LMTP" : (smtputf8 ? "SMTP" : "ESMTP");
  // RFC 3848 §2: S for TLS, A for an authenticated client.
  if (tls) out += 'S';
  if (authenticated) out += 'A';
  return out;
}

std::string FormatReceivedHeader(const Envelope& envelope,
                                 std::string_view hostname) {
  std::string out = "Received: from " + SanitizeHelo(envelope.helo) + " (" +
                    AddressLiteral(envelope.client_address) + ")\r\n";
  out += "\tby " + std::string(hostname) + " with " + envelope.protocol +
         " id " + envelope.queue_id;
  if (envelope.rcpt_to.size() == 1) {
    out += "\r\n\tfor <" + envelope.rcpt_to[0].address + ">";
  }
  out += "; " + FormatDate(envelope.received_at) + "\r\n";
  return out;
}

}  // namespace corvus::mta
