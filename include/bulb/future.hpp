// SPDX-License-Identifier: MIT
/// @file
/// Future<T>: a callback-layer future (asyncio.Future), with no coroutine machinery.
///
/// Done callbacks are always scheduled with call_soon, never run inline (invariant 4), so code
/// awaiting a future never re-enters the code that completed it.
#pragma once

#include <bulb/loop.hpp>
#include <bulb/detail/pool.hpp>
#include <bulb/ref.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>
#include <utility>
#include <vector>

namespace bulb {

template <class T>
class Future;

namespace detail {

/// What a Future<T> stores: T, or std::monostate for void.
template <class T>
using Stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// Reports an exception nobody retrieved from a future that is being destroyed, if its loop lives.
BULB_API void report_unretrieved(EventLoop* loop, const std::exception_ptr& e) noexcept;

/// A done callback taking no argument, as add_done_callback stores it (a named type, so
/// remove_done_callback can find the callable inside).
template <class F, class Fut>
struct NoArgDoneCallback {
    F fn;
    void operator()(Fut&) { fn(); }
};

template <class T>
/// The shared state of a Future<T> (Counted: each Future handle holds a reference). From the
/// per-thread pools (Pooled): one per task, per executor call, ...
struct FutureState : Pooled, Counted<FutureState<T>> {
    enum class Status : std::uint8_t { pending, finished, cancelled };

    explicit FutureState(EventLoop& l) : loop(&l) {}
    FutureState(const FutureState&) = delete;
    FutureState& operator=(const FutureState&) = delete;
    ~FutureState() {
        if (exception && !retrieved) report_unretrieved(loop, exception);
    }

