#include "mta/queue/bounce.h"

#include <chrono>
#include <ctime>

namespace corvus {
namespace {

// RFC 5322 date, e.g. "Fri, 04 Dec 2026 17:20:00 +0000".
std::string Rfc5322Now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

// The header section of a message: everything before the first empty
// line, capped so that a hostile header cannot make a huge bounce.
std::string HeaderSection(const std::string& data) {
  constexpr size_t kMaxQuoted = 64 * 1024;
  size_t end = data.find("\r\n\r\n");
  end = end == std::string::npos ? data.size() : end + 2;
  return data.substr(0, std::min(end, kMaxQuoted));
}

// The status code of an RFC 3463 enhanced code in `reply`, e.g. "5.1.1"
// from "550 5.1.1 User unknown"; "5.0.0" when there is none.
std::string StatusOf(const std::string& reply) {
  if (reply.size() >= 9 && reply[3] == ' ' &&
      (reply[4] == '5' || reply[4] == '4') && reply[5] == '.') {
    size_t end = reply.find(' ', 4);
    return reply.substr(4, end == std::string::npos ? end : end - 4);
  }
  return "5.0.0";
}

}  // namespace

std::string BuildBounce(const std::string& hostname,
                        const QueuedMessage& original,
                        const std::string& original_data,
                        const std::vector<FailedRecipient>& failed) {
  const std::string boundary = original.id + "/" + hostname;
  std::string out;
  out += "From: Mail Delivery System <MAILER-DAEMON@" + hostname + ">\r\n";
  out += "To: <" + original.sender + ">\r\n";
  out += "Subject: Undelivered Mail Returned to Sender\r\n";
  out += "Date: " + Rfc5322Now() + "\r\n";
  out += "Message-ID: <" + original.id + ".bounce@" + hostname + ">\r\n";
  out += "Auto-Submitted: auto-replied\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/report; report-type=delivery-status;\r\n";
  out += "\tboundary=\"" + boundary + "\"\r\n";
  out += "\r\n";

  // Part 1: words for people.
  out += "--" + boundary + "\r\n";
  out += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
  out += "This is the mail system at " + hostname + ".\r\n\r\n";
  out += "Your message could not be delivered to one or more recipients.\r\n";
  out += "The mail system gave these reasons:\r\n\r\n";
  for (const FailedRecipient& f : failed) {
    out += "<" + f.address + ">: " + f.reply + "\r\n";
  }
  out += "\r\n";

  // Part 2: the machine-readable report (RFC 3464 §2.2, §2.3).
  out += "--" + boundary + "\r\n";
  out += "Content-Type: message/delivery-status\r\n\r\n";
  out += "Reporting-MTA: dns; " + hostname + "\r\n";
  out += "X-Corvus-Queue-ID: " + original.id + "\r\n";
  out += "\r\n";
  for (const FailedRecipient& f : failed) {
    if (f.original != f.address) {
      out += "Original-Recipient: rfc822; " + f.original + "\r\n";
    }
    out += "Final-Recipient: rfc822; " + f.address + "\r\n";
    out += "Action: failed\r\n";
    out += "Status: " + StatusOf(f.reply) + "\r\n";
    if (f.reply.size() > 3 && std::isdigit(static_cast<unsigned char>(
                                  f.reply[0]))) {
      out += "Diagnostic-Code: smtp; " + f.reply + "\r\n";
    } else {
      out += "Diagnostic-Code: x-corvus; " + f.reply + "\r\n";
    }
    out += "\r\n";
  }

  // Part 3: the headers of the returned message.
  out += "--" + boundary + "\r\n";
  out += "Content-Type: text/rfc822-headers\r\n\r\n";
  out += HeaderSection(original_data);
  out += "\r\n--" + boundary + "--\r\n";
  return out;
}

}  // namespace corvus
