// SPDX-License-Identifier: MIT
/// @file
/// IoWatcher: one libevent event for one fd direction whose readiness is queued on the loop's
/// ready queue (so I/O callbacks run in the iteration's callback phase like every other one).
#pragma once

#include <bulb/function.hpp>
#include "loop/scheduled_callback.hpp"

struct event;

namespace bulb::detail {

class LoopImpl;

class IoWatcher {
public:
    IoWatcher() = default;
    /// Watches `fd` for `what` (EV_READ or EV_WRITE); stopped until start().
    IoWatcher(LoopImpl& loop, int fd, short what, UniqueFunction<void()> fn);
    IoWatcher(IoWatcher&& o) noexcept;
    IoWatcher& operator=(IoWatcher&& o) noexcept;
    ~IoWatcher() { reset(); }

    void start();
    void stop() noexcept;
    bool active() const noexcept { return active_; }
    /// False for a default-constructed (or moved-from, or reset) watcher.
    bool valid() const noexcept { return ev_ != nullptr; }
    /// Frees the event; a readiness already queued is dropped.
    void reset() noexcept;

private:
    event* ev_ = nullptr;
    ScheduledCallback* node_ = nullptr;
    bool active_ = false;
};

}  // namespace bulb::detail
