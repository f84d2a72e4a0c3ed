// SPDX-License-Identifier: MIT
/// @file
/// ThreadsafeHandle: what EventLoop::call_soon_threadsafe returns, to cancel the callback from
/// any thread before it runs (asyncio returns a Handle there; bulb's Handle is loop-thread-only).
#pragma once

#include <bulb/config.hpp>

#include <atomic>
#include <memory>

namespace bulb {

namespace detail {
/// The state a ThreadsafeHandle shares with the queued callback.
struct ThreadsafeCallbackState {
    std::atomic<bool> cancelled{false};
};
}  // namespace detail

/// A callback scheduled with call_soon_threadsafe.
///
/// Thread-safe: copy, keep and cancel it on any thread; it may outlive its loop. cancel() makes
/// the loop skip the callback if it has not started yet; its captures are still destroyed on
/// the loop thread (they may hold loop-thread objects), when the loop reaches it.
class ThreadsafeHandle {
public:
    ThreadsafeHandle() noexcept = default;
    /// Internal: made by call_soon_threadsafe().
    explicit ThreadsafeHandle(std::shared_ptr<detail::ThreadsafeCallbackState> s) noexcept : s_(std::move(s)) {}

    /// Cancels the callback unless it already started. Idempotent; any thread.
    void cancel() noexcept {
        if (s_) s_->cancelled.store(true, std::memory_order_release);
    }
    /// True after cancel().
    bool cancelled() const noexcept { return s_ && s_->cancelled.load(std::memory_order_acquire); }
    /// True when this handle refers to a callback.
    explicit operator bool() const noexcept { return s_ != nullptr; }

private:
    std::shared_ptr<detail::ThreadsafeCallbackState> s_;
};

}  // namespace bulb
