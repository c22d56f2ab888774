#include "mta/queue/bounce.h"

#include <gtest/gtest.h>

namespace corvus {
namespace {

TEST(BounceTest, IsAnRfc3464ReportQuotingHeadersButNotTheBody) {
  QueuedMessage original;
  original.id = "00000000000000a1";
  original.sender = "alice@example.com";
  std::string data =
      "Subject: hello\r\nFrom: alice@example.com\r\n\r\nsecret body\r\n";
  std::string bounce =
      BuildBounce("mx.example.net", original, data,
                  {{"bob@example.org", "team@example.org",
                    "550 5.1.1 User unknown"}});

  for (const char* want :
       {"To: <alice@example.com>\r\n",
        "Content-Type: multipart/report; report-type=delivery-status;",
        "Content-Type: message/delivery-status\r\n",
        "Reporting-MTA: dns; mx.example.net\r\n",
        "Original-Recipient: rfc822; team@example.org\r\n",
        "Final-Recipient: rfc822; bob@example.org\r\n",
        "Action: failed\r\n", "Status: 5.1.1\r\n",
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n",
        "Content-Type: text/rfc822-headers\r\n", "Subject: hello\r\n"}) {
    EXPECT_NE(bounce.find(want), std::string::npos)
        << "want the bounce to contain '" << want << "'";
  }
  EXPECT_EQ(bounce.find("secret body"), std::string::npos)
      << "the bounce must not quote the body";
}

TEST(BounceTest, ReasonWithoutReplyCodeGetsAGenericStatus) {
  QueuedMessage original;
  original.id = "1";
  original.sender = "a@example.com";
  std::string bounce = BuildBounce("h", original, "",
                                   {{"b@x.org", "b@x.org", "expired"}});
  EXPECT_NE(bounce.find("Status: 5.0.0\r\n"), std::string::npos);
  EXPECT_NE(bounce.find("Diagnostic-Code: x-corvus; expired"),
            std::string::npos);
}

}  // namespace
}  // namespace corvus
