// SPDX-License-Identifier: MIT
/// @file
/// LoopGroup: one EventLoop per thread (a loop per core), started and stopped together, and
/// cross-loop messaging between them (post, call_on, run_on).
///
/// Shared-nothing: every transport, future and server stays on the loop that made it; loops talk
/// only through messages. Messages a loop sends to another during one iteration go as one batch
/// (one lock, at most one wake-up of the target), in FIFO order per (sender, target) pair.
#pragma once

#include <bulb/config.hpp>
#include <bulb/future.hpp>
#include <bulb/loop.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace bulb {

/// Settings of a LoopGroup (an aggregate: designated initializers).
struct LoopGroupOptions {
    /// Number of loops (threads); 0: the CPUs this process may run on (LoopGroup::usable_cpus()).
    std::size_t loops = 0;
    /// Pin loop i's thread to the i-th usable CPU (modulo their number).
    bool pin_threads = false;
    /// Options of every loop.
    LoopOptions loop{};
};

/// The group's exception handler: told which loop (its index) reported what.
using GroupExceptionHandler = UniqueFunction<void(std::size_t index, EventLoop& loop, const ExceptionContext& context)>;

// GCC 12 reports a moved std::optional<std::vector<...>> of Outcome as maybe-uninitialized
// (a false positive of its flow analysis, at -O2 only).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
namespace detail {
/// Future<T> -> T, anything else -> itself: what call_on / run_on give back.
template <class T>
struct UnwrapFuture {
    using type = T;
    static constexpr bool is_future = false;
};
template <class T>
struct UnwrapFuture<Future<T>> {
    using type = T;
    static constexpr bool is_future = true;
};
/// A value or an exception carried between threads (moved, never shared).
template <class T>
struct Outcome {
    std::optional<Stored<T>> value;
    std::exception_ptr error;
    void deliver(Future<T>& f) {
        if (f.done()) return;  // cancelled meanwhile: the result is dropped
        if (error)
            f.set_exception(std::move(error));
        else if constexpr (std::is_void_v<T>)
            f.set_result();
        else
            f.set_result(std::move(*value));
    }
};
/// Runs `fn` (returning T or Future<T>) on the current loop and hands the Outcome to `done`.
template <class F, class Done>
void run_for_outcome(F& fn, Done done) {
    using R = std::invoke_result_t<F&>;
    using T = typename UnwrapFuture<R>::type;
    Outcome<T> out;
    try {
        if constexpr (UnwrapFuture<R>::is_future) {
            R inner = fn();
            inner.add_done_callback([done = std::move(done)](R& f) mutable {
                Outcome<T> o;
                try {
                    if constexpr (std::is_void_v<T>) {
                        f.result();
                        o.value.emplace();
                    } else {
                        o.value.emplace(std::move(f.result()));
                    }
                } catch (...) {
                    o.error = std::current_exception();
                }
                done(std::move(o));
            });
            return;
        } else if constexpr (std::is_void_v<T>) {
            fn();
            out.value.emplace();
        } else {
            out.value.emplace(fn());
        }
    } catch (...) {
        out.error = std::current_exception();
    }
    done(std::move(out));
}
}  // namespace detail
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// N threads, each running its own EventLoop; made, started, stopped and closed together.
///
/// Made and closed on a thread outside the group (main). Before start() every loop may be set
/// up from the making thread; afterwards, loop(i) is for loop i's own thread only, and other
/// threads reach it with post / call_on / run_on. An exception in a loop's callback goes to the
/// group's handler with that loop's index; the loop, and the others, keep serving.
class BULB_API LoopGroup {
public:
    /// Index meaning "no loop of this group".
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    LoopGroup();
    /// A group shaped by `options` (loop count, pinning); loops start with start() or run().
    explicit LoopGroup(const LoopGroupOptions& options);
    /// close()s the group (stops, joins, closes every loop).
    ~LoopGroup();
    LoopGroup(const LoopGroup&) = delete;
    LoopGroup& operator=(const LoopGroup&) = delete;

    /// CPUs this process may run on (sched_getaffinity); at least 1. Thread-safe.
    static std::size_t usable_cpus() noexcept;

    /// Number of loops. Thread-safe.
    std::size_t size() const noexcept { return loops_.size(); }
    /// Loop `index` (throws std::out_of_range). Use it on that loop's thread once started.
    EventLoop& loop(std::size_t index);
    /// The index of the group loop running on the calling thread, or npos. Thread-safe.
    std::size_t current_index() const noexcept;

    /// Replaces the group's exception handler (empty: print "loop I: ..." through the loop's
    /// default handler). Before start() only (InvalidStateError otherwise).
    void set_exception_handler(GroupExceptionHandler handler);
    /// Handles `signum` once for the whole group: `fn` runs on loop 0's thread. Before start()
    /// from the making thread, or on loop 0's thread. Loops 1..N-1 (for signals added before
    /// start) and a thread blocked in join / run_on block `signum`, so the kernel hands it to loop 0.
    void add_signal_handler(int signum, UniqueFunction<void()> fn);

