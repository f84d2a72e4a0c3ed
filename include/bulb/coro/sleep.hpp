// SPDX-License-Identifier: MIT
/// @file
/// sleep(): suspend the current task for a while (asyncio.sleep).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/runner.hpp>

#include <coroutine>
#include <memory>
#include <string>

namespace bulb {
namespace detail {

class BULB_AWAITABLE SleepAwaiter final : public Waiter {
public:
    explicit SleepAwaiter(Duration d) noexcept : delay_(d) {}

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
        runner_ = &TaskRunner::require_current("sleep()");
        if (delay_ <= Duration::zero()) {  // a bare yield to the loop, as asyncio.sleep(0)
            runner_->schedule_step();
            runner_->suspend(h, nullptr);
            return;
        }
        timer_ = runner_->loop().call_later(delay_, [r = RunnerRef(runner_)] { r->step(); });
        runner_->suspend(h, this);
    }
    void await_resume() {
        if (cancelled_) throw CancelledError(message_ ? std::move(*message_) : std::string());
        runner_->throw_if_cancel_due();
    }
    bool cancel_wait(const std::string& message) override {
        if (cancelled_) return true;  // already waking: a second step would resume a later await
        if (!message.empty()) message_ = std::make_unique<std::string>(message);
        cancelled_ = true;
        runner_->schedule_step();
        timer_.cancel();
        return true;
    }

private:
    Duration delay_;
    TaskRunner* runner_ = nullptr;
    TimerHandle timer_;
    bool cancelled_ = false;
    std::unique_ptr<std::string> message_;  // made only on cancellation: keeps the frame small
};

}  // namespace detail

/// Suspends the current task for `delay` (zero or less: yields once to the loop).
/// Cancel safety: nothing is left behind; the timer is cancelled.
template <class Rep, class Period>
detail::SleepAwaiter sleep(std::chrono::duration<Rep, Period> delay) noexcept {
    return detail::SleepAwaiter(std::chrono::duration_cast<Duration>(delay));
}

}  // namespace bulb
