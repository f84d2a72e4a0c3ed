// SPDX-License-Identifier: MIT
/// @file
/// Handle and TimerHandle: what call_soon / call_later return, to cancel a scheduled callback.
#pragma once

#include <bulb/config.hpp>
#include <bulb/function.hpp>

#include <chrono>
#include <cstdint>
#include <utility>

namespace bulb {

/// The loop's clock: monotonic. With a virtual-clock loop, EventLoop::time() advances in jumps.
using Clock = std::chrono::steady_clock;
/// A point on the loop's clock.
using TimePoint = Clock::time_point;
/// A span of time on the loop's clock (nanoseconds).
using Duration = Clock::duration;

namespace detail {

class LoopImpl;

/// One scheduled callback: shared by the loop's queues and the user's handles (intrusive,
/// non-atomic count: loop thread only).
struct CallbackNode {
    UniqueFunction<void()> fn;
    std::int64_t when = 0;       // deadline in ns on the loop clock (timers only)
    LoopImpl* loop = nullptr;    // set while the node waits among the loop's timers
    std::uint32_t refs = 1;
    bool cancelled = false;
    bool running = false;
    bool persistent = false;     // fd/signal watchers: not consumed by running
    bool far_timer = false;      // in the loop's heap of far deadlines (cancellations counted there)
};

/// A node holding `fn` (moved in by construction: no reset of an empty callback first).
BULB_API CallbackNode* alloc_node(UniqueFunction<void()>&& fn);
BULB_API void free_node(CallbackNode* node) noexcept;
BULB_API void cancel_node(CallbackNode* node) noexcept;

inline void retain(CallbackNode* n) noexcept { ++n->refs; }
inline void release(CallbackNode* n) noexcept {
    if (--n->refs == 0) free_node(n);
}

}  // namespace detail

/// A callback scheduled with EventLoop::call_soon (asyncio.Handle).
///
/// Created by the loop; copies share the same callback. Keeping a Handle does not keep the loop
/// alive, and a Handle may outlive its loop. Loop thread only.
class Handle {
public:
    Handle() noexcept = default;
    /// Takes one reference to `node` (internal: the loop makes handles).
    explicit Handle(detail::CallbackNode* node) noexcept : node_(node) {
        if (node_) detail::retain(node_);
    }
    Handle(const Handle& o) noexcept : Handle(o.node_) {}
    Handle(Handle&& o) noexcept : node_(std::exchange(o.node_, nullptr)) {}
    Handle& operator=(Handle o) noexcept {
        std::swap(node_, o.node_);
        return *this;
    }
    ~Handle() {
        if (node_) detail::release(node_);
    }

    /// Cancels the callback if it has not run yet; its captures are destroyed now (or, when
    /// called from inside the callback itself, as soon as it returns). Idempotent.
    void cancel() noexcept {
        if (node_) detail::cancel_node(node_);
    }
    /// True after cancel().
    bool cancelled() const noexcept { return node_ && node_->cancelled; }
    /// True when this handle refers to a callback.
    explicit operator bool() const noexcept { return node_ != nullptr; }

protected:
    detail::CallbackNode* node_ = nullptr;
};

/// A callback scheduled with call_later / call_at (asyncio.TimerHandle).
class TimerHandle : public Handle {
public:
    using Handle::Handle;
    /// The deadline on the loop clock.
    TimePoint when() const noexcept {
        return TimePoint(std::chrono::nanoseconds(node_ ? node_->when : 0));
    }
};

}  // namespace bulb
