// SPDX-License-Identifier: MIT
/// @file
/// TaskGroup: tasks whose lifetimes are bound to a scope (asyncio.TaskGroup).
///
/// ```
/// bulb::TaskGroup group;
/// for (auto& h : hosts) group.create_task(fetch_one(h));   // the first failure cancels the rest
/// co_await group.wait();                                    // every child has finished here
/// ```
/// As asyncio: wait() throws an ExceptionGroup holding *every* child error (cancellations are not
/// errors), in the order they happened; test it with contains<E>() / find<E>() / split<E>().
/// With a bare TaskGroup a failure cancels the other children and ends the parent's wait(), but
/// does not cancel the parent while it runs other code before wait(): only a scope around that
/// code can turn the parent's CancelledError back into the children's errors. That scope is the
/// block form, task_group(body), which behaves as `async with asyncio.TaskGroup() as g:`:
/// ```
/// co_await bulb::task_group([&](bulb::TaskGroup& g) -> bulb::Task<> {
///     g.create_task(fetch_one(a));
///     co_await watch();                // cancelled if a child fails
/// });                                  // every child has finished; ExceptionGroup on failures
/// ```
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/runner.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/exception_group.hpp>

#include <bulb/coro/awaitable.hpp>

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace bulb {

/// A set of child tasks awaited together. Not movable (children point at it); loop thread only.
/// Destroying a group whose children still run (wait() never reached, e.g. an exception left
/// the scope) cancels them without waiting; they finish on their own, so they must not use the
/// parent's locals in that case. Child exceptions that wait() never delivered are reported to
/// the loop's exception handler (as one ExceptionGroup).
class BULB_API TaskGroup final : private detail::DoneHook, private detail::Waiter {
public:
    /// A group on the running loop (InvalidStateError when none runs).
    TaskGroup();
    /// A group on `loop`.
    explicit TaskGroup(EventLoop& loop) noexcept : loop_(&loop) {}
    TaskGroup(const TaskGroup&) = delete;
    TaskGroup& operator=(const TaskGroup&) = delete;
    ~TaskGroup();

    /// Schedules `task` as a child (asyncio.TaskGroup.create_task) and returns its future.
    /// InvalidStateError once a child failed ("shutting down") or wait() has finished.
    template <class T>
    Future<T> create_task(Task<T> task);

    /// Awaitable returned by wait(): ready once no child runs; resumes by throwing an
    /// ExceptionGroup of the child errors or the waiter's own CancelledError.
    class BULB_AWAITABLE WaitAwaiter {
    public:
        explicit WaitAwaiter(TaskGroup& g) noexcept : g_(&g) {}
        bool await_ready() const noexcept { return g_->running_ == 0; }
        void await_suspend(std::coroutine_handle<> h) { g_->suspend_waiter(h); }
        void await_resume() { g_->finish_wait(); }

    private:
        TaskGroup* g_;
    };

    /// Waits until every child has finished (children may add children meanwhile), then throws
    /// ExceptionGroup("unhandled errors in a TaskGroup", every child error) if any child failed.
    /// Cancelled children are not errors.
    /// Cancel safety: cancelling the waiting task cancels every child and still waits for all
    /// of them to finish before CancelledError comes out (unless a child failed: the group wins).
    WaitAwaiter wait() noexcept { return WaitAwaiter(*this); }

    /// Children still running.
    std::size_t size() const noexcept { return running_; }

    /// For task_group(): the current task runs the group's body from now on; a child failure
    /// cancels it (once). InvalidStateError outside a task.
    void enter_body();
    /// For task_group(): the body ended with `body_error` (null: normally). Withdraws the group's
    /// own cancel of the task; a body error other than CancelledError joins the children's
    /// errors and aborts the group, as does a CancelledError. Returns the CancelledError to throw
    /// once the children are done (someone else's cancel), or null.
    std::exception_ptr leave_body(std::exception_ptr body_error) noexcept;
    /// True once a child failed or the waiting task was cancelled: the rest are being cancelled.
    bool aborting() const noexcept { return aborting_; }

private:
    void task_done(detail::TaskRunner& task, std::size_t slot, const std::exception_ptr& error) noexcept override;
    bool cancel_wait(const std::string& message) override;
    std::size_t adopt(detail::TaskRunner* child);
    void check_open() const;
    void abort() noexcept;
    void suspend_waiter(std::coroutine_handle<> h);
    void finish_wait();

    EventLoop* loop_;
    std::vector<detail::TaskRunner*> children_;  // one reference each; null in free slots
    std::vector<std::size_t> free_slots_;
    std::size_t running_ = 0;
    std::vector<std::exception_ptr> errors_;  // every child error, in order
    bool error_delivered_ = false;
    bool aborting_ = false;
    bool finished_ = false;
    bool cancel_requested_ = false;
    std::string cancel_message_;
    detail::TaskRunner* body_task_ = nullptr;  // the task running task_group()'s body
    bool body_cancelled_ = false;              // the group cancelled that task
    detail::TaskRunner* waiter_ = nullptr;   // the task in wait(), once suspended
    detail::TaskRunner* waiting_ = nullptr;  // a reference to it until it is woken
};

template <class T>
Future<T> TaskGroup::create_task(Task<T> task) {
    check_open();
    auto* runner = new detail::TypedRunner<T>(*loop_, std::move(task));
    Future<T> result = runner->future();
    adopt(runner);  // takes over the reference and schedules the first step
    return result;
}

namespace detail {

/// The body of a task_group() block: called with the TaskGroup&, gives an awaitable.
template <class F>
concept TaskGroupBody = std::invocable<F&, TaskGroup&> && Awaitable<std::invoke_result_t<F&, TaskGroup&>>;

template <class F>
using task_group_result_t = await_result_t<std::invoke_result_t<F&, TaskGroup&>>;

}  // namespace detail

/// The block form of `async with asyncio.TaskGroup() as g:` -- runs `body(group)` inline in the
/// calling task, then waits for every child, and returns the body's result. A child failure
/// cancels the other children *and the body* (its CancelledError becomes the group's errors);
/// an error thrown by the body cancels the children and joins them. Throws ExceptionGroup of
/// every error (the children's in order, then the body's), else the CancelledError of an outer
/// cancel. The task keeps `body` alive: `[&]` captures are safe.
/// Cancel safety: cancelling the calling task cancels the body and every child, waits for all
/// of them, then throws CancelledError (unless some failed: the group wins).
template <detail::TaskGroupBody F>
Task<detail::task_group_result_t<F>> task_group(F body) {
    using R = detail::task_group_result_t<F>;
    TaskGroup group;
    group.enter_body();
    std::exception_ptr body_error;
    std::optional<std::conditional_t<std::is_void_v<R>, std::monostate, R>> result;
    try {
        if constexpr (std::is_void_v<R>) {
            co_await body(group);
            result.emplace();
        } else {
            result.emplace(co_await body(group));
        }
    } catch (...) {
        body_error = std::current_exception();
    }
    std::exception_ptr cancelled = group.leave_body(std::move(body_error));
    co_await group.wait();
    if (cancelled) std::rethrow_exception(cancelled);
    if constexpr (!std::is_void_v<R>) co_return std::move(*result);
}

}  // namespace bulb
