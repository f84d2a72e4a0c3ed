// SPDX-License-Identifier: MIT
/// @file
/// Held<P>: a lock or semaphore permit released on every exit path — the C++ form of asyncio's
/// `async with lock:` — and ScopedAcquire<P>, the awaitable that produces it:
///
/// ```
/// {
///     auto held = co_await lock.scoped();   // Lock, Semaphore, BoundedSemaphore, Condition
///     ...                                   // return, exception or cancellation: released
/// }
/// ```
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/loop.hpp>

#include <coroutine>
#include <exception>
#include <utility>

namespace bulb {

/// Owns one acquisition of `P` (anything with release(): Lock, Semaphore, BoundedSemaphore) and
/// releases it when destroyed. Move-only; loop thread only. An error from release() in the
/// destructor (the primitive was released by hand meanwhile) goes to the running loop's exception
/// handler.
template <class P>
class [[nodiscard]] Held {
public:
    /// Holds nothing.
    Held() noexcept = default;
    /// Takes over an acquisition of `primitive` the caller already made.
    explicit Held(P& primitive) noexcept : p_(&primitive) {}
    /// Takes over `other`'s acquisition.
    Held(Held&& other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
    /// Releases what this one holds, then takes over `other`'s acquisition.
    Held& operator=(Held&& other) noexcept {
        if (this != &other) {
            reset();
            p_ = std::exchange(other.p_, nullptr);
        }
        return *this;
    }
    /// Releases the acquisition, if any.
    ~Held() { reset(); }

    /// True while an acquisition is held.
    bool owns() const noexcept { return p_ != nullptr; }
    /// owns().
    explicit operator bool() const noexcept { return owns(); }
    /// The primitive held, or nullptr.
    P* get() const noexcept { return p_; }

    /// Releases now (before the end of the scope); errors from P::release() propagate.
    void release() {
        if (P* p = std::exchange(p_, nullptr)) p->release();
    }

private:
    void reset() noexcept {
        P* p = std::exchange(p_, nullptr);
        if (!p) return;
        try {
            p->release();
        } catch (...) {
            if (EventLoop* loop = EventLoop::current())
                loop->call_exception_handler({"Held: releasing at the end of the scope failed", std::current_exception()});
        }
    }

    P* p_ = nullptr;
};

/// Awaits P::acquire() and returns the acquisition as a Held<P> (`co_await lock.scoped()`).
/// Cancel safety: as P::acquire(); when it throws, nothing is held.
template <class P>
class [[nodiscard]] ScopedAcquire {
public:
    /// Acquires `primitive` when awaited.
    explicit ScopedAcquire(P& primitive) noexcept : p_(&primitive), inner_(primitive.acquire()) {}

    bool await_ready() noexcept { return inner_.await_ready(); }
    auto await_suspend(std::coroutine_handle<> h) { return inner_.await_suspend(h); }
    Held<P> await_resume() {
        inner_.await_resume();
        return Held<P>(*p_);
    }

private:
    P* p_;
    typename P::AcquireAwaiter inner_;
};

}  // namespace bulb
