// SPDX-License-Identifier: MIT
/// @file
/// Crossing from other threads into a loop: wrap_future() (asyncio.wrap_future) and
/// EventLoop::run_in_executor with a user Executor, over a per-loop bridge (detail::LoopBridge)
/// whose thread-safe mailbox never touches loop objects off the loop thread.
#pragma once

#include <bulb/concurrent_future.hpp>
#include <bulb/executor.hpp>
#include <bulb/future.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace bulb {
namespace detail {

class LoopBridge;

/// A thread-safe route into a loop that may close or be destroyed at any time.
class BULB_API LoopMailbox {
public:
    /// From any thread: LoopBridge::fire(id) on the loop thread. Returns false once the loop is
    /// closed or gone (nothing is queued then).
    bool post_fire(std::uint64_t id) noexcept;

private:
    friend class LoopBridge;
    std::mutex mutex_;
    EventLoop* loop_ = nullptr;
    LoopBridge* bridge_ = nullptr;
};

/// Per-loop table of loop-thread work waiting on other threads (LoopExtension; loop thread only
/// but for mailbox()'s use). Other threads carry only an id and the mailbox, so no loop object
/// (a Future's count, a task) is ever touched or destroyed off the loop thread.
class BULB_API LoopBridge final : public LoopExtension {
public:
    explicit LoopBridge(EventLoop& loop);
    ~LoopBridge() override;
    /// The loop's bridge (made on first use; loop thread only).
    static LoopBridge& of(EventLoop& loop) { return loop.extension<LoopBridge>(); }

    /// The mailbox other threads post to.
    const std::shared_ptr<LoopMailbox>& mailbox() const noexcept { return mailbox_; }
    /// Keeps `fn` under a new id: fire(id) calls fn(true) once; the loop going away with the id
    /// still kept calls fn(false).
    std::uint64_t keep(UniqueFunction<void(bool)> fn);
    /// Runs and forgets entry `id`, if still kept; an exception goes to the exception handler.
    void fire(std::uint64_t id) noexcept;
    /// Forgets entry `id` without running it.
    void forget(std::uint64_t id) noexcept;

private:
    EventLoop& loop_;
    std::shared_ptr<LoopMailbox> mailbox_;
    std::uint64_t next_id_ = 1;
    std::unordered_map<std::uint64_t, UniqueFunction<void(bool)>> entries_;
};

template <class T>
Future<T> wrap_future_impl(ConcurrentFuture<T> source, EventLoop& loop, bool sole_consumer);

}  // namespace detail

/// A loop Future<T> following `source` (asyncio.wrap_future): it completes on `loop`'s thread with
/// source's result, exception or cancellation. Cancelling the returned future cancels `source`.
/// Call on the loop thread. If the loop closes first, the returned future stays pending.
template <class T>
Future<T> wrap_future(ConcurrentFuture<T> source, EventLoop& loop) {
    return detail::wrap_future_impl(std::move(source), loop, false);
}

namespace detail {

/// wrap_future(); `sole_consumer`: nobody else reads `source`, so its exception is moved out
/// (the producer thread then never drops the last reference to an exception the loop thread
/// used: libstdc++ counts it in code ThreadSanitizer cannot see, which it reports as a race).
template <class T>
Future<T> wrap_future_impl(ConcurrentFuture<T> source, EventLoop& loop, bool sole_consumer) {
    Future<T> result(loop);
    auto& bridge = detail::LoopBridge::of(loop);
    const std::uint64_t id = bridge.keep([result, source, sole_consumer](bool fire) mutable {
        if (!fire || result.done()) return;
        if (source.cancelled()) {
            result.cancel();
            return;
        }
        std::exception_ptr e = sole_consumer ? source.take_exception() : source.exception();
        if (e)
            result.set_exception(std::move(e));
        else if constexpr (std::is_void_v<T>)
            result.set_result();
        else
            result.set_result(std::move(source.result()));
    });
    result.add_done_callback([source](Future<T>& f) mutable {
        if (f.cancelled()) source.cancel();
    });
    source.add_done_callback([mailbox = bridge.mailbox(), id] { mailbox->post_fire(id); });
    return result;
}

}  // namespace detail

template <class F>
auto EventLoop::run_in_executor(Executor& executor, F fn) -> Future<std::invoke_result_t<F&>> {
    using R = std::invoke_result_t<F&>;
    ConcurrentFuture<R> done;
    // The job completes `done` whatever happens to it: run, throwing, or dropped unrun by the
    // executor (its destructor then fails the future instead of leaving it pending forever).
    struct Job {
        F fn;
        ConcurrentFuture<R> done;
        bool armed = true;
        Job(F f, ConcurrentFuture<R> d) : fn(std::move(f)), done(std::move(d)) {}
        Job(Job&& o) noexcept(std::is_nothrow_move_constructible_v<F>)
            : fn(std::move(o.fn)), done(o.done), armed(std::exchange(o.armed, false)) {}
        ~Job() {
            if (armed)
                done.try_set_exception(
                    std::make_exception_ptr(InvalidStateError("run_in_executor: the executor dropped the job")));
        }
        void operator()() {
            armed = false;
            if (done.done()) return;  // cancelled before it started (concurrent.futures does the same)
            std::exception_ptr error;
            try {
                if constexpr (std::is_void_v<R>) {
                    fn();
                    done.try_set_result();
                } else {
                    done.try_set_result(fn());
                }
            } catch (...) {
                error = std::current_exception();
            }
            // Published after the catch ended and moved: this thread holds no reference after.
            if (error) done.try_set_exception(std::move(error));
        }
    };
    // Submitted before wrapping: a submit() that throws (a shut-down executor) leaves no loop
    // future behind; a job finishing before the wrap is fine (the callback then posts at once).
    executor.submit(Job(std::move(fn), done));
    return detail::wrap_future_impl(std::move(done), *this, true);
}

}  // namespace bulb
