// SPDX-License-Identifier: MIT
/// @file
/// Timeout: entering, leaving and expiring a deadline scope (asyncio.Timeout's state machine).
#include <bulb/coro/timeout.hpp>

namespace bulb {

void Timeout::enter() {
    if (state_ != State::created) throw InvalidStateError("Timeout has already been entered");
    task_ = &detail::TaskRunner::require_current("Timeout::run()");
    state_ = State::entered;
    cancelling_ = task_->cancelling();
    reschedule(when_);
}

void Timeout::reschedule(std::optional<TimePoint> when) {
    if (state_ != State::entered)
        throw InvalidStateError(state_ == State::created ? "Timeout has not been entered"
                                                         : "Cannot reschedule a Timeout that has expired or exited");
    when_ = when;
    handle_.cancel();
    handle_ = Handle();
    if (!when) return;
    EventLoop& loop = task_->loop();
    if (*when <= loop.time())
        handle_ = loop.call_soon([this] { on_timeout(); });
    else
        handle_ = loop.call_at(*when, [this] { on_timeout(); });
}

void Timeout::on_timeout() noexcept {
    state_ = State::expiring;
    task_->cancel({});
}

bool Timeout::leave() noexcept {
    handle_.cancel();
    handle_ = Handle();
    if (state_ == State::expiring) {
        state_ = State::expired;
        // No cancel request but ours is left: the CancelledError is this scope's.
        return task_->uncancel() <= cancelling_;
    }
    if (state_ == State::entered) state_ = State::exited;
    return false;
}

}  // namespace bulb
