// SPDX-License-Identifier: MIT
/// @file
/// Event: a flag tasks can wait for (asyncio.Event).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/wait_list.hpp>

#include <coroutine>

namespace bulb {

/// A flag, initially clear; set() wakes every task waiting for it (asyncio.Event). Loop thread
/// only; must outlive the tasks waiting on it.
class Event {
public:
    class WaitAwaiter;

    /// A clear event.
    Event() noexcept = default;
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;

    /// True once set() was called (and clear() not since).
    bool is_set() const noexcept { return value_; }
    /// Sets the flag and wakes every waiting task; later wait() calls return at once.
    void set() noexcept {
        if (value_) return;
        value_ = true;
        waiters_.wake_all();
    }
    /// Clears the flag. Tasks already woken by set() still return from wait().
    void clear() noexcept { value_ = false; }

    /// `co_await event.wait()` returns once the flag is set: at once, without suspending, if it is.
    /// Cancel safety: nothing is left behind (an event wakes every waiter; none is handed anything).
    WaitAwaiter wait() noexcept;

private:
    detail::WaitList waiters_;
    bool value_ = false;
};

/// What Event::wait() returns; await it once (movable until then, e.g. into wait_for()).
/// Cancel safety: see Event::wait().
class BULB_AWAITABLE Event::WaitAwaiter {
public:
    explicit WaitAwaiter(Event& event) noexcept : event_(&event) {}

    bool await_ready() const noexcept { return event_->value_; }
    void await_suspend(std::coroutine_handle<> h) { event_->waiters_.park(node_, h, "Event::wait()"); }
    void await_resume() {
        if (node_.state() != detail::WaitNode::State::idle) node_.finish_wait();
    }

private:
    Event* event_;
    detail::WaitNode node_;
};

inline Event::WaitAwaiter Event::wait() noexcept { return WaitAwaiter(*this); }

}  // namespace bulb
