// SPDX-License-Identifier: MIT
/// @file
/// TaskRef, current_task(), all_tasks(): a task's identity (name, cancellation bookkeeping) apart
/// from its result, which stays on the Future create_task() returned.
///
/// C++ adaptation: asyncio.Task is a Future with a name; bulb's create_task returns a plain
/// Future<T> (typed result), so the task side is this untyped handle, found from inside the task
/// (current_task) or by listing the loop's tasks (all_tasks).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/runner.hpp>

#include <string>
#include <vector>

namespace bulb {

/// A counted handle to a scheduled task (asyncio.Task's non-result half). Loop thread only.
/// Keeping one keeps the task's bookkeeping alive (not its frame, which goes when it finishes).
class TaskRef {
public:
    /// An empty handle (what current_task() returns outside a task).
    TaskRef() noexcept = default;
    /// A handle to `runner` (takes a reference).
    explicit TaskRef(detail::TaskRunner* runner) noexcept : r_(runner) {}

    /// True when this refers to a task.
    explicit operator bool() const noexcept { return static_cast<bool>(r_); }
    /// The loop the task runs on.
    EventLoop& get_loop() const noexcept { return r_->loop(); }
    /// True once the task finished (its future is complete).
    bool done() const noexcept { return r_->done(); }
    /// The task's name: set_name()'s, else "Task-N" (asyncio.Task.get_name).
    std::string get_name() const { return r_->get_name(); }
    /// Names the task (asyncio.Task.set_name).
    void set_name(std::string name) const { r_->set_name(std::move(name)); }
    /// Requests cancellation (asyncio.Task.cancel); false once the task is done.
    bool cancel(std::string message = {}) const { return r_->cancel(std::move(message)); }
    /// Pending cancel() requests (asyncio.Task.cancelling).
    int cancelling() const noexcept { return r_->cancelling(); }
    /// Withdraws one cancel() request and returns the rest (asyncio.Task.uncancel); a task that
    /// handled a cancellation and goes on calls it so that timeouts around it keep working.
    int uncancel() const noexcept { return r_->uncancel(); }

    /// Two handles to the same task compare equal.
    friend bool operator==(const TaskRef& a, const TaskRef& b) noexcept { return a.r_.get() == b.r_.get(); }

private:
    detail::RunnerRef r_;
};

/// The task running on this thread (asyncio.current_task), or an empty TaskRef outside a task.
inline TaskRef current_task() noexcept { return TaskRef(detail::TaskRunner::current()); }
/// The task running on `loop`, or an empty TaskRef when none of its tasks is running.
inline TaskRef current_task(EventLoop& loop) noexcept {
    detail::TaskRunner* r = detail::TaskRunner::current();
    return (r && &r->loop() == &loop) ? TaskRef(r) : TaskRef();
}

/// Every unfinished task of `loop`, in creation order (asyncio.all_tasks).
inline std::vector<TaskRef> all_tasks(EventLoop& loop) {
    std::vector<TaskRef> out;
    detail::TaskRunner::for_each_pending(loop, [&out](detail::TaskRunner& r) { out.emplace_back(&r); });
    return out;
}
/// all_tasks() of the running loop (InvalidStateError when none runs).
inline std::vector<TaskRef> all_tasks() { return all_tasks(get_running_loop()); }

}  // namespace bulb
