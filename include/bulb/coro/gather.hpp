// SPDX-License-Identifier: MIT
/// @file
/// gather(): run tasks concurrently and collect their results (asyncio.gather, stricter).
///
/// Differences from asyncio.gather, on purpose: the first failure cancels the other children, and
/// gather() returns or throws only once every child has finished, so a child never outlives the
/// gather (it may safely use the caller's locals), and a failure during that cancellation is not
/// lost (several failures come out as one ExceptionGroup). return_exceptions:
/// <bulb/coro/gather_outcomes.hpp>.
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/runner.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/exception_group.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace bulb {
namespace detail {

/// Bookkeeping shared by gather()'s children and the awaiting task: how many children are left,
/// the first failure and any later ones, the parent's wake-up. Heap-allocated once per gather and counted (the gather
/// frame and the done callbacks of Future inputs hold references); loop thread only.
class BULB_API GatherState : public DoneHook, public Waiter, public Counted<GatherState> {
public:
    /// Born with one reference, the gather frame's (GatherOwner).
    GatherState(EventLoop& loop, std::size_t children) noexcept : loop_(&loop), remaining_(children) { add_ref(); }
    GatherState(const GatherState&) = delete;
    GatherState& operator=(const GatherState&) = delete;

    /// A child finished; `error` is its exception (CancelledError included), null on success.
    /// The first failure cancels the other children; errors other than CancelledError that come
    /// after it are kept too (for the ExceptionGroup); the last child wakes the parent.
    void child_done(const std::exception_ptr& error) noexcept;
    void task_done(TaskRunner& task, std::size_t index, const std::exception_ptr& error) noexcept override;

    // Awaited (through GatherAwait) by the gather frame: done once every child has finished.
    bool await_ready() const noexcept { return remaining_ == 0; }
    void await_suspend(std::coroutine_handle<> h);
    void await_resume();
    bool cancel_wait(const std::string& message) override;

    /// The gather frame is going away with children still running: cancel them and forget them.
    void abandon() noexcept;
    /// return_exceptions mode (<bulb/coro/gather_outcomes.hpp>): a failing child cancels
    /// nothing and no child error is rethrown; the caller reads every outcome.
    void collect_all() noexcept { collect_all_ = true; }

protected:
    friend class Counted<GatherState>;
    virtual ~GatherState();
    virtual void cancel_children(const std::string& message) noexcept = 0;
    virtual void detach_children() noexcept = 0;

private:
    EventLoop* loop_;
    std::size_t remaining_;
    bool abandoned_ = false;
    bool collect_all_ = false;
    bool cancel_requested_ = false;
    std::string cancel_message_;
    std::exception_ptr error_;                      // the first failure
    std::vector<std::exception_ptr> later_errors_;  // later failures that are not cancellations
    TaskRunner* runner_ = nullptr;  // the awaiting task, once suspended
    TaskRunner* parent_ = nullptr;  // a reference to it while it waits
};

/// Awaits a GatherState (by pointer: the state is never copied into the frame).
struct GatherAwait {
    GatherState* state;
    bool await_ready() const noexcept { return state->await_ready(); }
    void await_suspend(std::coroutine_handle<> h) { state->await_suspend(h); }
    void await_resume() { state->await_resume(); }
};

/// A counted reference to a GatherState (held by Future inputs' done callbacks).
using GatherRef = RefPtr<GatherState>;

/// The error a finished future holds: its exception, CancelledError, or null.
template <class T>
std::exception_ptr outcome_of(Future<T>& f) noexcept {
    try {
        return f.exception();
    } catch (...) {
        return std::current_exception();
    }
}

/// One child of a gather: a Task<T> (scheduled as a task, watched through a DoneHook) or a
/// Future<T> (watched through a done callback).
template <class A>
struct GatherSlot;

template <class T>
struct GatherSlot<Task<T>> {
    using value_type = T;
    TypedRunner<T>* runner = nullptr;  // one reference, held until the slot goes

    GatherSlot() = default;
    GatherSlot(const GatherSlot&) = delete;
    ~GatherSlot() {
        if (runner) runner->release_ref();
    }
    void start(EventLoop& loop, Task<T>&& task, GatherState* state, std::size_t index) {
        runner = new TypedRunner<T>(loop, std::move(task));
        runner->set_done_hook(state, index);
        runner->schedule_step();
    }
    void cancel(const std::string& message) {
        if (runner) runner->cancel(message);
    }
    void detach() noexcept {
        if (runner) runner->set_done_hook(nullptr);
    }
    Stored<T> take() {
        if constexpr (std::is_void_v<T>) {
            return {};
        } else {
            return std::move(runner->future().result());
        }
    }
};

template <class T>
struct GatherSlot<Future<T>> {
    using value_type = T;
    std::optional<Future<T>> future;

    void start(EventLoop&, Future<T>&& f, GatherState* state, std::size_t) {
        future.emplace(std::move(f));
        future->add_done_callback([ref = GatherRef(state)](Future<T>& done) { ref->child_done(outcome_of(done)); });
    }
    void cancel(const std::string& message) {
        if (future) future->cancel(message);
    }
    void detach() noexcept {}
    Stored<T> take() {
        if constexpr (std::is_void_v<T>) {
            future->result();
            return {};
        } else if constexpr (std::is_copy_constructible_v<T>) {
            return future->result();  // others may hold the same future
        } else {
            return std::move(future->result());
        }
    }
};

template <class A>
concept GatherInput = requires { typename GatherSlot<A>::value_type; };

template <class A>
using gather_value_t = Stored<typename GatherSlot<A>::value_type>;

/// gather() over a vector: one array of slots.
template <class A>
class GatherVector final : public GatherState {
public:
    GatherVector(EventLoop& loop, std::size_t n) : GatherState(loop, n), slots_(new GatherSlot<A>[n]), n_(n) {}
    GatherSlot<A>& operator[](std::size_t i) noexcept { return slots_[i]; }

private:
    void cancel_children(const std::string& message) noexcept override {
        for (std::size_t i = 0; i < n_; ++i) {
            try {
                slots_[i].cancel(message);
            } catch (...) {
            }
        }
    }
    void detach_children() noexcept override {
        for (std::size_t i = 0; i < n_; ++i) slots_[i].detach();
    }
    std::unique_ptr<GatherSlot<A>[]> slots_;
    std::size_t n_;
};

/// gather() over a parameter pack: a tuple of slots.
template <class... A>
class GatherTuple final : public GatherState {
public:
    explicit GatherTuple(EventLoop& loop) : GatherState(loop, sizeof...(A)) {}
    std::tuple<GatherSlot<A>...> slots;

private:
    void cancel_children(const std::string& message) noexcept override {
        std::apply([&](auto&... s) { (cancel_one(s, message), ...); }, slots);
    }
    void detach_children() noexcept override {
        std::apply([](auto&... s) { (s.detach(), ...); }, slots);
    }
    template <class S>
    static void cancel_one(S& slot, const std::string& message) noexcept {
        try {
            slot.cancel(message);
        } catch (...) {
        }
    }
};

/// Owns a GatherState for the gather frame; abandons the children if the frame goes early.
template <class S>
class GatherOwner {
public:
    explicit GatherOwner(S* s) noexcept : s_(s) {}
    GatherOwner(const GatherOwner&) = delete;
    GatherOwner& operator=(const GatherOwner&) = delete;
    ~GatherOwner() {
        s_->abandon();
        s_->release_ref();
    }
    S* operator->() const noexcept { return s_; }
    S& operator*() const noexcept { return *s_; }
    S* get() const noexcept { return s_; }

private:
    S* s_;
};

template <class A>
using gather_vector_t = std::conditional_t<std::is_void_v<typename GatherSlot<A>::value_type>, void,
                                           std::vector<gather_value_t<A>>>;

template <class A>
Task<gather_vector_t<A>> gather_vector(std::vector<A> inputs) {
    EventLoop& loop = TaskRunner::require_current("gather()").loop();
    const std::size_t n = inputs.size();
    GatherOwner<GatherVector<A>> state(new GatherVector<A>(loop, n));
    for (std::size_t i = 0; i < n; ++i) (*state)[i].start(loop, std::move(inputs[i]), state.get(), i);
    std::vector<A>().swap(inputs);
    co_await GatherAwait{state.get()};
    if constexpr (!std::is_void_v<gather_vector_t<A>>) {
        gather_vector_t<A> results;
        results.reserve(n);
        for (std::size_t i = 0; i < n; ++i) results.push_back((*state)[i].take());
        co_return results;
    }
}

template <class... A>
Task<std::tuple<gather_value_t<A>...>> gather_tuple(A... inputs) {
    EventLoop& loop = TaskRunner::require_current("gather()").loop();
    GatherOwner<GatherTuple<A...>> state(new GatherTuple<A...>(loop));
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (std::get<I>(state->slots).start(loop, std::move(inputs), state.get(), I), ...);
    }(std::index_sequence_for<A...>{});
    co_await GatherAwait{state.get()};
    co_return std::apply([](auto&... s) { return std::tuple<gather_value_t<A>...>{s.take()...}; }, state->slots);
}

}  // namespace detail

