// SPDX-License-Identifier: MIT
/// @file
/// ConcurrentFuture<T>: a thread-safe future (concurrent.futures.Future) that a thread which is
/// not the loop's can block on: what run_coroutine_threadsafe returns and run_in_executor's user
/// executors complete. wrap_future() (asyncio.wrap_future) turns one into a loop Future<T>.
#pragma once

#include <bulb/error.hpp>
#include <bulb/function.hpp>
#include <bulb/time.hpp>

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace bulb {

/// A result that some thread sets and any thread may wait for (concurrent.futures.Future).
///
/// A counted handle (std::shared_ptr): copies share one state. Every member is thread-safe.
/// Done callbacks run on the thread that completes the future (right away, on the caller's
/// thread, when it is already done), as in concurrent.futures; they must not block.
template <class T>
class ConcurrentFuture {
    using Stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
    enum class Status { pending, finished, cancelled };
    struct State {
        std::mutex mutex;
        std::condition_variable cv;
        Status status = Status::pending;
        std::optional<Stored> value;
        std::exception_ptr error;
        std::vector<UniqueFunction<void()>> callbacks;
        UniqueFunction<void()> canceller;
    };

public:
    /// A new pending future.
    ConcurrentFuture() : s_(std::make_shared<State>()) {}

    /// True once a result, an exception or cancellation is set.
    bool done() const {
        std::lock_guard lock(s_->mutex);
        return s_->status != Status::pending;
    }
    /// True once cancelled.
    bool cancelled() const {
        std::lock_guard lock(s_->mutex);
        return s_->status == Status::cancelled;
    }
    /// Blocks until done or `timeout` passed; returns done().
    bool wait_for(Duration timeout) const {
        std::unique_lock lock(s_->mutex);
        return s_->cv.wait_for(lock, timeout, [this] { return s_->status != Status::pending; });
    }
    /// Blocks until done.
    void wait() const {
        std::unique_lock lock(s_->mutex);
        s_->cv.wait(lock, [this] { return s_->status != Status::pending; });
    }

    /// Blocks until done, then returns the result or throws the exception (CancelledError if
    /// cancelled). The value stays in the future: result() may be called again.
    std::add_lvalue_reference_t<T> result() {
        wait();
        return stored_result();
    }
    /// result() waiting at most `timeout`; throws TimeoutError when it is still pending (the
    /// work goes on: cancel() it to stop it).
    std::add_lvalue_reference_t<T> result(Duration timeout) {
        if (!wait_for(timeout)) throw TimeoutError("ConcurrentFuture::result: timed out");
        return stored_result();
    }
    /// Blocks until done; the exception (nullptr after a result). Throws CancelledError if cancelled.
    std::exception_ptr exception() {
        wait();
        std::lock_guard lock(s_->mutex);
        if (s_->status == Status::cancelled) throw CancelledError();
        return s_->error;
    }

    /// For a future with one consumer (run_in_executor's bridge): once done, moves the exception
    /// out, so the consumer's thread (not the producer's) drops the last reference to it. The
    /// future is spent afterwards: call nothing else on it.
    std::exception_ptr take_exception() {
        std::lock_guard lock(s_->mutex);
        return std::move(s_->error);
    }

    /// Cancels a pending future: runs the done callbacks, then the canceller (which asks the
    /// producer to stop). Returns false if it was already done.
    bool cancel() {
        UniqueFunction<void()> canceller;
        if (!finish(Status::cancelled, [] {}, &canceller)) return false;
        if (canceller) canceller();
        return true;
    }

    /// Completes the future with a value. Throws InvalidStateError if it is already done.
    template <class U = T>
        requires(!std::is_void_v<T> && std::is_constructible_v<T, U &&>)
    void set_result(U&& v) {
        if (!try_set_result(std::forward<U>(v))) throw InvalidStateError("ConcurrentFuture::set_result: already done");
    }
    /// Completes a ConcurrentFuture<void>. Throws InvalidStateError if it is already done.
    void set_result()
        requires std::is_void_v<T>
    {
        if (!try_set_result()) throw InvalidStateError("ConcurrentFuture::set_result: already done");
    }
    /// Completes the future with an exception. Throws InvalidStateError if it is already done.
    void set_exception(std::exception_ptr e) {
        if (!try_set_exception(std::move(e))) throw InvalidStateError("ConcurrentFuture::set_exception: already done");
    }
    /// set_result() unless done (a producer racing a cancel() uses these); returns whether it was set.
    template <class U = T>
        requires(!std::is_void_v<T> && std::is_constructible_v<T, U &&>)
    bool try_set_result(U&& v) {
        return finish(Status::finished, [&] { s_->value.emplace(std::forward<U>(v)); });
    }
    /// try_set_result() for ConcurrentFuture<void>.
    bool try_set_result()
        requires std::is_void_v<T>
    {
        return finish(Status::finished, [&] { s_->value.emplace(); });
    }
    /// Fails the future with `e` unless it is already done; false if it was. Thread-safe.
    bool try_set_exception(std::exception_ptr e) {
        if (!e) throw std::invalid_argument("ConcurrentFuture::set_exception: null exception");
        return finish(Status::finished, [&] { s_->error = std::move(e); });
    }

    /// Calls `fn()` once the future is done: on the completing thread, or at once on this thread
    /// if it already is. An exception from `fn` propagates to whoever completed the future.
    void add_done_callback(UniqueFunction<void()> fn) {
        {
            std::lock_guard lock(s_->mutex);
            if (s_->status == Status::pending) {
                s_->callbacks.push_back(std::move(fn));
                return;
            }
        }
        fn();
    }
    /// For producers: cancel() calls `fn` after marking the future cancelled (the producer then
    /// stops its work). Returns false, without keeping `fn`, when the future is already done.
    bool set_canceller(UniqueFunction<void()> fn) {
        std::lock_guard lock(s_->mutex);
        if (s_->status != Status::pending) return false;
        s_->canceller = std::move(fn);
        return true;
    }

    /// Two handles to the same future compare equal.
    friend bool operator==(const ConcurrentFuture& a, const ConcurrentFuture& b) noexcept { return a.s_ == b.s_; }

private:
    std::add_lvalue_reference_t<T> stored_result() {
        std::lock_guard lock(s_->mutex);  // done: the value no longer changes
        if (s_->status == Status::cancelled) throw CancelledError();
        if (s_->error) std::rethrow_exception(s_->error);
        if constexpr (!std::is_void_v<T>) return *s_->value;
    }
    template <class Store>
    bool finish(Status status, Store&& store, UniqueFunction<void()>* canceller = nullptr) {
        std::vector<UniqueFunction<void()>> callbacks;
        UniqueFunction<void()> dropped;  // destroyed outside the lock
        {
            std::lock_guard lock(s_->mutex);
            if (s_->status != Status::pending) return false;
            store();
            s_->status = status;
            callbacks.swap(s_->callbacks);
            if (canceller)
                *canceller = std::move(s_->canceller);
            else
                dropped = std::move(s_->canceller);
        }
        s_->cv.notify_all();
        for (auto& cb : callbacks) cb();
        return true;
    }

    std::shared_ptr<State> s_;
};

}  // namespace bulb
