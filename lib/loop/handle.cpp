// SPDX-License-Identifier: MIT
/// @file
/// Handle and TimerHandle over the loop's ScheduledCallback, and cancelling a node.
#include <bulb/handle.hpp>

#include "loop/loop_impl.hpp"
#include "loop/scheduled_callback.hpp"

#include <chrono>

namespace bulb {
namespace detail {

void cancel_node(ScheduledCallback* n) noexcept {
    if (n->cancelled) return;
    n->cancelled = true;
    if (n->loop) n->loop->timer_cancelled(n);
    if (!n->running) n->fn.reset();  // a running callback is reset by the loop once it returns
}

}  // namespace detail

Handle::Handle(const Handle& o) noexcept : node_(o.node_) {
    if (node_) detail::retain(node_);
}

void Handle::drop() noexcept { detail::release(node_); }

void Handle::cancel() noexcept {
    if (node_) detail::cancel_node(node_);
}

bool Handle::cancelled() const noexcept { return node_ && node_->cancelled; }

TimePoint TimerHandle::when() const noexcept {
    return TimePoint(std::chrono::nanoseconds(node_ ? node_->when : 0));
}

}  // namespace bulb