/// Runs every argument concurrently and returns their results as a tuple, in argument order
/// (void results as std::monostate). Each Task<T> becomes a task of its own (create_task) when
/// the returned task starts; Future<T>s are awaited as they are (a copyable result is copied out,
/// a move-only one moved). The first child to fail (an exception or a cancellation) cancels the
/// others, futures included; once all have finished, its exception is rethrown. When more than
/// one child failed with an error other than CancelledError (a child cancelled by gather that
/// fails on its way out, say), gather throws an ExceptionGroup of every such error in the order
/// they happened instead, so none is lost: test for a kind with holds_exception<E>(), which
/// sees both forms. Tasks must be passed as rvalues.
/// Cancel safety: cancelling the gather cancels every child still running, waits for all of them
/// to finish, then throws CancelledError; nothing is left running.
template <class... A>
    requires(detail::GatherInput<std::remove_cvref_t<A>> && ...)
Task<std::tuple<detail::gather_value_t<std::remove_cvref_t<A>>...>> gather(A&&... inputs) {
    return detail::gather_tuple<std::remove_cvref_t<A>...>(std::forward<A>(inputs)...);
}

/// Runs every Task<T> (or awaits every Future<T>) of `inputs` concurrently and returns their
/// results in input order; Task<void> when T is void. Same failure and cancellation rules as the
/// variadic gather(). Costs one allocation per gather beyond the children's own tasks.
/// Cancel safety: as the variadic gather().
template <class A>
    requires detail::GatherInput<A>
Task<detail::gather_vector_t<A>> gather(std::vector<A> inputs) {
    return detail::gather_vector<A>(std::move(inputs));
}

}  // namespace bulb
