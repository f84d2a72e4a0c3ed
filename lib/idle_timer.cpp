// SPDX-License-Identifier: MIT
/// @file
/// IdleTimer: one lazily re-armed loop timer per connection (see idle_timer.hpp).
#include <bulb/idle_timer.hpp>
#include <bulb/loop.hpp>

#include <algorithm>
#include <limits>

namespace bulb {

namespace {

std::int64_t ns(Duration d) noexcept { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); }

}  // namespace

IdleTimer::IdleTimer(EventLoop& loop, IdleLimits limits, Callback on_idle)
    : loop_(loop), limits_(limits), on_idle_(std::move(on_idle)) {}

IdleTimer::IdleTimer(EventLoop& loop, Duration limit, Callback on_idle)
    : IdleTimer(loop, IdleLimits{.read = {}, .write = {}, .all = limit}, std::move(on_idle)) {}

IdleTimer::~IdleTimer() {
    stop();
    if (alive_) *alive_ = false;
}

std::int64_t IdleTimer::now() const noexcept { return ns(loop_.time().time_since_epoch()); }

void IdleTimer::on_read() noexcept {
    if (running_) last_read_ = now();
}

void IdleTimer::on_write() noexcept {
    if (running_) last_write_ = now();
}

void IdleTimer::start() {
    stop();
    if (ns(limits_.read) <= 0 && ns(limits_.write) <= 0 && ns(limits_.all) <= 0) return;
    last_read_ = last_write_ = last_all_ = now();
    running_ = true;
    arm();
}

void IdleTimer::stop() noexcept {
    running_ = false;
    timer_.cancel();
    timer_ = TimerHandle();
}

void IdleTimer::set_limits(IdleLimits limits) {
    limits_ = limits;
    if (running_) start();
}

// The earliest deadline of the watched kinds, from the last activity (or report) of each.
void IdleTimer::arm() {
    std::int64_t when = std::numeric_limits<std::int64_t>::max();
    if (ns(limits_.read) > 0) when = std::min(when, last_read_ + ns(limits_.read));
    if (ns(limits_.write) > 0) when = std::min(when, last_write_ + ns(limits_.write));
    if (ns(limits_.all) > 0) when = std::min(when, std::max({last_read_, last_write_, last_all_}) + ns(limits_.all));
    ++armed_;
    timer_ = loop_.call_at(TimePoint(std::chrono::nanoseconds(when)), [this] { fire(); });
}

// Due kinds are reported (each counts again from now); activity since arming only moves the
// deadline, and the timer is armed again for it.
void IdleTimer::fire() {
    timer_ = TimerHandle();
    if (!running_) return;
    std::int64_t t = now();
    bool read_due = ns(limits_.read) > 0 && last_read_ + ns(limits_.read) <= t;
    bool write_due = ns(limits_.write) > 0 && last_write_ + ns(limits_.write) <= t;
    bool all_due = ns(limits_.all) > 0 && std::max({last_read_, last_write_, last_all_}) + ns(limits_.all) <= t;
    bool alive = true;
    alive_ = &alive;
    auto report = [&](bool due, Idle kind) {
        if (due && alive && running_) on_idle_(kind);
    };
    // Reported kinds count again from now (Netty repeats the event after each further limit).
    if (read_due) last_read_ = t;
    if (write_due) last_write_ = t;
    if (all_due) last_all_ = t;
    try {
        report(read_due, Idle::read);
        report(write_due, Idle::write);
        report(all_due, Idle::all);
    } catch (...) {
        if (alive) alive_ = nullptr;
        throw;  // to the loop's exception handler, like any callback's
    }
    if (!alive) return;  // the callback destroyed this timer
    alive_ = nullptr;
    if (running_ && !timer_) arm();
}

}  // namespace bulb
