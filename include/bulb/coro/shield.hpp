// SPDX-License-Identifier: MIT
/// @file
/// shield(): protect work from the cancellation of the task awaiting it (asyncio.shield).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/await.hpp>
#include <bulb/coro/task.hpp>

#include <type_traits>
#include <utility>

namespace bulb {

/// Returns a new future that mirrors `inner` (its result, exception or cancellation) but whose
/// cancellation does not reach `inner`: `co_await shield(f)` in a cancelled task throws
/// CancelledError at once while `inner` runs on. A done `inner` is returned as it is.
/// Cancel safety: cancelling the awaiting task cancels only the returned future; `inner` keeps
/// running and its outcome is dropped (an exception it ends with then counts as retrieved, as
/// in asyncio). Cancelling `inner` itself still cancels the returned future.
template <class T>
Future<T> shield(Future<T> inner) {
    if (inner.done()) return inner;
    Future<T> outer(inner.get_loop());
    inner.add_done_callback([outer](Future<T>& in) mutable {
        if (outer.done()) {  // the awaiting side was cancelled: nobody wants the outcome
            if (!in.cancelled()) (void)in.exception();
            return;
        }
        if (in.cancelled()) {
            outer.cancel();
        } else if (std::exception_ptr e = in.exception()) {
            outer.set_exception(std::move(e));
        } else if constexpr (std::is_void_v<T>) {
            outer.set_result();
        } else if constexpr (std::is_copy_constructible_v<T>) {
            outer.set_result(in.result());
        } else {
            outer.set_result(std::move(in.result()));
        }
    });
    return outer;
}

/// Schedules `task` with create_task() on the running loop and shields it: the task runs to its
/// end even if the task awaiting the returned future is cancelled.
/// Cancel safety: as shield(Future<T>); the task is left running on its own.
template <class T>
Future<T> shield(Task<T> task) {
    return shield(create_task(std::move(task)));
}

}  // namespace bulb
