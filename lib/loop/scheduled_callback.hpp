// SPDX-License-Identifier: MIT
/// @file
/// ScheduledCallback: the loop's record of one callback (call_soon, a timer, an fd or signal
/// watcher), shared by the loop's queues and the user's Handle / TimerHandle (which see it only
/// as an opaque pointer).
#pragma once

#include <bulb/function.hpp>
#include <bulb/ref.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace bulb::detail {

class LoopImpl;

/// One scheduled callback (Counted, loop thread only). It is born with one reference, its
/// maker's (the ready queue, the timers or a watcher), which the maker gives back with
/// release_ref(); each Handle holds another. The count comes first so that the flags fill the
/// rest of its word: the node is one 64-byte cache line.
struct ScheduledCallback : Counted<ScheduledCallback> {
    explicit ScheduledCallback(UniqueFunction<void()>&& f) noexcept : fn(std::move(f)) { add_ref(); }

    // From the thread's pools, inlined into these two (lib/loop/small_alloc.cpp).
    static void* operator new(std::size_t bytes);
    static void operator delete(void* p) noexcept;

    bool cancelled = false;
    bool running = false;
    bool persistent = false;     // fd/signal watchers: not consumed by running
    bool far_timer = false;      // in the timers' far heap (cancellations counted there)
    UniqueFunction<void()> fn;
    std::int64_t when = 0;       // deadline in ns on the loop clock (timers only)
    LoopImpl* loop = nullptr;    // set while the node waits among the loop's timers, and for watchers
};

/// A node holding `fn`, with its maker's reference.
inline ScheduledCallback* alloc_node(UniqueFunction<void()>&& fn) { return new ScheduledCallback(std::move(fn)); }
/// Marks the node cancelled and destroys its callback unless it is running; idempotent.
void cancel_node(ScheduledCallback* node) noexcept;

}  // namespace bulb::detail
