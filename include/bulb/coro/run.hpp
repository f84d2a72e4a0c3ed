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
/// main's result (or throws its exception). Called while a loop runs on this thread, it throws
/// InvalidStateError at once (asyncio.run's "cannot be called from a running event loop").
template <class T>
T run(Task<T> main, const LoopOptions& options = {}) {
    if (EventLoop::current())
        throw InvalidStateError("bulb::run() cannot be called from a running event loop: co_await the task instead");
    EventLoop loop(options);
    struct Teardown {
        EventLoop& loop;
        ~Teardown() {
            // Never throws (it may run during unwinding): a teardown failure goes to the handler.
            try {
                cancel_all_tasks(loop);
                loop.close();
            } catch (...) {
                loop.call_exception_handler({"bulb::run(): tearing the loop down failed", std::current_exception()});
            }
        }
    } teardown{loop};
    return loop.run_until_complete(create_task(loop, std::move(main)));
}

}  // namespace bulb
