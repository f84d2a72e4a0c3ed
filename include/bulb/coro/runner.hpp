// SPDX-License-Identifier: MIT
/// @file
/// TaskRunner: the scheduled part of a task (asyncio.Task's __step), shared by every coroutine
/// frame the task runs through, and the Waiter interface awaitables use to support cancellation.
///
/// How a task runs: the runner resumes the innermost suspended frame from the ready queue.
/// An awaitable that suspends registers itself with TaskRunner::current() (suspend()), and wakes
/// the task later with schedule_step() or by calling step() from a loop callback. Frames awaited
/// inline (Task<T>, AsyncGenerator<T>) run inside the awaiting frame's step (resumed by a call,
/// handing back by symmetric transfer after a trip through the loop), so one task is one runner
/// no matter how deep its call chain is.
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/loop.hpp>
#include <bulb/detail/pool.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bulb::detail {

/// Something a task is suspended on that cancellation can interrupt.
class Waiter {
public:
    /// The task is being cancelled. Return true if the wait was interrupted: the waiter then wakes
    /// the task, which throws CancelledError. Return false if it cannot be (already complete).
    virtual bool cancel_wait(const std::string& message) = 0;

protected:
    ~Waiter() = default;
};

class TaskRunner;
struct RunnerList;

/// Told synchronously when a task finishes (TaskRunner::set_done_hook): what gather() and TaskGroup
/// use instead of a future done callback, so watching a child costs no allocation and no extra
/// trip through the loop.
class DoneHook {
public:
    /// `task` finished: its future is complete and its frame destroyed. `error` is its exception
    /// (a CancelledError when it was cancelled), null on success; the task's future counts it as
    /// retrieved. Called from inside the task's last step: must not resume coroutines or run user
    /// code (record, cancel other tasks, schedule wake-ups).
    virtual void task_done(TaskRunner& task, std::size_t tag, const std::exception_ptr& error) noexcept = 0;

protected:
    ~DoneHook() = default;
};

/// One scheduled task. Reference counted (loop thread only): the pending wake-up, whatever the task
/// awaits, and handles hold references; the root frame is destroyed with the runner.
class BULB_API TaskRunner : public Pooled, public Counted<TaskRunner> {
public:
    /// A runner born with one reference, its creator's (given back with release_ref(), or
    /// adopted by a RunnerRef).
    explicit TaskRunner(EventLoop& loop);
    TaskRunner(const TaskRunner&) = delete;
    TaskRunner& operator=(const TaskRunner&) = delete;

    // Runners come from the per-thread pools (Pooled: one per task); the deleting destructor
    // passes the size of the most derived runner.

    /// The runner whose frames are executing on this thread right now, or nullptr.
    static TaskRunner* current() noexcept;
    /// current(), or InvalidStateError naming `what` when not inside a task.
    static TaskRunner& require_current(const char* what);

    EventLoop& loop() const noexcept { return *loop_; }
    bool done() const noexcept { return done_; }

    /// Records where to resume and what is awaited (nullptr: nothing cancellable). Call it last in
    /// await_suspend, once `waiter` can take cancel_wait(): a cancel() requested while the task was
    /// running interrupts the new wait at once (asyncio's __step does the same).
    void suspend(std::coroutine_handle<> resume_point, Waiter* waiter) noexcept {
        resume_point_ = resume_point;
        waiter_ = waiter;
        if (must_cancel_ && waiter) interrupt_new_wait();
    }
    /// Resumes the innermost suspended frame (call from a loop callback holding a reference).
    void step() noexcept;
    /// Schedules step() with call_soon.
    void schedule_step();

    /// asyncio.Task.cancel: interrupts the current wait or, failing that, throws CancelledError at
    /// the next suspension point. Returns false once the task is done.
    bool cancel(std::string message);
    /// How many cancel() requests are pending (asyncio.Task.cancelling).
    int cancelling() const noexcept { return cancel_requests_; }
    /// Withdraws one cancel() request; returns the remaining count (asyncio.Task.uncancel).
    int uncancel() noexcept;
    /// Called by awaitables on resumption: throws CancelledError if a cancel is due.
    void throw_if_cancel_due() {
        if (must_cancel_) throw_cancel();
    }