    /// Starts one thread per loop, each in run_forever(). Throws InvalidStateError when already
    /// running or closed. Making thread only.
    void start();
    /// Asks every loop to stop after its current iteration. Thread-safe, idempotent.
    void stop() noexcept;
    /// Waits until every loop thread has returned (after stop()). Not from a group thread.
    void join();
    /// start(), then join(): blocks until stop() (from a signal handler or a message, say).
    void run();
    /// True between start() and join().
    bool is_running() const noexcept { return started_.load(std::memory_order_acquire); }
    /// stop(), join(), then closes every loop on the calling thread (what is still open gets its
    /// connection_lost there). Messages not yet run are dropped: post()'s silently, call_on's and
    /// run_on's fail their caller with bulb::Error(errc::loop_closed) naming the loop (a call_on
    /// future on a group loop is completed here, though that loop runs no more callbacks).
    /// Idempotent; not from a group thread.
    void close();

    // --- cross-loop messaging --------------------------------------------------------------
    /// Runs `fn` on loop `index`. Thread-safe. From a group loop the message is batched with the
    /// others that loop sends this iteration; otherwise it goes straight to call_soon_threadsafe.
    /// Throws InvalidStateError if loop `index` is closed (for a batched message: reported to the
    /// sender's exception handler when the batch is sent). An exception from `fn` goes to the
    /// target's handler.
    void post(std::size_t index, UniqueFunction<void()> fn);

    /// Runs `fn` on loop `index` and returns a future on the calling thread's running loop with
    /// its result (or exception). `fn` may return a Future<T> of the target loop (a task from
    /// create_task, say): the result is then that future's. Cancelling the returned future drops
    /// the result, never stops `fn`. If loop `index` closes (LoopGroup::close) before `fn` ran, or
    /// the future `fn` returned is dropped unfinished (its loop closed), the returned future fails
    /// with bulb::Error(errc::loop_closed) naming the loop. Loop thread (any running loop) only.
    template <class F>
    BULB_RESULT auto call_on(std::size_t index, F fn) -> Future<typename detail::UnwrapFuture<std::invoke_result_t<F&>>::type> {
        using T = typename detail::UnwrapFuture<std::invoke_result_t<F&>>::type;
        loop(index);  // a wrong index is misuse: it throws before anything is sent
        EventLoop& home = get_running_loop();
        Future<T> result(home);
        // The future's count is touched only on `home`: the copy is made here and then only moved.
        CallReply<T> reply(*this, result, &home, current_index(), index);
        try {
            post(index, [fn = std::move(fn), reply = std::move(reply)]() mutable {
                reply.started = true;
                detail::run_for_outcome(fn, [reply = std::move(reply)](detail::Outcome<T> out) mutable {
                    reply.send(std::move(out));
                });
            });
        } catch (const InvalidStateError&) {
            // Loop `index` is closed: the message was dropped, and its reply failed `result`.
        }
        return result;
    }

    /// Runs `fn` on loop `index` and waits for its result (or rethrows its exception); a Future
    /// `fn` returns is waited for too. Before start() it runs right here, running loop `index`
    /// until the future completes. If the group closes before `fn` ran (or the future `fn`
    /// returned is dropped unfinished), throws bulb::Error(errc::loop_closed) naming the loop. Never from a group thread
    /// (InvalidStateError: a loop waiting for another could deadlock).
    template <class F>
    auto run_on(std::size_t index, F fn) -> typename detail::UnwrapFuture<std::invoke_result_t<F&>>::type {
        using T = typename detail::UnwrapFuture<std::invoke_result_t<F&>>::type;
        check_blocking_allowed("run_on");
        if (!is_running()) {
            EventLoop& l = loop(index);
            if constexpr (detail::UnwrapFuture<std::invoke_result_t<F&>>::is_future)
                return l.run_until_complete(fn());
            else
                return fn();
        }
        loop(index);
        auto promise = std::make_shared<std::promise<detail::Outcome<T>>>();
        auto result = promise->get_future();
        RunReply<T> reply{promise, index};
        try {
            post(index, [fn = std::move(fn), reply = std::move(reply)]() mutable {
                reply.started = true;
                detail::run_for_outcome(fn, [reply = std::move(reply)](detail::Outcome<T> out) mutable {
                    reply.send(std::move(out));
                });
            });
        } catch (const InvalidStateError&) {
            // Loop `index` is closed: the dropped message's reply set the error.
        }
        detail::Outcome<T> out;
        {
            SignalsToLoop0 steer(*this);  // a group signal arriving now is not left to this blocked thread
            out = result.get();
        }
        if (out.error) std::rethrow_exception(out.error);
        if constexpr (!std::is_void_v<T>) return std::move(*out.value);
    }

