// SPDX-License-Identifier: MIT
/// @file
/// as_completed(): futures in the order they complete (asyncio.as_completed, 3.13 style: the
/// futures themselves are yielded).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/async_generator.hpp>
#include <bulb/coro/await.hpp>
#include <bulb/coro/runner.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace bulb {
namespace detail {

/// Futures that completed and not yet yielded, plus the consumer's wake-up.
template <class T>
struct CompletionQueue {
    std::deque<Future<T>> done;
    std::optional<Future<void>> waiter;
    bool timed_out = false;
    void wake() {
        if (waiter && !waiter->done()) waiter->set_result();
    }
};

struct AsCompletedTimer {
    TimerHandle timer;
    ~AsCompletedTimer() { timer.cancel(); }
};

}  // namespace detail

/// Yields each of `futures` once it is done (result, exception or cancellation), in completion
/// order: `while (auto f = co_await gen.next()) use(f->result());`. With a `timeout`, next()
/// throws TimeoutError once it passes with futures still pending (they are not cancelled).
/// Starts watching at the first next(); O(1) per completion.
/// Cancel safety: cancelling the consuming task while it waits in next() throws CancelledError
/// there and ends the generator; `futures` are left untouched.
template <class T>
AsyncGenerator<Future<T>> as_completed(std::vector<Future<T>> futures,
                                       std::optional<Duration> timeout = std::nullopt) {
    EventLoop& loop = detail::TaskRunner::require_current("as_completed()").loop();
    auto queue = std::make_shared<detail::CompletionQueue<T>>();
    for (auto& f : futures) {
        f.add_done_callback([queue](Future<T>& done) {
            queue->done.push_back(done);
            queue->wake();
        });
    }
    detail::AsCompletedTimer guard;
    if (timeout) {
        guard.timer = loop.call_later(*timeout, [queue] {
            queue->timed_out = true;
            queue->wake();
        });
    }
    for (std::size_t left = futures.size(); left > 0; --left) {
        while (queue->done.empty()) {
            if (queue->timed_out) throw TimeoutError("as_completed(): timed out");
            queue->waiter.emplace(loop);
            co_await *queue->waiter;
        }
        Future<T> next = std::move(queue->done.front());
        queue->done.pop_front();
        co_yield std::move(next);
    }
}

}  // namespace bulb
