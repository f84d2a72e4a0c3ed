// SPDX-License-Identifier: MIT
/// @file
/// Timeout: a deadline scope for the current task (asyncio.Timeout / asyncio.timeout()).
///
/// When the deadline passes, the scope cancels its task; at the scope's exit that cancellation
/// becomes TimeoutError, unless someone else cancelled the task too (cancelling()/uncancel()
/// bookkeeping, as asyncio 3.11+): an outer cancel() stays a CancelledError, and nested scopes
/// each convert only their own expiry.
///
/// ```
/// co_await bulb::timeout(5s).run(fetch());           // TimeoutError after 5 s
/// bulb::Timeout scope = bulb::timeout(5s);
/// co_await scope.run(work(scope));                    // work() may call scope.reschedule()
/// ```
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/awaitable.hpp>
#include <bulb/coro/runner.hpp>
#include <bulb/coro/task.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

namespace bulb {

/// A deadline scope on the loop clock; std::nullopt means no deadline. Created by timeout() or
/// timeout_at(), entered once by run(). Loop thread only.
class BULB_API Timeout {
public:
    /// A scope that expires at `when` (std::nullopt: never, until rescheduled).
    explicit Timeout(std::optional<TimePoint> when) noexcept : when_(when) {}
    /// Movable until run() has entered it.
    Timeout(Timeout&& other) noexcept = default;
    Timeout& operator=(Timeout&&) = delete;
    /// Cancels the pending deadline.
    ~Timeout() { handle_.cancel(); }

    /// The deadline, or std::nullopt.
    std::optional<TimePoint> when() const noexcept { return when_; }
    /// Moves the deadline (std::nullopt removes it); a deadline already past fires on the next
    /// iteration. Only while the scope is running; InvalidStateError otherwise.
    void reschedule(std::optional<TimePoint> when);
    /// True once the deadline has passed and the scope cancelled its task.
    bool expired() const noexcept { return state_ == State::expiring || state_ == State::expired; }

    /// Runs `work` (a Task, a Future or any awaitable) inside the scope and returns its result.
    /// Throws TimeoutError if the deadline cancelled it. The scope must outlive the returned task
    /// (true for `co_await scope.run(...)`); enter a scope once.
    /// Cancel safety: the work is awaited inline, so when the TimeoutError (or an outer
    /// CancelledError) comes out, the work has finished reacting to its cancellation.
    template <Awaitable A>
    Task<await_result_t<A>> run(A work) &;
    /// As above, for a temporary scope (`co_await timeout(5s).run(...)`): the task owns it.
    template <Awaitable A>
    Task<await_result_t<A>> run(A work) && {
        return run_owned(std::move(*this), std::move(work));
    }

private:
    enum class State : std::uint8_t { created, entered, expiring, expired, exited };

    void enter();
    // Leaves the scope; true when a CancelledError leaving it is this scope's and must become
    // TimeoutError.
    bool leave() noexcept;
    void on_timeout() noexcept;

    template <class A>
    static Task<await_result_t<A>> run_owned(Timeout scope, A work) {
        co_return co_await scope.run(std::move(work));
    }

    std::optional<TimePoint> when_;
    Handle handle_;
    detail::TaskRunner* task_ = nullptr;
    int cancelling_ = 0;
    State state_ = State::created;
};

template <Awaitable A>
/// Runs `work` inside the scope (see the declaration above).
Task<await_result_t<A>> Timeout::run(A work) & {
    using R = await_result_t<A>;
    enter();
    try {
        if constexpr (std::is_void_v<R>) {
            co_await std::move(work);
            leave();
        } else {
            R result = co_await std::move(work);
            leave();
            co_return std::move(result);
        }
    } catch (const CancelledError&) {
        if (leave()) throw TimeoutError();
        throw;
    } catch (...) {
        leave();
        throw;
    }
}

/// A scope expiring `delay` from now on the running loop's clock (asyncio.timeout). Throws
/// InvalidStateError when no loop runs.
template <class Rep, class Period>
Timeout timeout(std::chrono::duration<Rep, Period> delay) {
    return Timeout(get_running_loop().time() + std::chrono::duration_cast<Duration>(delay));
}

/// A scope expiring at `when` on the loop clock; std::nullopt: no deadline (asyncio.timeout_at).
inline Timeout timeout_at(std::optional<TimePoint> when) noexcept { return Timeout(when); }

}  // namespace bulb
