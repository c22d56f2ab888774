// Group commit: concurrent callers of a blocking, flush-bound operation
// share one flush.
//
// Each caller hands in its request and blocks. If no batch is being
// committed, the caller becomes the leader: it takes every request that is
// waiting (its own included), runs the commit function once for all of
// them, hands each caller its response and wakes them. Requests that arrive
// while a leader is committing wait for the next batch, so under load the
// batch grows to fill the time one flush takes, and the flush rate of the
// disk no longer caps the rate of requests.
//
// Thread safety: Submit() may be called from any number of threads. The
// commit function runs on the leader's thread without the internal lock
// held, one batch at a time.
#ifndef CORVUS_COMMON_GROUP_COMMIT_H_
#define CORVUS_COMMON_GROUP_COMMIT_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

namespace corvus {

template <typename Request, typename Response>
class GroupCommit {
 public:
  // Commits `request` together with whatever else is waiting. `commit`
  // gets the batch (pointers valid for the call) and must return one
  // response per request, in the same order. Blocks until done.
  template <typename CommitFn>
  Response Submit(const Request& request, CommitFn&& commit) {
    Slot slot{&request, Response{}, false};
    std::unique_lock lock(mu_);
    waiting_.push_back(&slot);
    while (!slot.done) {
      if (leader_active_) {
        committed_.wait(lock);
        continue;
      }
      leader_active_ = true;
      std::vector<Slot*> batch(waiting_.begin(), waiting_.end());
      waiting_.clear();
      lock.unlock();

      std::vector<const Request*> requests;
      requests.reserve(batch.size());
      for (Slot* s : batch) requests.push_back(s->request);
      std::vector<Response> responses = commit(requests);

      lock.lock();
      for (size_t i = 0; i < batch.size(); ++i) {
        if (i < responses.size()) batch[i]->response = std::move(responses[i]);
        batch[i]->done = true;
      }
      leader_active_ = false;
      committed_.notify_all();
    }
    return std::move(slot.response);
  }

 private:
  struct Slot {
    const Request* request;
    Response response;
    bool done;
  };

  std::mutex mu_;  // guards waiting_ and leader_active_
  std::deque<Slot*> waiting_;
  bool leader_active_ = false;
  std::condition_variable committed_;
};

}  // namespace corvus

#endif  // CORVUS_COMMON_GROUP_COMMIT_H_
