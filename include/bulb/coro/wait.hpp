// SPDX-License-Identifier: MIT
/// @file
/// wait(): wait for some or all of a set of futures, with an optional time limit (asyncio.wait).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/await.hpp>
#include <bulb/coro/task.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace bulb {

/// When wait() returns (asyncio.FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED).
enum class ReturnWhen {
    first_completed,  ///< as soon as any future is done or cancelled
    first_exception,  ///< when any future ends with an exception (not a cancellation), or all are done
    all_completed,    ///< when every future is done
};

/// What wait() returns: the futures done and those still pending, each in input order.
/// `auto [done, pending] = co_await bulb::wait(...)`.
template <class T>
struct WaitResult {
    /// The futures that finished.
    std::vector<Future<T>> done;
    /// The futures still pending.
    std::vector<Future<T>> pending;
};

namespace detail {

/// Shared by the done callbacks of one wait() call.
struct WaitState {
    WaitState(EventLoop& loop, std::size_t n, ReturnWhen w) : waiter(loop), remaining(n), when(w) {}
    void release_waiter() {
        if (!waiter.done()) waiter.set_result();
    }
    Future<void> waiter;
    std::size_t remaining;
    ReturnWhen when;
};

/// Cancels a timer when it goes out of scope.
struct TimerGuard {
    TimerHandle timer;
    ~TimerGuard() { timer.cancel(); }
};

}  // namespace detail

/// Waits until `return_when` holds for `futures` or `timeout` passes, and returns (done, pending).
/// Nothing is cancelled: a timeout simply returns with some futures pending. Throws
/// std::invalid_argument for an empty set. Each call leaves one inert callback on every future
/// still pending (futures have no remove_done_callback); prefer as_completed() to calling wait()
/// in a loop over a large, long-lived set.
/// Cancel safety: cancelling the waiting task leaves `futures` untouched (as asyncio.wait).
template <class T>
Task<WaitResult<T>> wait(std::vector<Future<T>> futures, ReturnWhen return_when = ReturnWhen::all_completed,
                         std::optional<Duration> timeout = std::nullopt) {
    if (futures.empty()) throw std::invalid_argument("wait(): the set of futures is empty");
    EventLoop& loop = detail::TaskRunner::require_current("wait()").loop();
    auto state = std::make_shared<detail::WaitState>(loop, futures.size(), return_when);
    detail::TimerGuard guard;
    if (timeout) guard.timer = loop.call_later(*timeout, [state] { state->release_waiter(); });
    for (auto& f : futures) {
        f.add_done_callback([state](Future<T>& done) {
            --state->remaining;
            if (state->remaining == 0 || state->when == ReturnWhen::first_completed ||
                (state->when == ReturnWhen::first_exception && !done.cancelled() && done.exception()))
                state->release_waiter();
        });
    }
    co_await state->waiter;
    WaitResult<T> result;
    for (auto& f : futures) (f.done() ? result.done : result.pending).push_back(std::move(f));
    co_return result;
}

/// wait() with a time limit and ALL_COMPLETED by default: `co_await wait(futures, 5s)`.
/// Cancel safety: as the other overload.
template <class T, class Rep, class Period>
Task<WaitResult<T>> wait(std::vector<Future<T>> futures, std::chrono::duration<Rep, Period> timeout,
                         ReturnWhen return_when = ReturnWhen::all_completed) {
    return wait(std::move(futures), return_when, std::chrono::duration_cast<Duration>(timeout));
}

}  // namespace bulb
