#include "mta/queue/mta_services.h"

#include <chrono>

#include "common/net.h"
#include "directory/address.h"
#include "mta/smtp/smtp_session.h"

namespace corvus {

Task<mta::RcptVerdict> DirectoryRecipientPolicy::CheckRecipient(
    const mta::SessionInfo& session, std::string_view address) {
  std::string rcpt(address);
  mta::RcptVerdict verdict = mta::RcptVerdict::Accept();
  co_await Offload([&] {
    auto normalized = NormalizeAddress(rcpt);
    if (!normalized) {
      verdict = mta::RcptVerdict::UnknownUser();
      return;
    }
    auto local = directory_.IsLocalDomain(normalized->domain);
    if (!local) {
      verdict = mta::RcptVerdict::TryLater("Directory unavailable");
      return;
    }
    if (!*local) {
      if (!session.relay_allowed()) verdict = mta::RcptVerdict::RelayDenied();
      return;
    }
    auto resolution = directory_.Resolve(normalized->address);
    if (!resolution) {
      verdict = resolution.error().code == ErrorCode::kNotFound ||
                        resolution.error().code == ErrorCode::kInvalid
                    ? mta::RcptVerdict::UnknownUser()
                    : mta::RcptVerdict::TryLater("Directory unavailable");
      return;
    }
    // A closed account receives nothing; one addressed directly is
    // unknown from the outside.
    if (resolution->accounts.size() == 1 && resolution->external.empty() &&
        resolution->accounts[0].address == normalized->address &&
        resolution->accounts[0].status == AccountStatus::kClosed) {
      verdict = mta::RcptVerdict::UnknownUser();
    }
  });
  co_return verdict;
}

Task<Result<std::string>> DirectoryAuthenticator::Authenticate(
    const mta::SessionInfo& /*session*/, std::string_view authzid,
    std::string_view username, std::string_view password) {
  std::string user(username);
  std::string secret(password);
  std::string authz(authzid);
  Result<std::string> result = Fail(ErrorCode::kPermanent, "");
  co_await Offload([&] {
    auto account = directory_.Authenticate(user, secret);
    if (!account) {
      result = Fail(account.error());
      return;
    }
    if (!authz.empty()) {
      auto wanted = NormalizeAddress(authz);
      if (!wanted || wanted->address != account->address) {
        result = Fail(ErrorCode::kPermanent, "authorization denied");
        return;
      }
    }
    result = account->address;
  });
  co_return result;
}

Task<Result<std::string>> QueueSink::Accept(const mta::Envelope& envelope,
                                            std::string data) {
  QueuedMessage message;
  message.id = envelope.queue_id.empty() ? mta::NewQueueId()
                                         : envelope.queue_id;
  agent_.Expect(message.id);
  message.sender = envelope.mail_from;
  message.client = FormatPeer(envelope.helo, envelope.client_address);
  message.smtputf8 = envelope.smtputf8;
  message.body_8bit = envelope.body_8bit;
  std::vector<std::string> rcpts;
  for (const mta::Recipient& r : envelope.rcpt_to) rcpts.push_back(r.address);

  Result<std::string> id = Fail(ErrorCode::kTemporary, "not queued");
  co_await Offload([&] {
    auto recipients = router_.Expand(rcpts);
    if (!recipients) {
      id = Fail(Error{ErrorCode::kTemporary, recipients.error().message, {}});
      return;
    }
    message.recipients = std::move(*recipients);
    if (message.recipients.empty()) {
      // Every recipient expanded to nothing (an empty list): nothing to
      // deliver, and nothing lost by saying so.
      id = Fail(ErrorCode::kPermanent, "no deliverable recipients");
      return;
    }
    message.created = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    id = queue_.Enqueue(message, data);
  });
  if (id) {
    // Durable now: the agent delivers it from memory, without reading it
    // back from the queue.
    agent_.Handoff(std::move(message), std::move(data));
  } else {
    agent_.Forget(message.id);
  }
  co_return id;
}

}  // namespace corvus
