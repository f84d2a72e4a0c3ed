// SPDX-License-Identifier: MIT
/// @file
/// run(): the one-line entry point (asyncio.run).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/task.hpp>

namespace bulb {

/// Cancels every pending task of `loop` and runs the loop until they have all finished
/// (asyncio.run's _cancel_all_tasks). Errors other than cancellation go to the exception handler.
BULB_API void cancel_all_tasks(EventLoop& loop);

/// Runs `main` on a new loop until it completes, cancels what is left, closes the loop, and returns
/// main's result (or throws its exception).
template <class T>
T run(Task<T> main, const LoopOptions& options = {}) {
    EventLoop loop(options);
    struct Teardown {
        EventLoop& loop;
        ~Teardown() {
            cancel_all_tasks(loop);
            loop.close();
        }
    } teardown{loop};
    return loop.run_until_complete(create_task(loop, std::move(main)));
}

}  // namespace bulb
