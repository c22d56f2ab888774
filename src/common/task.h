// The coroutine type of Corvus's network code.
//
// Protocol handlers are C++20 coroutines returning Task<T>, so each session
// reads top to bottom. This header is the only place that includes Asio's
// awaitable, and does so after <utility> (Boost 1.74's awaitable.hpp uses
// std::exchange without including it).
#ifndef CORVUS_COMMON_TASK_H_
#define CORVUS_COMMON_TASK_H_

#include <utility>
// Must follow <utility>; see above.
#include <boost/asio/awaitable.hpp>

namespace corvus {

template <typename T = void>
using Task = boost::asio::awaitable<T>;

}  // namespace corvus

#endif  // CORVUS_COMMON_TASK_H_
