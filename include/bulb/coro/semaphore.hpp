// SPDX-License-Identifier: MIT
/// @file
/// Semaphore and BoundedSemaphore: a counter of permits tasks acquire and release
/// (asyncio.Semaphore, asyncio.BoundedSemaphore).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/held.hpp>
#include <bulb/coro/wait_list.hpp>

#include <coroutine>
#include <cstddef>
#include <limits>
#include <stdexcept>

namespace bulb {

/// A counter of permits (asyncio.Semaphore, Python 3.13 rules): acquire() takes one, waiting in
/// FIFO order while none is free; release() returns one. Loop thread only; must outlive the tasks
/// waiting on it.
///
/// release() hands the permit to the oldest waiter at once (the counter does not go up), and the
/// woken waiter stays queued until it runs, so newcomers queue behind it even while permits are
/// free. A waiter cancelled after being handed a permit gives it back, and whoever resumes from
/// the queue wakes as many waiters as there are free permits: no permit is lost or duplicated.
class Semaphore {
public:
    class AcquireAwaiter;

    /// A semaphore holding `value` permits.
    explicit Semaphore(std::size_t value = 1) noexcept : value_(value) {}
    Semaphore(const Semaphore&) = delete;
    Semaphore& operator=(const Semaphore&) = delete;

    /// True if acquire() would wait: no free permit, or tasks are queued ahead (FIFO).
    bool locked() const noexcept { return value_ == 0 || !waiters_.empty(); }
    /// The free permits (asyncio's _value): not counting permits handed to woken waiters.
    std::size_t value() const noexcept { return value_; }

    /// `co_await sem.acquire()` takes a permit, waiting for one in FIFO order.
    /// Cancel safety: a cancelled acquire holds no permit and leaves the queue; a permit already
    /// handed to it goes back and on to the next waiter.
    AcquireAwaiter acquire() noexcept;
    /// `auto held = co_await sem.scoped()`: acquire() returning a Held<Semaphore> that releases the
    /// permit when it goes out of scope. Cancel safety: as acquire().
    ScopedAcquire<Semaphore> scoped() noexcept;

    /// Returns a permit and wakes the oldest waiter. A BoundedSemaphore throws
    /// std::invalid_argument when this would exceed its initial value (asyncio's ValueError).
    void release() {
        if (value_ >= bound_) throw std::invalid_argument("BoundedSemaphore released too many times");
        ++value_;
        wake_up_next();
    }

protected:
    /// Internal: a semaphore with `value` permits and an upper `bound` (BoundedSemaphore).
    Semaphore(std::size_t value, std::size_t bound) noexcept : value_(value), bound_(bound) {}

private:
    // Hands a permit to the oldest waiter not yet woken; false if there is none.
    bool wake_up_next() noexcept {
        detail::WaitNode* next = waiters_.first_waiting();
        if (!next) return false;
        --value_;
        waiters_.wake(*next, true);
        return true;
    }
    // New waiters may have queued behind woken ones while permits were free: wake as many as the
    // free permits allow (the `finally:` of asyncio's acquire).
    void wake_up_waiters() noexcept {
        while (value_ > 0 && wake_up_next()) {
        }
    }

    detail::WaitList waiters_;  // cancelled waiters leave at once; woken ones when they resume
    std::size_t value_;
    std::size_t bound_ = std::numeric_limits<std::size_t>::max();
};

/// A Semaphore whose release() throws std::invalid_argument instead of raising the number of free
/// permits above the initial value (asyncio.BoundedSemaphore): catches releases without acquires.
class BoundedSemaphore : public Semaphore {
public:
    /// A semaphore holding `value` permits, never more.
    explicit BoundedSemaphore(std::size_t value = 1) noexcept : Semaphore(value, value) {}
};

/// What Semaphore::acquire() returns; await it once (movable until then, e.g. into wait_for()).
/// Cancel safety: see Semaphore::acquire().
class BULB_AWAITABLE Semaphore::AcquireAwaiter {
public:
    explicit AcquireAwaiter(Semaphore& sem) noexcept : sem_(&sem) {}

    bool await_ready() noexcept {
        if (sem_->locked()) return false;
        --sem_->value_;
        return true;
    }
    void await_suspend(std::coroutine_handle<> h) { sem_->waiters_.park(node_, h, "Semaphore::acquire()"); }
    void await_resume() {
        if (node_.state() == detail::WaitNode::State::idle) return;  // taken in await_ready
        try {
            node_.finish_wait();
        } catch (...) {
            if (node_.orphaned()) throw;
            if (node_.woken()) ++sem_->value_;  // handed a permit we will not use: give it back
            sem_->wake_up_waiters();
            throw;
        }
        sem_->wake_up_waiters();
    }

private:
    Semaphore* sem_;
    detail::WaitNode node_;
};

inline Semaphore::AcquireAwaiter Semaphore::acquire() noexcept { return AcquireAwaiter(*this); }
inline ScopedAcquire<Semaphore> Semaphore::scoped() noexcept { return ScopedAcquire<Semaphore>(*this); }

}  // namespace bulb
