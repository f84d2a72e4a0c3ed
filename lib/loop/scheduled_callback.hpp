// SPDX-License-Identifier: MIT
/// @file
/// ScheduledCallback: the loop's record of one callback (call_soon, a timer, an fd or signal
/// watcher), shared by the loop's queues and the user's Handle / TimerHandle (which see it only
/// as an opaque pointer).
#pragma once

#include <bulb/function.hpp>

#include <cstdint>

namespace bulb::detail {

class LoopImpl;

/// One scheduled callback. Intrusive, non-atomic count (loop thread only), starting at 1: the
/// reference of whoever made it (the ready queue or the timers, usually).
struct ScheduledCallback {
    UniqueFunction<void()> fn;
    std::int64_t when = 0;       // deadline in ns on the loop clock (timers only)
    LoopImpl* loop = nullptr;    // set while the node waits among the loop's timers, and for watchers
    std::uint32_t refs = 1;
    bool cancelled = false;
    bool running = false;
    bool persistent = false;     // fd/signal watchers: not consumed by running
    bool far_timer = false;      // in the timers' far heap (cancellations counted there)
};

/// A node holding `fn` (moved in by construction: no reset of an empty callback first).
ScheduledCallback* alloc_node(UniqueFunction<void()>&& fn);
/// Destroys the callback, then gives the node back to the pools (the count reached 0).
void free_node(ScheduledCallback* node) noexcept;
/// Marks the node cancelled and destroys its callback unless it is running; idempotent.
void cancel_node(ScheduledCallback* node) noexcept;

inline void retain(ScheduledCallback* n) noexcept { ++n->refs; }
inline void release(ScheduledCallback* n) noexcept {
    if (--n->refs == 0) free_node(n);
}

}  // namespace bulb::detail
