// SPDX-License-Identifier: MIT
/// @file
/// gather(): the untyped bookkeeping (counting children, first failure, waking the parent).
#include <bulb/coro/gather.hpp>

namespace bulb::detail {

namespace {

bool is_cancellation(const std::exception_ptr& e) noexcept {
    try {
        std::rethrow_exception(e);
    } catch (const CancelledError&) {
        return true;
    } catch (...) {
        return false;
    }
}

}  // namespace

GatherState::~GatherState() = default;

void GatherState::child_done(const std::exception_ptr& error) noexcept {
    if (abandoned_) return;
    --remaining_;
    if (error && !collect_all_) {
        if (!error_) {
            error_ = error;
            if (!cancel_requested_) cancel_children({});  // the first failure cancels the rest
        } else if (!is_cancellation(error)) {
            try {
                later_errors_.push_back(error);
            } catch (...) {  // out of memory: the first failure still comes out
            }
        }
    }
    if (remaining_ == 0 && parent_) {
        TaskRunner* parent = std::exchange(parent_, nullptr);
        try {
            parent->schedule_step();
        } catch (...) {  // the loop is closed: nothing can run the parent any more
        }
        parent->release_ref();
    }
}

void GatherState::task_done(TaskRunner&, std::size_t, const std::exception_ptr& error) noexcept { child_done(error); }

void GatherState::await_suspend(std::coroutine_handle<> h) {
    runner_ = &TaskRunner::require_current("gather()");
    runner_->add_ref();
    parent_ = runner_;
    runner_->suspend(h, this);
}

void GatherState::await_resume() {
    if (runner_) runner_->throw_if_cancel_due();
    if (cancel_requested_) throw CancelledError(cancel_message_);
    if (!error_) return;
    if (later_errors_.empty()) std::rethrow_exception(error_);
    // Several failures: every one that is not a cancellation, in order. A lone error after a
    // child's cancellation comes out as itself (an error says more than the cancellation did).
    std::vector<std::exception_ptr> errors;
    errors.reserve(later_errors_.size() + 1);
    if (!is_cancellation(error_)) errors.push_back(error_);
    errors.insert(errors.end(), later_errors_.begin(), later_errors_.end());
    if (errors.size() == 1) std::rethrow_exception(errors.front());
    const std::size_t n = errors.size();
    throw ExceptionGroup("gather(): " + std::to_string(n) + " children failed", std::move(errors));
}

bool GatherState::cancel_wait(const std::string& message) {
    if (remaining_ == 0) return false;  // the wake-up is already scheduled
    if (!cancel_requested_) cancel_message_ = message;
    cancel_requested_ = true;
    cancel_children(message);
    return true;
}

void GatherState::abandon() noexcept {
    if (remaining_ == 0 || abandoned_) return;
    abandoned_ = true;
    if (!loop_->is_closed()) cancel_children({});
    detach_children();
    if (parent_) std::exchange(parent_, nullptr)->release_ref();
}

}  // namespace bulb::detail
