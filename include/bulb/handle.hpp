// SPDX-License-Identifier: MIT
/// @file
/// Handle and TimerHandle: what call_soon / call_later return, to cancel a scheduled callback.
///
/// Both are opaque counted handles: what they point at (the loop's record of the callback) is
/// laid out in lib/loop/, so the loop's queues change without touching this header or the ABI.
#pragma once

#include <bulb/config.hpp>
#include <bulb/time.hpp>

#include <utility>

namespace bulb {

class EventLoop;

namespace detail {
struct ScheduledCallback;  // lib/loop/scheduled_callback.hpp
}

/// A callback scheduled with EventLoop::call_soon (asyncio.Handle).
///
/// Created by the loop; copies share the same callback. Keeping a Handle does not keep the loop
/// alive, and a Handle may outlive its loop. Loop thread only.
class BULB_API Handle {
public:
    /// An empty handle; copies refer to the same callback, moves leave the source empty.
    /// Dropping a handle does not cancel its callback.
    ///@{
    Handle() noexcept = default;
    Handle(const Handle& o) noexcept;
    Handle(Handle&& o) noexcept : node_(std::exchange(o.node_, nullptr)) {}
    Handle& operator=(Handle o) noexcept {
        std::swap(node_, o.node_);
        return *this;
    }
    ///@}
    ~Handle() {
        if (node_) drop();
    }

    /// Cancels the callback if it has not run yet; its captures are destroyed now (or, when
    /// called from inside the callback itself, as soon as it returns). Idempotent.
    void cancel() noexcept;
    /// True after cancel().
    bool cancelled() const noexcept;
    /// True when this handle refers to a callback.
    explicit operator bool() const noexcept { return node_ != nullptr; }

protected:
    friend class EventLoop;
    /// Takes over one reference the loop made for this handle.
    struct adopt_t {};
    /// Internal: a handle for `node`, taking over the loop's reference (adopt_t).
    Handle(detail::ScheduledCallback* node, adopt_t) noexcept : node_(node) {}
    /// Internal: releases the reference to the callback.
    void drop() noexcept;

    /// Internal: the scheduled callback (lib/loop/), nullptr when empty.
    detail::ScheduledCallback* node_ = nullptr;
};

/// A callback scheduled with call_later / call_at (asyncio.TimerHandle).
class BULB_API TimerHandle : public Handle {
public:
    TimerHandle() noexcept = default;
    /// The deadline on the loop clock (the epoch for an empty handle).
    TimePoint when() const noexcept;

private:
    friend class EventLoop;
    TimerHandle(detail::ScheduledCallback* node, adopt_t) noexcept : Handle(node, adopt_t{}) {}
};

}  // namespace bulb
