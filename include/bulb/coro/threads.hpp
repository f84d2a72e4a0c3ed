// SPDX-License-Identifier: MIT
/// @file
/// Tasks and threads: run_coroutine_threadsafe() (submit a Task to a loop from another thread,
/// wait on a ConcurrentFuture) and to_thread() (await a blocking call run on the executor).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/task.hpp>
#include <bulb/concurrent_future.hpp>
#include <bulb/wrap_future.hpp>

#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace bulb {
namespace detail {

/// Fails `done` if destroyed while armed: the loop dropped the submission without running it.
template <class T>
struct SubmissionGuard {
    ConcurrentFuture<T> done;
    bool armed = true;
    explicit SubmissionGuard(ConcurrentFuture<T> d) : done(std::move(d)) {}
    SubmissionGuard(SubmissionGuard&& o) noexcept : done(o.done), armed(std::exchange(o.armed, false)) {}
    SubmissionGuard& operator=(SubmissionGuard&&) = delete;
    ~SubmissionGuard() {
        if (armed)
            done.try_set_exception(std::make_exception_ptr(
                InvalidStateError("run_coroutine_threadsafe: the event loop closed before the task started")));
    }
};

/// Copies a finished loop future's outcome into a ConcurrentFuture (loop thread).
template <class T>
void copy_outcome(Future<T>& from, ConcurrentFuture<T>& to) {
    if (from.cancelled()) {
        to.cancel();
        return;
    }
    std::exception_ptr e = from.exception();
    if (e)
        to.try_set_exception(std::move(e));
    else if constexpr (std::is_void_v<T>)
        to.try_set_result();
    else
        to.try_set_result(std::move(from.result()));
}

}  // namespace detail

/// Schedules `task` on `loop` from any thread (asyncio.run_coroutine_threadsafe) and returns a
/// ConcurrentFuture the calling thread can block on. Its outcome is the task's; cancel() on it
/// cancels the task (on the loop thread). If the loop closes before the task finishes, the
/// future fails with InvalidStateError instead of staying pending. Throws InvalidStateError when
/// the loop is already closed. Not for the loop's own thread while it runs: blocking on the
/// result there deadlocks (use create_task).
template <class T>
ConcurrentFuture<T> run_coroutine_threadsafe(Task<T> task, EventLoop& loop) {
    ConcurrentFuture<T> done;
    detail::SubmissionGuard<T> guard(done);
    loop.call_soon_threadsafe([&loop, task = std::move(task), guard = std::move(guard)]() mutable {
        ConcurrentFuture<T> out = guard.done;
        guard.armed = false;
        if (out.done()) return;  // cancelled before it started: the task never runs
        Future<T> f = create_task(loop, std::move(task));
        auto& bridge = detail::LoopBridge::of(loop);
        // The loop side of cancel(): kept in the bridge, reached by id, so the ConcurrentFuture
        // (which other threads destroy) never holds a loop object.
        const std::uint64_t id = bridge.keep([f, out](bool fire) mutable {
            if (fire)
                f.cancel();
            else
                out.try_set_exception(std::make_exception_ptr(
                    InvalidStateError("run_coroutine_threadsafe: the event loop closed before the task finished")));
        });
        if (!out.set_canceller([mailbox = bridge.mailbox(), id] { mailbox->post_fire(id); })) f.cancel();
        f.add_done_callback([out, &bridge, id](Future<T>& fut) mutable {
            bridge.forget(id);
            detail::copy_outcome(fut, out);
        });
    });
    return done;
}

/// Runs `fn(args...)` on the running loop's default executor and returns its future, awaitable
/// (asyncio.to_thread). `fn` and `args` are moved into the job (decay-copied, as std::thread
/// does: pass std::ref for a reference). Cancel safety: cancelling the await drops the result;
/// a call already started runs to its end on its thread. Loop thread only.
template <class F, class... Args>
auto to_thread(F fn, Args... args) -> Future<std::invoke_result_t<F&, Args&...>> {
    EventLoop& loop = get_running_loop();
    return loop.run_in_executor([fn = std::move(fn), tup = std::make_tuple(std::move(args)...)]() mutable {
        return std::apply(fn, tup);
    });
}

}  // namespace bulb
