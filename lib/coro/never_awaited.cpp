// SPDX-License-Identifier: MIT
/// @file
/// "coroutine was never awaited": the debug-mode report of a Task dropped before it ran.
#include <bulb/coro/task.hpp>
#include <bulb/loop.hpp>

namespace bulb::detail {

void report_never_awaited() noexcept {
    // Only a running loop in debug mode reports (asyncio's RuntimeWarning is debug help too);
    // a Task dropped outside any loop has nobody to tell.
    EventLoop* loop = EventLoop::current();
    if (!loop || !loop->get_debug()) return;
    loop->call_exception_handler(
        {"coroutine was never awaited: a bulb::Task was destroyed before it was co_awaited or passed to "
         "create_task() (a forgotten co_await?)",
         nullptr, nullptr});
}

}  // namespace bulb::detail
