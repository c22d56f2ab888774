// IDLE (RFC 2177): the client waits for "+ idling", then the server
// reports changes as they happen until the client sends DONE.
//
// Two coroutines share the session for the duration: the command reads
// the DONE line, and a watcher started here waits on the account's
// AccountEvents subscription, syncs and flushes. Only the watcher touches
// the mailbox view and the output until the command has joined it, so
// the session never has two writers.
#include <utility>
// Asio after <utility>; see common/task.h.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mailbox/imap/session.h"

namespace corvus::imap {

namespace asio = boost::asio;

namespace {

// How long one wait lasts before the watcher looks again anyway; a
// delivery path that forgot to call Notify() is noticed this late.
constexpr std::chrono::milliseconds kIdlePoll{30000};

bool IsDone(std::string_view line) {
  if (line.ends_with("\r\n")) {
    line.remove_suffix(2);
  } else if (line.ends_with('\n')) {
    line.remove_suffix(1);
  }
  return line.size() == 4 && (line[0] | 0x20) == 'd' &&
         (line[1] | 0x20) == 'o' && (line[2] | 0x20) == 'n' &&
         (line[3] | 0x20) == 'e';
}

}  // namespace

Task<Completion> ImapSession::CmdIdle(const ImapCommand& command) {
  if (!ImapReader(command.args).AtEnd()) {
    co_return Completion::Bad("IDLE takes no arguments");
  }
  conn_.Queue("+ idling\r\n");
  if (state_ == ImapState::kSelected) co_await Sync(true, /*force=*/true);
  co_await FlushNow();
  if (closing_) co_return Completion::No("Connection lost");

  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer joined(executor, asio::steady_timer::time_point::max());
  bool done = false;
  bool watching = true;
  auto watcher = [this, &done]() -> Task<void> {
    // The watcher's writes re-arm the connection's timer, which leaves
    // the pending DONE read without its idle timeout; so IDLE keeps its
    // own clock (RFC 2177: a server may log out an IDLE client after
    // 30 minutes of silence).
    auto deadline = std::chrono::steady_clock::now() + options_.idle_timeout;
    while (!done && !closing_) {
      uint64_t seen = seen_generation_;
      co_await events_->WaitChange(seen, kIdlePoll);
      if (done || closing_) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        co_await Bye("Autologout; idle for too long", "idle timeout");
        conn_.Close();
        break;
      }
      if (state_ == ImapState::kSelected) {
        co_await Sync(true, /*force=*/false);
        co_await FlushNow();
      } else {
        seen_generation_ = events_->generation();
      }
      // A Bye() from Sync (mailbox removed) must end the DONE read too.
      if (closing_) conn_.Close();
    }
  };
  asio::co_spawn(executor, watcher(), [&](std::exception_ptr) {
    watching = false;
    joined.cancel();
  });

  auto line = co_await conn_.ReadLine(options_.max_line_length);
  done = true;
  events_->Wake();
  if (watching) {
    boost::system::error_code ignored;
    co_await joined.async_wait(
        asio::redirect_error(asio::use_awaitable, ignored));
  }

  if (!line) {
    if (line.error().code == ErrorCode::kTemporary && !closing_) {
      co_await Bye(conn_.stopping() ? "Server shutting down"
                                    : "Autologout; idle for too long",
                   line.error().message);
      co_return Completion::No("Session ended");
    }
    if (line.error().code != ErrorCode::kProtocol) {
      if (!closing_) conn_.NoteCloseReason("client closed in IDLE");
      closing_ = true;
      co_return Completion::No("Connection lost");
    }
    co_return Completion::Bad("Line too long");
  }
  if (!IsDone(*line)) co_return Completion::Bad("Expected DONE");
  co_return Completion::Ok("IDLE terminated");
}

}  // namespace corvus::imap
