// SPDX-License-Identifier: MIT
/// @file
/// TaskGroup: child bookkeeping, failure handling and the parent's wait.
#include <bulb/coro/task_group.hpp>

#include <utility>

namespace bulb {

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

TaskGroup::TaskGroup() : loop_(&get_running_loop()) {}

TaskGroup::~TaskGroup() {
    // Children still running are cancelled and forgotten: nothing may point back at this group.
    const bool can_cancel = !loop_->is_closed();
    for (detail::TaskRunner* child : children_) {
        if (!child) continue;
        child->set_done_hook(nullptr);
        if (can_cancel) {
            try {
                child->cancel({});
            } catch (...) {
            }
        }
        child->release_ref();
    }
    if (waiting_) std::exchange(waiting_, nullptr)->release_ref();
    if (!errors_.empty() && !error_delivered_ && !loop_->is_closed()) {
        std::exception_ptr group;
        try {
            group = std::make_exception_ptr(ExceptionGroup("unhandled errors in a TaskGroup", std::move(errors_)));
        } catch (...) {
            group = std::current_exception();
        }
        loop_->call_exception_handler({"TaskGroup child exception was never retrieved", group});
    }
}

void TaskGroup::check_open() const {
    if (finished_) throw InvalidStateError("TaskGroup is finished");
    if (aborting_) throw InvalidStateError("TaskGroup is shutting down");
}

std::size_t TaskGroup::adopt(detail::TaskRunner* child) {
    std::size_t slot;
    if (!free_slots_.empty()) {
        slot = free_slots_.back();
        free_slots_.pop_back();
        children_[slot] = child;
    } else {
        slot = children_.size();
        try {
            children_.push_back(child);
        } catch (...) {
            child->release_ref();
            throw;
        }
    }
    try {
        child->schedule_step();
    } catch (...) {
        children_[slot] = nullptr;
        free_slots_.push_back(slot);
        child->release_ref();
        throw;
    }
    child->set_done_hook(this, slot);
    ++running_;
    return slot;
}

void TaskGroup::task_done(detail::TaskRunner& task, std::size_t slot, const std::exception_ptr& error) noexcept {
    children_[slot] = nullptr;
    try {
        free_slots_.push_back(slot);
    } catch (...) {  // the slot is simply not reused
    }
    --running_;
    task.release_ref();  // the finishing step still holds the task
    if (error && !is_cancellation(error)) {
        try {
            errors_.push_back(error);
        } catch (...) {  // out of memory: keep at least the first error
            if (errors_.empty()) std::terminate();
        }
        abort();
    }
    if (running_ == 0 && waiting_) {
        detail::TaskRunner* parent = std::exchange(waiting_, nullptr);
        try {
            parent->schedule_step();
        } catch (...) {
        }
        parent->release_ref();
    }
}

void TaskGroup::enter_body() {
    if (body_task_) throw InvalidStateError("TaskGroup: a body is running already");
    body_task_ = &detail::TaskRunner::require_current("task_group()");
}

std::exception_ptr TaskGroup::leave_body(std::exception_ptr body_error) noexcept {
    detail::TaskRunner* task = std::exchange(body_task_, nullptr);
    bool others_cancelled = true;  // a cancel request that is not the group's is pending
    if (std::exchange(body_cancelled_, false)) others_cancelled = task->uncancel() > 0;
    if (!body_error) return nullptr;
    if (is_cancellation(body_error)) {
        abort();
        return others_cancelled ? body_error : nullptr;
    }
    try {
        errors_.push_back(std::move(body_error));
    } catch (...) {  // out of memory: the children's errors still come out
    }
    abort();
    return nullptr;
}

void TaskGroup::abort() noexcept {
    if (body_task_ && !body_cancelled_) {  // the block's body stops too (asyncio's parent cancel)
        body_cancelled_ = true;
        try {
            body_task_->cancel({});
        } catch (...) {
            body_cancelled_ = false;
        }
    }
    if (aborting_) return;
    aborting_ = true;
    // A child cancelled here may finish (and free its slot) only later, from the loop.
    for (std::size_t i = 0; i < children_.size(); ++i) {
        if (detail::TaskRunner* child = children_[i]) {
            try {
                child->cancel({});
            } catch (...) {
            }
        }
    }
}

void TaskGroup::suspend_waiter(std::coroutine_handle<> h) {
    waiter_ = &detail::TaskRunner::require_current("TaskGroup::wait()");
    waiter_->add_ref();
    waiting_ = waiter_;
    waiter_->suspend(h, this);
}

bool TaskGroup::cancel_wait(const std::string& message) {
    if (running_ == 0) return false;  // the wake-up is already scheduled
    if (!cancel_requested_) cancel_message_ = message;
    cancel_requested_ = true;
    abort();
    return true;
}

void TaskGroup::finish_wait() {
    finished_ = true;
    detail::TaskRunner* waiter = std::exchange(waiter_, nullptr);
    if (!errors_.empty()) {
        // A pending cancel of the waiter (if any) stays due and is thrown at its next await.
        error_delivered_ = true;
        throw ExceptionGroup("unhandled errors in a TaskGroup", errors_);
    }
    if (waiter) waiter->throw_if_cancel_due();
    if (cancel_requested_) {
        cancel_requested_ = false;
        throw CancelledError(cancel_message_);
    }
}

}  // namespace bulb
