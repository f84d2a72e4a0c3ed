// SPDX-License-Identifier: MIT
/// @file
/// Runner: several top-level calls on one loop (asyncio.Runner), where run() makes and closes a
/// loop per call.
///
/// ```
/// bulb::Runner runner;
/// auto server = runner.run(start());     // the loop, its tasks and servers live on
/// runner.run(serve_until_signal(server));
/// ```                                     // ~Runner: cancels what is left, closes the loop
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/run.hpp>
#include <bulb/coro/task.hpp>

#include <cstdio>
#include <optional>

namespace bulb {

/// Owns a loop made on first use and runs top-level tasks on it one after another. Use it on one
/// thread, never from inside its own loop. Not movable (tasks point at the loop).
/// C++ adaptation: asyncio's contextvars `context` argument has no counterpart (no context
/// variables in C++); Ctrl-C handling is the application's (add_signal_handler).
class Runner {
public:
    /// A runner whose loop will be made with `options`.
    explicit Runner(const LoopOptions& options = {}) : options_(options) {}
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;
    /// close().
    ~Runner() { close_noexcept(); }

    /// Runs `task` on the loop until it is done and returns its result (or throws its exception).
    /// Tasks it started and left running stay on the loop for later run() calls. Throws
    /// InvalidStateError after close() or when called while a loop runs on this thread.
    template <class T>
    T run(Task<T> task) {
        if (closed_) throw InvalidStateError("Runner::run: the runner is closed");
        if (EventLoop::current())
            throw InvalidStateError("Runner::run cannot be called from a running event loop");
        return get_loop().run_until_complete(create_task(get_loop(), std::move(task)));
    }
    /// The runner's loop (made now if needed). InvalidStateError after close().
    EventLoop& get_loop() {
        if (closed_) throw InvalidStateError("Runner::get_loop: the runner is closed");
        if (!loop_) loop_.emplace(options_);
        return *loop_;
    }
    /// Cancels every pending task and waits for them, shuts the default executor down, closes
    /// the loop (asyncio.Runner.close). Idempotent.
    void close() {
        if (closed_) return;
        closed_ = true;
        if (!loop_) return;
        struct Destroy {
            std::optional<EventLoop>& loop;
            ~Destroy() { loop.reset(); }
        } destroy{loop_};
        cancel_all_tasks(*loop_);
        loop_->run_until_complete(loop_->shutdown_default_executor());
        loop_->close();
    }

private:
    void close_noexcept() noexcept {
        try {
            close();
        } catch (...) {  // the loop is gone by now: stderr is all that is left
            std::fprintf(stderr, "bulb::Runner: closing the loop failed: %s\n",
                         describe_exception(std::current_exception()).c_str());
        }
    }

    LoopOptions options_;
    std::optional<EventLoop> loop_;
    bool closed_ = false;
};

}  // namespace bulb
