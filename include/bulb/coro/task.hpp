// SPDX-License-Identifier: MIT
/// @file
/// Task<T>: a lazy C++20 coroutine, and create_task() to schedule one on a loop.
///
/// `co_await some_task()` runs the task inside the caller, with no trip through the loop (like
/// `await coro()` in Python). create_task() schedules it as an independent task and returns its
/// Future: awaitable, cancellable, and reporting an exception nobody retrieved.
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/runner.hpp>
#include <bulb/future.hpp>
#include <bulb/detail/pool.hpp>

#include <coroutine>
#include <exception>
#include <optional>
#include <utility>

namespace bulb {

template <class T = void>
class Task;

namespace detail {

template <class>
inline constexpr bool always_false = false;

/// In debug mode (EventLoop::set_debug) reports "coroutine was never awaited" to the running
/// loop's exception handler: a Task was destroyed before it ever ran (lib/coro/never_awaited.cpp).
BULB_API void report_never_awaited() noexcept;

/// Parts of a Task promise that do not depend on T.
///
/// An inline `co_await task` resumes the child with a plain call and, when the child finishes
/// before that call returns, lets the caller go on without suspending. Only a child that suspended
/// on the loop hands control back by symmetric transfer when it ends. Symmetric transfer alone
/// is a tail call only in optimised builds without sanitizers: elsewhere a loop over
/// synchronously completing tasks would grow the stack without bound.
struct TaskPromiseBase : Pooled {  // frames from the per-thread pools: one per task
    std::coroutine_handle<> continuation;  // the frame awaiting this one (inline co_await)
    TaskRunner* root_of = nullptr;         // set when this frame is a scheduled task's root
    std::exception_ptr exception;
    bool resumed_inline = false;    // running inside the awaiter's resume() call
    bool completed_inline = false;  // reached its end inside that call
    bool started = false;           // resumed at least once (awaited or scheduled)

    struct InitialAwaiter {
        TaskPromiseBase* promise;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<>) const noexcept {}
        void await_resume() const {
            promise->started = true;
            // A task cancelled before it started gets CancelledError before its first statement.
            if (promise->root_of) promise->root_of->throw_if_cancel_due();
        }
    };
    struct FinalAwaiter {
        bool await_ready() const noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
            TaskPromiseBase& p = h.promise();
            if (p.continuation) {
                if (!p.resumed_inline) return p.continuation;  // woken by the loop: transfer back
                p.completed_inline = true;  // return into the awaiter's resume() call
                return std::noop_coroutine();
            }
            if (p.root_of) p.root_of->finish();  // may destroy this frame: touch nothing after
            return std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };

    InitialAwaiter initial_suspend() noexcept { return {this}; }
    FinalAwaiter final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { exception = std::current_exception(); }
};

template <class T>
struct TaskPromise : TaskPromiseBase {
    std::optional<T> value;
    Task<T> get_return_object() noexcept;
    template <class U = T>
    void return_value(U&& v) {
        value.emplace(std::forward<U>(v));
    }
    T take() {
        if (exception) std::rethrow_exception(exception);
        return std::move(*value);
    }
};

template <>
struct TaskPromise<void> : TaskPromiseBase {
    Task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void take() {
        if (exception) std::rethrow_exception(exception);
    }
};

template <class T>
class TypedRunner;

}  // namespace detail

/// A coroutine returning T. Lazy: nothing runs until it is awaited or passed to create_task().
/// Move-only; destroying an unstarted or suspended Task destroys its frame (RAII cleanup runs).
template <class T>
class [[nodiscard("a Task runs only when co_awaited or passed to create_task(): dropping it runs nothing")]] Task {
public:
    using promise_type = detail::TaskPromise<T>;
    /// The type co_await on this task gives.
    using value_type = T;

