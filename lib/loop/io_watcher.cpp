// SPDX-License-Identifier: MIT
/// @file
/// IoWatcher implementation.
#include "loop/io_watcher.hpp"

#include "loop/loop_impl.hpp"

#include <event2/event.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace bulb::detail {

IoWatcher::IoWatcher(LoopImpl& loop, int fd, short what, UniqueFunction<void()> fn) {
    node_ = alloc_node(std::move(fn));
    node_->persistent = true;
    node_->loop = &loop;
    ev_ = event_new(loop.base(), fd, what | EV_PERSIST, &LoopImpl::dispatch_watch, node_);
    if (!ev_) {
        reset();
        throw std::system_error(ENOMEM, std::system_category(), "bulb: event_new failed");
    }
}

IoWatcher::IoWatcher(IoWatcher&& o) noexcept
    : ev_(std::exchange(o.ev_, nullptr)), node_(std::exchange(o.node_, nullptr)), active_(std::exchange(o.active_, false)) {}

IoWatcher& IoWatcher::operator=(IoWatcher&& o) noexcept {
    if (this != &o) {
        reset();
        ev_ = std::exchange(o.ev_, nullptr);
        node_ = std::exchange(o.node_, nullptr);
        active_ = std::exchange(o.active_, false);
    }
    return *this;
}

void IoWatcher::start() {
    if (active_ || !ev_) return;
    if (event_add(ev_, nullptr) != 0) throw std::system_error(errno, std::system_category(), "bulb: event_add failed");
    active_ = true;
}

void IoWatcher::stop() noexcept {
    if (!active_) return;
    event_del(ev_);
    active_ = false;
}

void IoWatcher::reset() noexcept {
    if (ev_) event_free(ev_);
    ev_ = nullptr;
    active_ = false;
    if (node_) {
        node_->loop = nullptr;
        cancel_node(node_);
        release(node_);
        node_ = nullptr;
    }
}

}  // namespace bulb::detail