    Status status = Status::pending;  // first: status and retrieved share the count's word
    bool retrieved = false;
    EventLoop* loop;
    std::optional<Stored<T>> value;
    std::exception_ptr exception;
    std::string cancel_message;
    bool callbacks_scheduled = false;
    std::vector<UniqueFunction<void(Future<T>&)>> callbacks;
    UniqueFunction<bool(std::string)> canceller;
};

}  // namespace detail

/// The result of an operation that completes later (asyncio.Future).
///
/// A Future is a counted handle: copies share one state. It belongs to one loop; loop thread
/// only. Created by the user (`Future<int> f(loop)`) or returned by the library.
template <class T>
class Future {
    using State = detail::FutureState<T>;
    using Status = typename State::Status;

public:
    /// A new pending future on `loop`.
    explicit Future(EventLoop& loop) : s_(new State(loop)) {}
    /// A new pending future on the running loop (throws InvalidStateError when none runs).
    Future() : Future(get_running_loop()) {}
    /// Copies and moves are handles to the same future.
    Future(const Future& o) noexcept = default;
    /// A move leaves the source without a future.
    Future(Future&& o) noexcept = default;
    /// Assignment makes this a handle to the other future.
    Future& operator=(Future o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    ~Future() = default;

    /// The loop this future belongs to.
    EventLoop& get_loop() const noexcept { return *s_->loop; }
    /// True once a result, an exception or cancellation is set.
    bool done() const noexcept { return s_->status != Status::pending; }
    /// True once cancelled.
    bool cancelled() const noexcept { return s_->status == Status::cancelled; }

    /// The result. Throws the stored exception, CancelledError, or InvalidStateError if pending.
    std::add_lvalue_reference_t<T> result() {
        check_result();
        if constexpr (!std::is_void_v<T>) return *s_->value;
    }

    /// The stored exception (nullptr after a result). Throws CancelledError if cancelled,
    /// InvalidStateError if pending.
    std::exception_ptr exception() const {
        if (s_->status == Status::cancelled) throw CancelledError(s_->cancel_message);
        if (s_->status == Status::pending) throw InvalidStateError("Exception is not set.");
        s_->retrieved = true;
        return s_->exception;
    }

    /// Completes the future with a value. Throws InvalidStateError if already done.
    template <class U = T>
        requires(!std::is_void_v<T> && std::is_constructible_v<T, U &&>)
    void set_result(U&& value) {
        check_pending("set_result");
        s_->value.emplace(std::forward<U>(value));
        finish(Status::finished);
    }
    /// Completes a Future<void>. Throws InvalidStateError if already done.
    void set_result()
        requires std::is_void_v<T>
    {
        check_pending("set_result");
        s_->value.emplace();
        finish(Status::finished);
    }
    /// Completes the future with an exception. Throws InvalidStateError if already done,
    /// std::invalid_argument for a null pointer.
    void set_exception(std::exception_ptr e) {
        if (!e) throw std::invalid_argument("set_exception: null exception");
        check_pending("set_exception");
        s_->exception = std::move(e);
        finish(Status::finished);
    }
    /// Completes the future with bulb::Error(ec).
    void set_error(std::error_code ec, const std::string& what = {}) {
        set_exception(std::make_exception_ptr(Error(ec, what)));
    }

    /// Cancels the future; returns false if it was already done. With a canceller installed
    /// (set_canceller), the request goes to it instead, and the producer finishes the future.
    bool cancel(std::string message = {}) {
        if (done()) return false;
        if (s_->canceller) return s_->canceller(std::move(message));
        s_->cancel_message = std::move(message);
        finish(Status::cancelled);
        return true;
    }

    /// For producers that wrap cancellable work (tasks): cancel(msg) calls `fn(msg)` (which returns
    /// whether the request was taken) instead of cancelling at once. Set an empty function before
    /// finishing the future through cancel(); finishing the future clears it.
    void set_canceller(UniqueFunction<bool(std::string)> fn) { s_->canceller = std::move(fn); }

    /// Schedules `fn` (callable as fn() or fn(Future&)) with call_soon once the future is done,
    /// right away if it already is. Callbacks run in the order they were added; one that throws
    /// goes to the exception handler and the others still run.
    template <class F>
    void add_done_callback(F fn) {
        if constexpr (std::is_invocable_v<F&, Future&>)
            s_->callbacks.emplace_back(std::move(fn));
        else
            s_->callbacks.emplace_back(detail::NoArgDoneCallback<F, Future>{std::move(fn)});
        if (done()) schedule_callbacks();
    }

    /// Removes every pending done callback equal to `fn` and returns how many it removed
    /// (asyncio.Future.remove_done_callback). C++ adaptation: asyncio compares callbacks with ==,
    /// so `fn` must be equality-comparable (a function pointer, or a function object with
    /// operator==; a lambda is not: wrap it in a struct that compares an id). Only callbacks added
    /// with this exact type are candidates. Once the future is done its callbacks are scheduled
    /// and none can be removed (returns 0, as asyncio).
    template <class F>
        requires std::equality_comparable<F>
    std::size_t remove_done_callback(F fn) {
        if (done()) return 0;
        auto& cbs = s_->callbacks;
        const auto old_size = cbs.size();
        std::size_t kept = 0;
        for (std::size_t i = 0; i < cbs.size(); ++i) {
            if (!matches(cbs[i], fn)) {
                if (kept != i) cbs[kept] = std::move(cbs[i]);
                ++kept;
            }
        }
        cbs.erase(cbs.begin() + static_cast<std::ptrdiff_t>(kept), cbs.end());
        return old_size - kept;
    }

    /// Two handles to the same future compare equal.
    friend bool operator==(const Future& a, const Future& b) noexcept { return a.s_ == b.s_; }

private:
    template <class F>
    static bool matches(UniqueFunction<void(Future&)>& cb, const F& fn) {
        if constexpr (std::is_invocable_v<F&, Future&>) {
            if (F* stored = cb.template target<F>()) return *stored == fn;
        } else {
            if (auto* stored = cb.template target<detail::NoArgDoneCallback<F, Future>>())
                return stored->fn == fn;
        }
        return false;
    }

    void check_pending(const char* what) const {
        if (done()) throw InvalidStateError(std::string(what) + ": future is already done");
    }
    void check_result() const {
        if (s_->status == Status::cancelled) throw CancelledError(s_->cancel_message);
        if (s_->status == Status::pending) throw InvalidStateError("Result is not set.");
        s_->retrieved = true;
        if (s_->exception) std::rethrow_exception(s_->exception);
    }
    void finish(Status status) {
        BULB_ASSERT(s_->status == Status::pending && "a future finishes once");
        s_->status = status;
        s_->canceller.reset();
        if (!s_->callbacks.empty()) schedule_callbacks();
    }
    // One loop callback runs every done callback: the state holds no reference to itself.
    void schedule_callbacks() {
        if (s_->callbacks_scheduled) return;
        s_->callbacks_scheduled = true;
        s_->loop->call_soon([self = *this]() mutable { self.run_callbacks(); });
    }
    void run_callbacks() {
        s_->callbacks_scheduled = false;
        auto callbacks = std::move(s_->callbacks);
        s_->callbacks.clear();
        for (auto& cb : callbacks) {
            try {
                cb(*this);
            } catch (...) {
                s_->loop->call_exception_handler({"Exception in future done callback", std::current_exception()});
            }
        }
    }

    RefPtr<State> s_;
};

template <class T>
T EventLoop::run_until_complete(Future<T> future) {
    if (!future.done()) {
        // Checked before the callback is added: a call that throws leaves no stop() behind.
        if (is_closed()) throw InvalidStateError("run_until_complete: Event loop is closed");
        if (is_running() || current())
            throw InvalidStateError("run_until_complete: an event loop is already running in this thread");
        future.add_done_callback([this] { stop(); });
        run_forever();
        if (!future.done()) throw InvalidStateError("Event loop stopped before Future completed.");
    }
    if constexpr (std::is_void_v<T>)
        future.result();
    else
        return std::move(future.result());
}

template <class F>
auto EventLoop::run_in_executor(F fn) -> Future<std::invoke_result_t<F&>> {
    using R = std::invoke_result_t<F&>;
    if (Executor* user = default_executor()) return run_in_executor(*user, std::move(fn));
    Future<R> result(*this);
    // The job owns one reference, moved (never counted) across threads: the worker moves it into
    // the loop-thread callback, so the count is only touched on the loop thread.
    submit_to_executor([this, fn = std::move(fn), fut = result]() mutable {
        std::optional<detail::Stored<R>> value;
        std::exception_ptr error;
        try {
            if constexpr (std::is_void_v<R>) {
                fn();
                value.emplace();
            } else {
                value.emplace(fn());
            }
        } catch (...) {
            error = std::current_exception();
        }
        call_soon_threadsafe(
            [fut = std::move(fut), value = std::move(value), error = std::move(error)]() mutable {
                if (fut.done()) return;  // cancelled meanwhile: the result is dropped
                if (error)
                    fut.set_exception(std::move(error));
                else if constexpr (std::is_void_v<R>)
                    fut.set_result();
                else
                    fut.set_result(std::move(*value));
            });
    });
    return result;
}

}  // namespace bulb