    /// Moves leave the source empty (a task has one owner).
    Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    /// Move assignment: destroys a task this one held (which never ran, or finished).
    Task& operator=(Task&& o) noexcept {
        if (this != &o) {
            if (h_) {
                if (!h_.promise().started) detail::report_never_awaited();
                h_.destroy();
            }
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    ~Task() {
        if (h_) {
            if (!h_.promise().started) detail::report_never_awaited();
            h_.destroy();
        }
    }

    /// Runs the task inside the awaiting coroutine and returns its result (or throws).
    /// Cancel safety: no suspension point of its own; cancellation reaches whatever it awaits.
    auto operator co_await() && noexcept {
        struct Awaiter {
            std::coroutine_handle<promise_type> h;
            bool await_ready() const noexcept { return false; }
            bool await_suspend(std::coroutine_handle<> caller) noexcept {
                auto& p = h.promise();
                p.continuation = caller;
                p.resumed_inline = true;
                h.resume();
                if (p.completed_inline) return false;  // finished synchronously: go on at once
                p.resumed_inline = false;  // suspended on the loop: its end resumes `caller`
                return true;
            }
            T await_resume() { return h.promise().take(); }
        };
        return Awaiter{h_};
    }
    /// A Task runs once: awaiting a named one moves it (`co_await std::move(task)`), so a second
    /// co_await of the same name cannot compile by accident.
    void operator co_await() & {
        static_assert(detail::always_false<T>,
                      "co_await on an lvalue bulb::Task: a Task runs once -- write co_await std::move(task)");
    }

private:
    friend promise_type;
    template <class>
    friend class detail::TypedRunner;
    explicit Task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
    std::coroutine_handle<promise_type> h_;
};

namespace detail {

template <class T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
    return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}
inline Task<void> TaskPromise<void>::get_return_object() noexcept {
    return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

/// The runner of a Task<T>: owns the root frame and publishes its outcome to a Future<T>.
///
/// The future is made on first use (future(), add_done_observer()). create_task() asks for it at
/// once; a gather() or TaskGroup child of Task<void> that succeeds never needs one, and skipping
/// it saves an allocation and its bookkeeping per task.
template <class T>
class TypedRunner final : public TaskRunner {
public:
    TypedRunner(EventLoop& loop, Task<T>&& task) : TaskRunner(loop) {
        auto h = std::exchange(task.h_, {});
        h.promise().root_of = this;
        root_ = h;
        suspend(h, nullptr);
    }
    /// The task's future (made now if nobody asked for it before).
    Future<T>& future() {
        if (!future_made_) {
            ::new (static_cast<void*>(&future_)) Future<T>(loop());
            future_made_ = true;
            if (!done())
                future_.set_canceller([this](std::string msg) { return cancel(std::move(msg)); });
            else if constexpr (std::is_void_v<T>)
                future_.set_result();  // finished with success before anyone asked (see publish())
        }
        return future_;
    }
    void add_done_observer(UniqueFunction<void()> fn) override { future().add_done_callback(std::move(fn)); }

private:
    ~TypedRunner() override {
        if (!future_made_) return;
        if (!done()) future_.set_canceller({});  // the future may outlive an abandoned task
        future_.~Future<T>();
    }
    std::exception_ptr publish() noexcept override {
        auto& p = std::coroutine_handle<TaskPromise<T>>::from_address(root_.address()).promise();
        if (future_made_) {
            future_.set_canceller({});
        } else {
            if constexpr (std::is_void_v<T>)
                if (!p.exception) return nullptr;  // no future yet: future() makes it complete
            try {
                ::new (static_cast<void*>(&future_)) Future<T>(loop());
                future_made_ = true;
            } catch (...) {
                return p.exception ? p.exception : std::current_exception();
            }
        }
        try {
            if constexpr (std::is_void_v<T>) {
                p.take();
                future_.set_result();
            } else {
                future_.set_result(p.take());
            }
            return nullptr;
        } catch (const CancelledError& e) {
            future_.cancel(e.what());
            return std::current_exception();
        } catch (...) {
            future_.set_exception(std::current_exception());
            if (has_done_hook()) (void)future_.exception();  // the hook's owner handles it
            return std::current_exception();
        }
    }

    union {
        Future<T> future_;  // alive once future_made_
    };
};

}  // namespace detail

/// Schedules `task` on `loop` (asyncio.create_task); it starts on a later iteration. The returned
/// future completes with the task's result; cancelling it cancels the task (CancelledError is
/// thrown at the task's current suspension point and passed on to what it awaits).
template <class T>
Future<T> create_task(EventLoop& loop, Task<T> task) {
    auto* runner = new detail::TypedRunner<T>(loop, std::move(task));
    Future<T> result = runner->future();
    if (runner->hooked()) [[unlikely]] {  // a task factory hook or eager tasks on this loop
        detail::RunnerRef keep(runner, adopt_ref);
        runner->start_hooked(false);
        return result;
    }
    runner->schedule_step();
    runner->release_ref();  // the scheduled step holds the runner now
    return result;
}

/// create_task() with an eager start (asyncio's eager_start=True, 3.12's eager_task_factory):
/// the task runs inside this call up to its first suspension, and a task that never suspends
/// is done when this returns (no trip through the loop). Breaks on purpose the rule that
/// nothing runs inside the call that started it: the caller's state must be ready for that.
template <class T>
Future<T> create_eager_task(EventLoop& loop, Task<T> task) {
    auto* runner = new detail::TypedRunner<T>(loop, std::move(task));
    Future<T> result = runner->future();
    detail::RunnerRef keep(runner, adopt_ref);  // the creator's reference, through the first step
    runner->start_hooked(true);
    return result;
}

/// create_eager_task() on the running loop.
template <class T>
Future<T> create_eager_task(Task<T> task) {
    return create_eager_task(get_running_loop(), std::move(task));
}

/// Schedules `task` on the running loop.
template <class T>
Future<T> create_task(Task<T> task) {
    return create_task(get_running_loop(), std::move(task));
}

template <class T>
T EventLoop::run_until_complete(Task<T> task) {
    // Checked before scheduling: a call that throws leaves no task behind on the loop.
    if (is_closed()) throw InvalidStateError("run_until_complete: Event loop is closed");
    if (is_running() || current())
        throw InvalidStateError("run_until_complete: an event loop is already running in this thread");
    return run_until_complete(create_task(*this, std::move(task)));
}

}  // namespace bulb
