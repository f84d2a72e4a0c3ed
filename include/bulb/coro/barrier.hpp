// SPDX-License-Identifier: MIT
/// @file
/// Barrier: a fixed number of tasks wait for each other (asyncio.Barrier), and BrokenBarrierError.
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/task.hpp>
#include <bulb/coro/wait_list.hpp>
#include <bulb/error.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace bulb {

/// The barrier was aborted, or reset while the task waited in it (asyncio.BrokenBarrierError).
/// A bulb::Error with code errc::broken_barrier.
class BrokenBarrierError : public Error {
public:
    /// `what` says which barrier operation found it broken.
    explicit BrokenBarrierError(const std::string& what) : Error(errc::broken_barrier, what) {}
};

/// Lets `parties` tasks wait until all of them have arrived (asyncio.Barrier, Python 3.13 rules):
/// the last to arrive releases the others, and the barrier can be used again once they all left.
/// Loop thread only; must outlive the tasks waiting in it.
///
/// Same states as asyncio (filling, draining, resetting, broken). Two differences, both because
/// nothing here needs the Condition lock asyncio takes: the waiters park on the barrier directly,
/// and reset()/abort() are plain functions that act at once (so they can be called from a catch
/// block or a destructor, where co_await is not allowed).
class Barrier {
public:
    /// A barrier for `parties` tasks; throws std::invalid_argument if `parties` is 0.
    explicit Barrier(std::size_t parties) : parties_(parties) {
        if (parties == 0) throw std::invalid_argument("parties must be > 0");
    }
    Barrier(const Barrier&) = delete;
    Barrier& operator=(const Barrier&) = delete;

    /// Waits until `parties` tasks are waiting, then returns this task's arrival index (0 for the
    /// first, parties - 1 for the one that released the others). Arrivals while the barrier drains
    /// or resets wait for it to fill again. Throws BrokenBarrierError if the barrier is broken, or
    /// is reset or aborted while the task waits.
    /// Cancel safety: the task leaves the barrier (n_waiting() drops); the others keep waiting.
    Task<std::size_t> wait();

    /// Returns the barrier to its empty state; tasks waiting in it get BrokenBarrierError (the
    /// barrier fills again once they have left). Also repairs a broken barrier.
    void reset() noexcept {
        if (count_ > 0)
            state_ = State::resetting;
        else
            state_ = State::filling;
        waiters_.wake_all();
    }
    /// Breaks the barrier: current and future wait() calls throw BrokenBarrierError until reset().
    void abort() noexcept {
        state_ = State::broken;
        waiters_.wake_all();
    }

    /// The number of tasks needed to pass the barrier.
    std::size_t parties() const noexcept { return parties_; }
    /// The number of tasks waiting in the barrier while it fills (0 while it drains).
    std::size_t n_waiting() const noexcept { return state_ == State::filling ? count_ : 0; }
    /// True once abort() broke the barrier (until reset()).
    bool broken() const noexcept { return state_ == State::broken; }

private:
    enum class State : std::uint8_t { filling, draining, resetting, broken };

    // A task leaves the barrier: the last one out lets the next round fill it (asyncio's _exit).
    void leave() noexcept {
        --count_;
        if (count_ == 0) {
            if (state_ == State::resetting || state_ == State::draining) state_ = State::filling;
            waiters_.wake_all();
        }
    }

    detail::WaitList waiters_;  // every task parked here re-checks the state when woken
    std::size_t parties_;
    std::size_t count_ = 0;  // tasks inside wait() past the entry check
    State state_ = State::filling;
};

inline Task<std::size_t> Barrier::wait() {
    // Block while the barrier drains or resets.
    while (state_ == State::draining || state_ == State::resetting) {
        detail::WaitNode node;
        co_await waiters_.wait(node, "Barrier::wait()");  // an orphaned node throws: nothing to undo
    }
    if (state_ == State::broken) throw BrokenBarrierError("Barrier aborted");

    const std::size_t index = count_++;
    bool orphaned = false;
    try {
        if (index + 1 == parties_) {
            state_ = State::draining;  // release the others; arrivals wait until all have left
            waiters_.wake_all();
        } else {
            while (state_ == State::filling) {
                detail::WaitNode node;
                try {
                    co_await waiters_.wait(node, "Barrier::wait()");
                } catch (...) {
                    orphaned = node.orphaned();
                    throw;
                }
            }
            if (state_ == State::broken || state_ == State::resetting)
                throw BrokenBarrierError("Abort or reset of barrier");
        }
    } catch (...) {
        if (!orphaned) leave();
        throw;
    }
    leave();
    co_return index;
}

}  // namespace bulb
