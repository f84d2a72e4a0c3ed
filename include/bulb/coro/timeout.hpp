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
///
/// co_await bulb::timeout(5s, [&]() -> bulb::Task<> { // the block form: `async with timeout(5):`
///     co_await step_one(); co_await step_two();       //   the body uses the caller's locals
/// });
/// ```
/// C++ adaptation of the block: `async with` is a lambda returning a Task (taking the Timeout&
/// when it wants reschedule()), run inline in the same task: a destructor cannot turn the
/// CancelledError into TimeoutError, a scope around a call can.
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/awaitable.hpp>
#include <bulb/coro/runner.hpp>
#include <bulb/coro/task.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

namespace bulb {

class Timeout;

namespace detail {

/// The body of a block-form timeout: a callable giving an awaitable, called with the Timeout&
/// or with nothing.
template <class F>
concept TimeoutBlock = (std::invocable<F&, Timeout&> && Awaitable<std::invoke_result_t<F&, Timeout&>>) ||
                       (std::invocable<F&> && Awaitable<std::invoke_result_t<F&>>);

template <class F>
decltype(auto) call_timeout_block(F& block, Timeout& scope) {
    if constexpr (std::invocable<F&, Timeout&>)
        return block(scope);
    else
        return block();
}

/// What co_await on a block's awaitable gives. Spelled with std::invoke_result (no ::type for
/// a non-callable) so that overload resolution on a non-block (clang substitutes return types
/// before checking constraints) fails softly.
template <class F>
using timeout_block_result_t = await_result_t<typename std::conditional_t<
    std::invocable<F&, Timeout&>, std::invoke_result<F&, Timeout&>, std::invoke_result<F&>>::type>;

}  // namespace detail

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
    /// The block form: calls `block` (with this scope, if it takes a Timeout&) inside the scope
    /// and awaits what it returns, inline. The returned task keeps `block` (its captures) alive
    /// while the body runs, so `[&]` captures of the caller's locals are safe under co_await.
    /// Errors and cancel safety: as run(work).
    template <detail::TimeoutBlock F>
    Task<detail::timeout_block_result_t<F>> run(F block) & {
        return run_block(*this, std::move(block));
    }
    /// The block form for a temporary scope: the task owns both.
    template <detail::TimeoutBlock F>
    Task<detail::timeout_block_result_t<F>> run(F block) && {
        return run_block_owned(std::move(*this), std::move(block));
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
    template <class F>
    static Task<detail::timeout_block_result_t<F>> run_block(Timeout& scope, F block) {
        co_return co_await scope.run(detail::call_timeout_block(block, scope));
    }
    template <class F>
    static Task<detail::timeout_block_result_t<F>> run_block_owned(Timeout scope, F block) {
        co_return co_await scope.run(detail::call_timeout_block(block, scope));
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

/// The block form of `async with asyncio.timeout(delay):` -- `co_await timeout(5s, [&]() ->
/// Task<> { ... })`: runs the body (a callable returning a Task or other awaitable, optionally
/// taking the Timeout&) inline in the calling task, cancels it at the deadline and throws
/// TimeoutError for that expiry; returns the body's result. InvalidStateError when no loop runs.
/// Cancel safety: as Timeout::run(); an outer cancel() stays a CancelledError.
template <class Rep, class Period, detail::TimeoutBlock F>
Task<detail::timeout_block_result_t<F>> timeout(std::chrono::duration<Rep, Period> delay, F block) {
    return timeout(delay).run(std::move(block));
}

/// The block form of `async with asyncio.timeout_at(when):` (std::nullopt: no deadline).
template <detail::TimeoutBlock F>
Task<detail::timeout_block_result_t<F>> timeout_at(std::optional<TimePoint> when, F block) {
    return timeout_at(when).run(std::move(block));
}

}  // namespace bulb
