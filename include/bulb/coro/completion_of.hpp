// SPDX-License-Identifier: MIT
/// @file
/// completion_of(): wait() and as_completed() over futures of different result types.
///
/// C++ adaptation: asyncio.wait takes any mix of futures; bulb's wait() and as_completed() take
/// a std::vector<Future<T>> of one T. completion_of(f) is a Future<void> that finishes when `f`
/// does (same exception or cancellation, no value), so a mixed set becomes one vector; compare
/// what comes back with the completions and read each typed result from its own future:
/// ```
/// auto a = completion_of(fetch_int), b = completion_of(fetch_text);
/// auto [done, pending] = co_await bulb::wait(std::vector{a, b}, ReturnWhen::first_completed);
/// if (done[0] == a) use(fetch_int.result());
/// ```
#pragma once

#include <bulb/future.hpp>

#include <vector>

namespace bulb {

/// A Future<void> completing with `f` (result: set; exception: the same exception; cancelled:
/// cancelled), on a later iteration than `f` (a done callback). Reading `f`'s outcome to copy it
/// marks `f`'s exception retrieved, and the completion's counts as retrieved too (else reading
/// only the typed future would report it falsely): read each typed result after the wait, or a
/// failure goes unreported. Cancelling the completion does not cancel `f`. Loop thread only.
template <class T>
Future<void> completion_of(Future<T> f) {
    Future<void> mirror(f.get_loop());
    f.add_done_callback([mirror](Future<T>& done) mutable {
        if (mirror.done()) return;  // cancelled by its holder meanwhile
        if (done.cancelled()) {
            mirror.cancel();
            return;
        }
        std::exception_ptr e;
        try {
            done.result();
        } catch (const CancelledError&) {
        } catch (...) {
            e = std::current_exception();
        }
        if (e) {
            mirror.set_exception(std::move(e));
            (void)mirror.exception();  // see above: the typed future is where it is read
        } else {
            mirror.set_result();
        }
    });
    return mirror;
}

/// completion_of() of each argument, in order: `co_await wait(completions(fa, fb, fc))`.
template <class... T>
std::vector<Future<void>> completions(Future<T>... futures) {
    return std::vector<Future<void>>{completion_of(std::move(futures))...};
}

}  // namespace bulb
