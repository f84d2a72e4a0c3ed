// SPDX-License-Identifier: MIT
/// @file
/// cancel_all_tasks(): asyncio.run's teardown.
#include <bulb/coro/run.hpp>

#include <vector>

namespace bulb {

void cancel_all_tasks(EventLoop& loop) {
    if (loop.is_closed()) return;
    std::size_t pending = 0;
    detail::TaskRunner::for_each_pending(loop, [&](detail::TaskRunner& r) {
        ++pending;
        r.cancel({});
        r.add_done_observer([&loop, &pending] {
            if (--pending == 0) loop.stop();
        });
    });
    if (pending) loop.run_forever();  // until every cancelled task has finished
}

}  // namespace bulb
