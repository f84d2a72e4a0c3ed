// SPDX-License-Identifier: MIT
/// @file
/// Lock: a mutual-exclusion lock for tasks (asyncio.Lock).
///
/// ```
/// bulb::Lock lock;
/// {
///     auto held = co_await lock.scoped();   // async with lock:
///     ...
/// }
/// ```
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/held.hpp>
#include <bulb/coro/wait_list.hpp>
#include <bulb/error.hpp>

#include <coroutine>

namespace bulb {

/// A lock that tasks acquire in FIFO order (asyncio.Lock, Python 3.13 rules). Not owned by a
/// task: any task may release it. Loop thread only; must outlive the tasks waiting on it.
///
/// A free lock with nobody queued is taken at once, without suspending. Otherwise the task queues;
/// release() wakes the oldest waiter, which stays queued (so newcomers still queue behind it)
/// until it runs and takes the lock. A waiter cancelled after that wake-up passes it to the next
/// waiter (asyncio's _wake_up_first), so the lock is never lost nor held twice.
class Lock {
public:
    class AcquireAwaiter;

    /// An unlocked lock.
    Lock() noexcept = default;
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

    /// True while some task holds the lock.
    bool locked() const noexcept { return locked_; }

    /// `co_await lock.acquire()` waits until the lock is free and takes it.
    /// Cancel safety: a cancelled acquire holds nothing and leaves the queue; if the lock had
    /// already been handed to it, the lock goes to the next waiter.
    AcquireAwaiter acquire() noexcept;
    /// `auto held = co_await lock.scoped()`: acquire() returning a Held<Lock> that releases the lock
    /// when it goes out of scope (the C++ form of `async with lock`).
    /// Cancel safety: as acquire().
    ScopedAcquire<Lock> scoped() noexcept;

    /// Releases the lock and wakes the oldest waiter. Throws InvalidStateError if it is not locked.
    void release() {
        if (!locked_) throw InvalidStateError("Lock is not acquired.");
        locked_ = false;
        wake_up_first();
    }

private:
    // Wakes the oldest waiter unless it was already woken (asyncio's _wake_up_first).
    void wake_up_first() noexcept {
        detail::WaitNode* first = waiters_.front();
        if (first && first->state() == detail::WaitNode::State::waiting) waiters_.wake(*first, true);
    }

    detail::WaitList waiters_;  // cancelled waiters leave at once; woken ones when they resume
    bool locked_ = false;
};

/// What Lock::acquire() returns; await it once (movable until then, e.g. into wait_for()).
/// Cancel safety: see Lock::acquire().
class BULB_AWAITABLE Lock::AcquireAwaiter {
public:
    explicit AcquireAwaiter(Lock& lock) noexcept : lock_(&lock) {}

    bool await_ready() noexcept {
        // Fair: the lock is free for the taking only when nobody queues (cancelled waiters have
        // left the queue already, so this is asyncio's "all waiters cancelled" test too).
        if (lock_->locked_ || !lock_->waiters_.empty()) return false;
        lock_->locked_ = true;
        return true;
    }
    void await_suspend(std::coroutine_handle<> h) { lock_->waiters_.park(node_, h, "Lock::acquire()"); }
    void await_resume() {
        if (node_.state() == detail::WaitNode::State::idle) return;  // taken in await_ready
        try {
            node_.finish_wait();
        } catch (...) {
            // Keep the invariant: a free lock with waiters has its first waiter woken.
            if (!node_.orphaned() && !lock_->locked_) lock_->wake_up_first();
            throw;
        }
        lock_->locked_ = true;
    }

private:
    Lock* lock_;
    detail::WaitNode node_;
};

inline Lock::AcquireAwaiter Lock::acquire() noexcept { return AcquireAwaiter(*this); }
inline ScopedAcquire<Lock> Lock::scoped() noexcept { return ScopedAcquire<Lock>(*this); }

}  // namespace bulb
