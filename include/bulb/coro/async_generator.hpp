// SPDX-License-Identifier: MIT
/// @file
/// AsyncGenerator<T>: a coroutine that both awaits and yields (Python's async generators).
///
/// ```
/// bulb::AsyncGenerator<int> ticker(std::chrono::milliseconds delay, int to) {
///     for (int i = 0; i < to; ++i) {
///         co_yield i;
///         co_await bulb::sleep(delay);
///     }
/// }
/// auto gen = ticker(100ms, 5);
/// while (auto i = co_await gen.next()) use(*i);
/// ```
/// The generator runs inside the task that calls next(): next() resumes it directly, its awaits
/// suspend that task, and co_yield hands control straight back to the consumer. Lazy: nothing runs
/// before the first next().
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/error.hpp>

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace bulb {

/// A lazily started asynchronous sequence of T (T may be move-only: `co_yield std::move(v)`).
/// Move-only; destroying it destroys the generator's frame, running its RAII cleanup. Used by one
/// task at a time; loop thread only.
template <class T>
class AsyncGenerator {
public:
    struct promise_type;
    /// The coroutine handle type of this generator.
    using handle_type = std::coroutine_handle<promise_type>;

    /// The coroutine machinery: holds the value being handed over and any escaping exception.
    struct promise_type {
        std::optional<T> value;
        std::exception_ptr exception;
        std::coroutine_handle<> consumer;  // the frame awaiting next()
        bool running = false;
        bool resumed_inline = false;  // running inside next()'s resume() call
        bool handed_off = false;      // reached co_yield or the end inside that call

        // Suspends the generator and resumes the consumer (co_yield and the end): by returning
        // from next()'s resume() call, or by symmetric transfer when the loop woke the generator
        // (see TaskPromiseBase: a loop over synchronous yields must not grow the stack).
        struct Handoff {
            bool await_ready() const noexcept { return false; }
            std::coroutine_handle<> await_suspend(handle_type h) const noexcept {
                promise_type& p = h.promise();
                p.running = false;
                std::coroutine_handle<> consumer = std::exchange(p.consumer, {});
                if (p.resumed_inline) {
                    p.handed_off = true;
                    return std::noop_coroutine();
                }
                return consumer ? consumer : std::noop_coroutine();
            }
            void await_resume() const noexcept {}
        };

        AsyncGenerator get_return_object() noexcept { return AsyncGenerator(handle_type::from_promise(*this)); }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        Handoff final_suspend() const noexcept { return {}; }
        template <class U = T>
            requires std::is_constructible_v<T, U&&>
        Handoff yield_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
            value.emplace(std::forward<U>(v));
            return {};
        }
        void return_void() const noexcept {}
        void unhandled_exception() noexcept { exception = std::current_exception(); }
    };

    /// What next() returns: awaiting it gives the next value, or std::nullopt at the end.
    class BULB_AWAITABLE NextAwaiter {
    public:
        explicit NextAwaiter(handle_type h) noexcept : h_(h) {}
        bool await_ready() const noexcept { return !h_ || h_.done(); }
        bool await_suspend(std::coroutine_handle<> consumer) {
            promise_type& p = h_.promise();
            if (p.running) throw InvalidStateError("AsyncGenerator::next(): the generator is already running");
            p.running = true;
            p.consumer = consumer;
            p.value.reset();
            p.resumed_inline = true;
            p.handed_off = false;
            h_.resume();
            p.resumed_inline = false;
            return !p.handed_off;  // it yielded (or ended) at once: no suspension
        }
        std::optional<T> await_resume() {
            if (!h_) return std::nullopt;
            promise_type& p = h_.promise();
            if (p.exception) std::rethrow_exception(std::exchange(p.exception, nullptr));
            if (h_.done()) return std::nullopt;
            std::optional<T> v(std::move(p.value));
            p.value.reset();
            return v;
        }

    private:
        handle_type h_;
    };

    /// Moves leave the source empty (a generator has one consumer).
    AsyncGenerator(AsyncGenerator&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    /// Move assignment: destroys this generator's frame first.
    AsyncGenerator& operator=(AsyncGenerator&& o) noexcept {
        if (this != &o) {
            if (h_) h_.destroy();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    /// Destroys the generator's frame: destructors of its live locals run (code after the
    /// co_yield and catch blocks do not).
    ~AsyncGenerator() {
        if (h_) h_.destroy();
    }

    /// Resumes the generator until its next co_yield (returns the value) or its end (returns
    /// std::nullopt); an exception escaping the generator is thrown here, once. Throws
    /// InvalidStateError if another next() on this generator is in progress.
    /// Cancel safety: cancelling the consuming task while the generator awaits throws
    /// CancelledError inside the generator at that await; unless it catches it, the generator
    /// ends (its cleanup runs) and next() rethrows it. Nothing is lost between values: a value
    /// is handed over only when next() returns it.
    NextAwaiter next() noexcept { return NextAwaiter(h_); }

    /// True once the generator has finished (returned or thrown).
    bool done() const noexcept { return !h_ || h_.done(); }

private:
    explicit AsyncGenerator(handle_type h) noexcept : h_(h) {}
    handle_type h_;
};

}  // namespace bulb
