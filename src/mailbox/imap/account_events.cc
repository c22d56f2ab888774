// The account change hub; see account_events.h.
#include "mailbox/imap/account_events.h"

#include <algorithm>
#include <optional>
#include <utility>
// Asio after <utility>; see common/task.h.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace corvus::imap {

namespace asio = boost::asio;

// One session's registration. `generation` and `woken` are atomics so
// Notify never waits for a session; the timer pointer and executor are
// guarded by `mu`, and the timer itself is only touched on its own loop.
struct AccountEvents::State {
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> woken{false};
  std::mutex mu;
  std::optional<asio::any_io_executor> executor;  // guarded by mu
  asio::steady_timer* timer = nullptr;            // guarded by mu

  // Cancels a pending wait on its own loop.
  void Poke(const std::shared_ptr<State>& self) {
    std::lock_guard lock(mu);
    if (timer == nullptr || !executor) return;
    asio::post(*executor, [self] {
      std::lock_guard inner(self->mu);
      if (self->timer != nullptr) self->timer->cancel();
    });
  }
};

void AccountEvents::Notify(std::string_view account_id) {
  std::lock_guard lock(mu_);
  auto it = accounts_.find(std::string(account_id));
  if (it == accounts_.end()) return;
  for (const std::shared_ptr<State>& state : it->second) {
    state->generation.fetch_add(1);
    state->Poke(state);
  }
}

Result<std::unique_ptr<AccountEvents::Subscription>> AccountEvents::Subscribe(
    std::string_view account_id) {
  std::lock_guard lock(mu_);
  auto& sessions = accounts_[std::string(account_id)];
  if (sessions.size() >= max_sessions_) {
    return Fail(ErrorCode::kTemporary, "too many sessions for this account");
  }
  auto state = std::make_shared<State>();
  sessions.push_back(state);
  return std::unique_ptr<Subscription>(
      new Subscription(*this, std::string(account_id), std::move(state)));
}

size_t AccountEvents::SessionCount(std::string_view account_id) {
  std::lock_guard lock(mu_);
  auto it = accounts_.find(std::string(account_id));
  return it == accounts_.end() ? 0 : it->second.size();
}

void AccountEvents::Unsubscribe(const std::string& account_id, State* state) {
  std::lock_guard lock(mu_);
  auto it = accounts_.find(account_id);
  if (it == accounts_.end()) return;
  std::erase_if(it->second, [state](const std::shared_ptr<State>& s) {
    return s.get() == state;
  });
  if (it->second.empty()) accounts_.erase(it);
}

AccountEvents::Subscription::~Subscription() {
  hub_.Unsubscribe(account_id_, state_.get());
}

uint64_t AccountEvents::Subscription::generation() const {
  return state_->generation.load();
}

void AccountEvents::Subscription::Wake() {
  state_->woken.store(true);
  state_->Poke(state_);
}

Task<uint64_t> AccountEvents::Subscription::WaitChange(
    uint64_t seen, std::chrono::milliseconds timeout) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, timeout);

  // Registers the timer for Poke() and unregisters it however this frame
  // ends, even if it is destroyed while suspended (a loop torn down at
  // shutdown), so no wake-up is ever posted to a dead loop or timer.
  struct Registration {
    State& state;
    Registration(State& s, const asio::any_io_executor& e,
                 asio::steady_timer* t)
        : state(s) {
      std::lock_guard lock(state.mu);
      state.executor = e;
      state.timer = t;
    }
    ~Registration() {
      std::lock_guard lock(state.mu);
      state.timer = nullptr;
      state.executor.reset();
    }
  };
  {
    Registration registration(*state_, executor, &timer);
    // Checked after the timer is registered: a Notify that lands between
    // the check and the wait posts a cancel that runs after we suspend.
    if (state_->generation.load() == seen && !state_->woken.load()) {
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  state_->woken.store(false);
  co_return state_->generation.load();
}

}  // namespace corvus::imap
