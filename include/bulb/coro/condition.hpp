// SPDX-License-Identifier: MIT
/// @file
/// Condition: a condition variable for tasks (asyncio.Condition).
///
/// ```
/// auto held = co_await cond.scoped();                 // async with cond:
/// co_await cond.wait_for([&] { return !items.empty(); });
/// ```
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/lock.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/coro/wait_list.hpp>
#include <bulb/error.hpp>

#include <cstddef>
#include <exception>
#include <type_traits>

namespace bulb {

/// A condition variable over a Lock (asyncio.Condition, Python 3.13 rules). wait() and notify()
/// require the lock to be held (by any task: asyncio locks have no owner). Loop thread only; must
/// outlive the tasks waiting on it.
///
/// A waiter that fails after it was notified — typically cancelled in the same iteration — passes
/// one notification on to the next waiter, so notify() is never lost; as in asyncio this happens
/// for any error leaving wait() and may cause a spurious wake-up, which wait_for() absorbs.
class Condition {
public:
    /// A condition with its own lock.
    Condition() noexcept : lock_(&own_lock_) {}
    /// A condition over `lock`, which must outlive it (several conditions may share one lock).
    explicit Condition(Lock& lock) noexcept : lock_(&lock) {}
    Condition(const Condition&) = delete;
    Condition& operator=(const Condition&) = delete;

    /// True while the lock is held.
    bool locked() const noexcept { return lock_->locked(); }
    /// Acquires the lock (Lock::acquire). Cancel safety: as Lock::acquire().
    Lock::AcquireAwaiter acquire() noexcept { return lock_->acquire(); }
    /// Acquires the lock and returns a Held<Lock> that releases it at the end of the scope.
    /// Cancel safety: as Lock::acquire().
    ScopedAcquire<Lock> scoped() noexcept { return lock_->scoped(); }
    /// Releases the lock (Lock::release).
    void release() { lock_->release(); }
    /// The underlying lock.
    Lock& lock() const noexcept { return *lock_; }

    /// Releases the lock, waits until notified, and re-acquires the lock before returning or
    /// throwing. Throws InvalidStateError (when awaited) if the lock is not held. May return
    /// spuriously: re-check the state, or use wait_for().
    /// Cancel safety: on CancelledError the lock is held again (asyncio's rule), the task no longer
    /// waits, and a notification it had received goes to the next waiter.
    Task<void> wait();

    /// Waits until `predicate()` (called with the lock held) is truthy and returns its value.
    /// Cancel safety: as wait().
    template <class Predicate>
    Task<std::decay_t<std::invoke_result_t<Predicate&>>> wait_for(Predicate predicate) {
        auto result = predicate();
        while (!result) {
            co_await wait();
            result = predicate();
        }
        co_return result;
    }

    /// Wakes up to `n` waiting tasks (each then re-acquires the lock). Throws InvalidStateError if
    /// the lock is not held.
    void notify(std::size_t n = 1) {
        if (!locked()) throw InvalidStateError("cannot notify on un-acquired lock");
        notify_waiters(n);
    }
    /// Wakes every waiting task. Throws InvalidStateError if the lock is not held.
    void notify_all() {
        if (!locked()) throw InvalidStateError("cannot notify on un-acquired lock");
        waiters_.wake_all();
    }

private:
    void notify_waiters(std::size_t n) noexcept {
        while (n > 0 && waiters_.wake_first()) --n;
    }

    Lock own_lock_;
    Lock* lock_;
    detail::WaitList waiters_;  // only tasks not yet notified; notified ones leave at once
};

inline Task<void> Condition::wait() {
    if (!locked()) throw InvalidStateError("cannot wait on un-acquired lock");
    release();
    std::exception_ptr error;
    {
        detail::WaitNode node;
        try {
            co_await waiters_.wait(node, "Condition::wait()");
        } catch (...) {
            if (node.orphaned()) throw;  // the condition is gone: touch nothing of it
            error = std::current_exception();
        }
    }
    // Re-acquire the lock even if the wait was cancelled (retrying on every CancelledError, the
    // last one wins), but do not spin on any other error.
    try {
        for (;;) {
            try {
                co_await lock_->acquire();
                break;
            } catch (const CancelledError&) {
                error = std::current_exception();
            }
        }
    } catch (...) {
        error = std::current_exception();
    }
    if (error) {
        // We may have been notified before the error: notify someone else instead.
        notify_waiters(1);
        std::rethrow_exception(error);
    }
}

}  // namespace bulb