    /// Messages sent so far in batches, and the batches (wake-ups at most) they took. Thread-safe.
    std::uint64_t messages_batched() const noexcept;
    /// The batches those messages took (each at most one wake-up). Thread-safe.
    std::uint64_t batches_sent() const noexcept;

private:
    struct Member;

    /// The way back of one call_on: send() takes the outcome home once. Destroyed unsent (a
    /// closing loop dropped the message, or the future `fn` returned), it fails the future with
    /// errc::loop_closed instead, so no caller waits forever. Moved, never copied.
    template <class T>
    class CallReply {
    public:
        CallReply(LoopGroup& group, Future<T> fut, EventLoop* home, std::size_t home_index, std::size_t target)
            : group_(&group), fut_(std::move(fut)), home_(home), home_index_(home_index), target_(target) {}
        CallReply(CallReply&& o) noexcept
            : started(o.started), group_(o.group_), fut_(std::exchange(o.fut_, std::nullopt)), home_(o.home_),
              home_index_(o.home_index_), target_(o.target_) {}
        CallReply& operator=(CallReply&&) = delete;
        ~CallReply() {
            if (!fut_) return;
            try {
                group_->fail_undelivered(target_, started, home_, home_index_,
                                         [fut = std::move(*fut_)](std::exception_ptr e) mutable {
                                             if (!fut.done()) fut.set_exception(std::move(e));
                                         });
            } catch (...) {  // no memory for the failure: nothing better to do in a destructor
            }
        }
        void send(detail::Outcome<T> out) {
            Future<T> fut = std::move(*fut_);
            fut_.reset();
            group_->reply(home_, home_index_, [fut = std::move(fut), out = std::move(out)]() mutable { out.deliver(fut); });
        }
        bool started = false;  // `fn` ran (set on the target loop)

    private:
        LoopGroup* group_;
        std::optional<Future<T>> fut_;
        EventLoop* home_;
        std::size_t home_index_;
        std::size_t target_;
    };

    /// run_on's way back: a promise set once, with the outcome or (destroyed unsent) with
    /// errc::loop_closed. The promise is thread-safe, so no loop is involved.
    template <class T>
    struct RunReply {
        std::shared_ptr<std::promise<detail::Outcome<T>>> promise;
        std::size_t target;
        bool started = false;
        RunReply(std::shared_ptr<std::promise<detail::Outcome<T>>> p, std::size_t t) : promise(std::move(p)), target(t) {}
        RunReply(RunReply&& o) noexcept
            : promise(std::move(o.promise)), target(o.target), started(o.started) {}
        RunReply& operator=(RunReply&&) = delete;
        ~RunReply() {
            if (!promise) return;
            try {
                detail::Outcome<T> out;
                out.error = undelivered_error("run_on", target, started);
                promise->set_value(std::move(out));
            } catch (...) {
            }
        }
        void send(detail::Outcome<T> out) { std::exchange(promise, nullptr)->set_value(std::move(out)); }
    };

    /// bulb::Error(errc::loop_closed) saying that loop `target` closed before `what`'s function
    /// ran (`started` false), or that the future it returned was dropped unfinished.
    static std::exception_ptr undelivered_error(const char* what, std::size_t target, bool started) noexcept;
    /// Fails a call_on whose reply was dropped: straight on this thread when close() runs here
    /// (every loop thread is joined, so it owns the home loop), else sent home like a reply.
    void fail_undelivered(std::size_t target, bool started, EventLoop* home, std::size_t home_index,
                          UniqueFunction<void(std::exception_ptr)> fail) noexcept;
    void reply(EventLoop* home, std::size_t home_index, UniqueFunction<void()> fn);
    void flush(std::size_t source) noexcept;
    void thread_main(std::size_t index) noexcept;
    void check_blocking_allowed(const char* what) const;

    /// While alive, the calling thread blocks the signals handled by add_signal_handler (those it
    /// did not block already), so a process-directed one goes to a loop thread instead of a
    /// thread asleep in a wait (under ThreadSanitizer a handler deferred there never ran).
    class BULB_API SignalsToLoop0 {
    public:
        explicit SignalsToLoop0(const LoopGroup& group) noexcept;
        ~SignalsToLoop0();
        SignalsToLoop0(const SignalsToLoop0&) = delete;
        SignalsToLoop0& operator=(const SignalsToLoop0&) = delete;

    private:
        std::uint64_t blocked_;  // bit s-1: signal s, blocked here by this guard
    };

    std::shared_ptr<GroupExceptionHandler> handler_;  // before the loops: their handlers use it
    std::vector<std::unique_ptr<EventLoop>> loops_;
    std::vector<std::unique_ptr<Member>> members_;
    std::vector<std::thread> threads_;
    std::atomic<bool> started_{false};
    std::atomic<std::uint64_t> group_signals_{0};  // bit s-1: add_signal_handler(s) was called
    bool closed_ = false;
    bool pin_threads_ = false;
    std::atomic<std::thread::id> closer_{};  // the thread in close() once the loops are joined
};

}  // namespace bulb
