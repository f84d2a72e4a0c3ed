// SPDX-License-Identifier: MIT
/// @file
/// Helpers shared by the coroutine tests: running a task to completion, recording the exception
/// handler, RAII probes, controllable futures.
#pragma once

#include <bulb/coro/as_completed.hpp>
#include <bulb/coro/async_generator.hpp>
#include <bulb/coro/await.hpp>
#include <bulb/coro/gather.hpp>
#include <bulb/coro/run.hpp>
#include <bulb/coro/shield.hpp>
#include <bulb/coro/sleep.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/coro/task_group.hpp>
#include <bulb/coro/timeout.hpp>
#include <bulb/coro/wait.hpp>
#include <bulb/coro/wait_for.hpp>
#include <doctest/doctest.h>

#include "../support/loop_fixture.hpp"

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace coro_test {

using namespace std::chrono_literals;

/// A loop whose clock jumps to the next deadline: timer-driven tests take no wall time.
inline bulb::LoopOptions virtual_clock() { return bulb::LoopOptions{.virtual_clock = true}; }

/// Runs `task` as a task on `loop` until it completes and returns its result.
template <class T>
T run(bulb::EventLoop& loop, bulb::Task<T> task) {
    return loop.run_until_complete(bulb::create_task(loop, std::move(task)));
}

using bulb_test::AuditedLoop;
using bulb_test::RecordingHandler;
using bulb_test::run_iterations;

/// Seconds of loop time since `start`.
inline double seconds_since(bulb::EventLoop& loop, bulb::TimePoint start) {
    return std::chrono::duration<double>(loop.time() - start).count();
}

/// Sets `*flag` when destroyed: proves a frame's RAII cleanup ran.
struct SetOnDestroy {
    bool* flag;
    explicit SetOnDestroy(bool* f) : flag(f) {}
    SetOnDestroy(SetOnDestroy&& o) noexcept : flag(std::exchange(o.flag, nullptr)) {}
    ~SetOnDestroy() {
        if (flag) *flag = true;
    }
};

/// Appends to a log when destroyed.
struct LogOnDestroy {
    std::vector<std::string>* log;
    std::string text;
    LogOnDestroy(std::vector<std::string>* l, std::string t) : log(l), text(std::move(t)) {}
    LogOnDestroy(const LogOnDestroy&) = delete;
    ~LogOnDestroy() { log->push_back(text); }
};

/// A task returning `value` after `delay`.
template <class T>
bulb::Task<T> after(bulb::Duration delay, T value) {
    co_await bulb::sleep(delay);
    co_return value;
}

/// A task throwing std::runtime_error(what) after `delay`.
inline bulb::Task<int> fail_after(bulb::Duration delay, std::string what) {
    co_await bulb::sleep(delay);
    throw std::runtime_error(what);
}

/// A task that sleeps `delay`, recording in `*cancelled` whether it was cancelled.
inline bulb::Task<> sleeper(bulb::Duration delay, bool* cancelled) {
    try {
        co_await bulb::sleep(delay);
    } catch (const bulb::CancelledError&) {
        *cancelled = true;
        throw;
    }
}

/// The message of the exception in `e` (what(), or "CancelledError").
inline std::string what_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const bulb::CancelledError&) {
        return "CancelledError";
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "?";
    }
}

}  // namespace coro_test
