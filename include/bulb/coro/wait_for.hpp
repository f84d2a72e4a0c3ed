// SPDX-License-Identifier: MIT
/// @file
/// wait_for(): await something with a time limit (asyncio.wait_for, 3.12 semantics).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/timeout.hpp>

#include <chrono>

namespace bulb {
namespace detail {

template <class A>
Task<await_result_t<A>> wait_for_impl(A work, Duration limit) {
    Timeout scope(TaskRunner::require_current("wait_for()").loop().time() + limit);
    co_return co_await scope.run(std::move(work));
}

}  // namespace detail

/// Awaits `work` (a Task, a Future or any awaitable) and returns its result; after `limit`
/// (measured from when the returned task starts) the work is cancelled and TimeoutError thrown.
/// A Task runs inline in the awaiting task, as asyncio 3.12 does it.
/// Cancel safety: on timeout or outer cancellation, wait_for returns only after the work has
/// finished reacting to its cancellation (a Future is cancelled and awaited until done); an
/// outer cancel() stays CancelledError, never TimeoutError.
template <Awaitable A, class Rep, class Period>
Task<await_result_t<A>> wait_for(A work, std::chrono::duration<Rep, Period> limit) {
    return detail::wait_for_impl(std::move(work), std::chrono::duration_cast<Duration>(limit));
}

}  // namespace bulb