    /// Schedules `fn` once the task's future is done (like its add_done_callback).
    virtual void add_done_observer(UniqueFunction<void()> fn) = 0;
    /// Calls `hook->task_done(*this, tag, error)` when the task finishes (one hook per task;
    /// nullptr removes it). The hook must outlive the task or be removed first.
    void set_done_hook(DoneHook* hook, std::size_t tag = 0) noexcept {
        done_hook_ = hook;
        hook_tag_ = tag;
    }
    bool has_done_hook() const noexcept { return done_hook_ != nullptr; }

    /// The task's name (asyncio.Task.get_name): the one given to set_name(), else "Task-N", N counted
    /// process-wide when a task is first asked (asyncio numbers at creation; this keeps unnamed
    /// tasks free of the cost).
    std::string get_name();
    /// Names the task (asyncio.Task.set_name).
    void set_name(std::string name);

    /// True when the loop has a task factory hook or eager tasks set (<bulb/coro/task_factory.hpp>)
    /// at this runner's creation: create_task() then calls start_hooked() instead of scheduling.
    bool hooked() const noexcept { return hooked_; }
    /// Runs the loop's task factory hook on this new task, then starts it: eagerly (a first step
    /// inside this call) when `eager` or the loop's eager mode says so, else scheduled.
    void start_hooked(bool eager);

    /// Every runner of `loop` that has not finished (asyncio.all_tasks), in creation order.
    template <class F>
    static void for_each_pending(EventLoop& loop, F&& fn);

    /// The root frame reached its final suspend point: publish the outcome, destroy the frame.
    void finish() noexcept;

protected:
    friend class Counted<TaskRunner>;
    virtual ~TaskRunner();
    /// Completes the task's future from the root frame; returns the error it was completed with
    /// (CancelledError included), null on success.
    virtual std::exception_ptr publish() noexcept = 0;
    void destroy_root_frame() noexcept;

    std::coroutine_handle<> root_;

private:
    friend struct RunnerList;
    friend std::size_t pending_runners(EventLoop&, TaskRunner**, std::size_t);
    void interrupt_new_wait() noexcept;
    [[noreturn]] void throw_cancel();

    int cancel_requests_ = 0;  // first: it shares the count's word
    EventLoop* loop_;
    RunnerList* list_;  // the loop's pending tasks; null once the loop is gone
    std::coroutine_handle<> resume_point_;
    Waiter* waiter_ = nullptr;
    DoneHook* done_hook_ = nullptr;
    std::size_t hook_tag_ = 0;
    bool must_cancel_ = false;
    bool done_ = false;
    bool hooked_ = false;

protected:
    bool future_made_ = false;  // TypedRunner: its future exists (declared here: fills padding)

private:
    std::string cancel_message_;
    std::unique_ptr<std::string> name_;  // made by get_name()/set_name() only: unnamed tasks pay 8 bytes
    TaskRunner* prev_ = nullptr;  // the loop's list of pending runners
    TaskRunner* next_ = nullptr;
};

/// An owning reference to a runner.
using RunnerRef = RefPtr<TaskRunner>;

/// Snapshot of a loop's pending runners (for for_each_pending).
BULB_API std::size_t pending_runners(EventLoop& loop, TaskRunner** out, std::size_t capacity);

template <class F>
void TaskRunner::for_each_pending(EventLoop& loop, F&& fn) {
    std::size_t n = pending_runners(loop, nullptr, 0);
    std::vector<TaskRunner*> all(n);
    n = pending_runners(loop, all.data(), n);
    std::vector<RunnerRef> refs;
    refs.reserve(n);
    for (std::size_t i = 0; i < n; ++i) refs.emplace_back(all[i]);
    for (auto& r : refs) fn(*r.get());
}

}  // namespace bulb::detail
