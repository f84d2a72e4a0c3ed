// SPDX-License-Identifier: MIT
/// @file
/// gather(return_exceptions, ...): run tasks concurrently and collect every result *and* every
/// error side by side (asyncio.gather(..., return_exceptions=True)).
///
/// C++ adaptation: the flag is a tag argument, because it changes the result type: each entry is
/// an Outcome<T> (a value or an exception) instead of a T. A failing child does not cancel the
/// others; all of them run to their end.
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/gather.hpp>
#include <bulb/coro/outcome.hpp>

namespace bulb {

/// The tag selecting gather()'s return_exceptions mode.
struct ReturnExceptions {
    explicit ReturnExceptions() = default;
};
/// Pass as gather's first argument: `co_await gather(return_exceptions, a(), b())`.
inline constexpr ReturnExceptions return_exceptions{};

namespace detail {

/// A finished gather slot's outcome: its value, or the exception it ended with.
template <class T>
Outcome<T> slot_outcome(GatherSlot<Task<T>>& slot) {
    Future<T>& f = slot.runner->future();
    try {
        if constexpr (std::is_void_v<T>) {
            f.result();
            return Outcome<T>(std::monostate{});
        } else {
            return Outcome<T>(std::move(f.result()));
        }
    } catch (...) {
        return Outcome<T>(std::current_exception());
    }
}
template <class T>
Outcome<T> slot_outcome(GatherSlot<Future<T>>& slot) {
    try {
        return Outcome<T>(slot.take());
    } catch (...) {
        return Outcome<T>(std::current_exception());
    }
}

template <class A>
using outcome_of_t = Outcome<typename GatherSlot<A>::value_type>;

template <class A>
Task<std::vector<outcome_of_t<A>>> gather_outcomes_vector(std::vector<A> inputs) {
    EventLoop& loop = TaskRunner::require_current("gather()").loop();
    const std::size_t n = inputs.size();
    GatherOwner<GatherVector<A>> state(new GatherVector<A>(loop, n));
    state->collect_all();
    for (std::size_t i = 0; i < n; ++i) (*state)[i].start(loop, std::move(inputs[i]), state.get(), i);
    std::vector<A>().swap(inputs);
    co_await GatherAwait{state.get()};
    std::vector<outcome_of_t<A>> results;
    results.reserve(n);
    for (std::size_t i = 0; i < n; ++i) results.push_back(slot_outcome((*state)[i]));
    co_return results;
}

template <class... A>
Task<std::tuple<outcome_of_t<A>...>> gather_outcomes_tuple(A... inputs) {
    EventLoop& loop = TaskRunner::require_current("gather()").loop();
    GatherOwner<GatherTuple<A...>> state(new GatherTuple<A...>(loop));
    state->collect_all();
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (std::get<I>(state->slots).start(loop, std::move(inputs), state.get(), I), ...);
    }(std::index_sequence_for<A...>{});
    co_await GatherAwait{state.get()};
    co_return std::apply([](auto&... s) { return std::tuple<outcome_of_t<A>...>{slot_outcome(s)...}; }, state->slots);
}

}  // namespace detail

/// Runs every argument concurrently (as the variadic gather()) and returns a tuple of
/// Outcome<T>s in argument order: each child's value or exception. A failure cancels nothing;
/// a child's own CancelledError is its outcome.
/// Cancel safety: cancelling the gather cancels every child still running, waits for all of
/// them, then throws CancelledError (asyncio does the same in this mode).
template <class... A>
    requires(detail::GatherInput<std::remove_cvref_t<A>> && ...)
Task<std::tuple<detail::outcome_of_t<std::remove_cvref_t<A>>...>> gather(ReturnExceptions, A&&... inputs) {
    return detail::gather_outcomes_tuple<std::remove_cvref_t<A>...>(std::forward<A>(inputs)...);
}

/// Runs every element of `inputs` concurrently and returns their Outcome<T>s in input order.
/// Same rules as the variadic form.
template <class A>
    requires detail::GatherInput<A>
Task<std::vector<detail::outcome_of_t<A>>> gather(ReturnExceptions, std::vector<A> inputs) {
    return detail::gather_outcomes_vector<A>(std::move(inputs));
}

}  // namespace bulb
