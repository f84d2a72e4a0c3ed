// SPDX-License-Identifier: MIT
/// @file
/// `co_await future` inside a task (Seastar keeps this apart from future.hpp the same way: the
/// callback layer pays nothing for coroutines).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/runner.hpp>
#include <bulb/future.hpp>

#include <coroutine>
#include <utility>

namespace bulb {
namespace detail {

/// Suspends the current task until a Future completes.
template <class T>
class FutureAwaiter final : public Waiter {
public:
    explicit FutureAwaiter(Future<T> f) noexcept : future_(std::move(f)) {}

    bool await_ready() const noexcept { return future_.done(); }
    void await_suspend(std::coroutine_handle<> h) {
        runner_ = &TaskRunner::require_current("co_await on a Future");
        future_.add_done_callback([r = RunnerRef(runner_)] { r->step(); });
        runner_->suspend(h, this);
    }
    T await_resume() {
        if (runner_) runner_->throw_if_cancel_due();
        if constexpr (std::is_void_v<T>)
            future_.result();
        else if constexpr (std::is_copy_constructible_v<T>)
            return future_.result();  // other tasks may await the same future
        else
            return std::move(future_.result());
    }
    bool cancel_wait(const std::string& message) override { return future_.cancel(message); }

private:
    Future<T> future_;
    TaskRunner* runner_ = nullptr;
};

}  // namespace detail

/// Awaits `future` from a task and returns its result or throws its exception.
/// Cancel safety: cancelling the awaiting task cancels `future` (asyncio semantics); use shield()
/// to keep it running.
template <class T>
detail::FutureAwaiter<T> operator co_await(const Future<T>& future) noexcept {
    return detail::FutureAwaiter<T>(future);
}

}  // namespace bulb
