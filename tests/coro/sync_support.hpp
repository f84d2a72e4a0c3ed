// SPDX-License-Identifier: MIT
/// @file
/// Helpers for the tests of the synchronization primitives and queues (test_coro_sync): a loop
/// that records its exception handler's reports, iteration-exact stepping (so a test can put a
/// task in the "woken but not yet run" state and cancel it there), and small task bodies.
#pragma once

#include <bulb/coro/queue.hpp>
#include <bulb/coro/run.hpp>
#include <bulb/coro/sleep.hpp>
#include <bulb/coro/sync.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/coro/wait_for.hpp>
#include <doctest/doctest.h>

#include "../support/loop_fixture.hpp"

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sync_test {

using namespace std::chrono_literals;
using Log = std::vector<std::string>;

/// A loop for one test: records what reaches the exception handler, so a test can check that
/// nothing did (no unretrieved exception, no "Task was destroyed but it is pending!"). The loop
/// is an AuditedLoop: no transport left open and descriptors back to baseline when the test
/// ends (the reports are this struct's to check: its handler replaces the audit's).
struct TestLoop {
    bulb_test::AuditedLoop loop;
    std::shared_ptr<std::vector<std::string>> reports = std::make_shared<std::vector<std::string>>();

    /// A loop with `options` (e.g. LoopOptions{.virtual_clock = true} for timeouts).
    explicit TestLoop(const bulb::LoopOptions& options = {}) : loop(options) {
        loop.set_debug(true);
        loop.set_slow_callback_duration(std::chrono::seconds(30));  // sanitizers are slow
        loop.set_exception_handler([r = reports](bulb::EventLoop&, const bulb::ExceptionContext& c) {
            r->push_back(c.message + (c.exception ? ": " + bulb::describe_exception(c.exception) : ""));
        });
    }
    /// Schedules `task` (it starts on the next iteration).
    template <class T>
    bulb::Future<T> spawn(bulb::Task<T> task) {
        return bulb::create_task(loop, std::move(task));
    }
    /// Runs exactly `n` iterations: what each one runs is what was ready when it began.
    void step(int n = 1) {
        for (int i = 0; i < n; ++i) {
            loop.stop();
            loop.run_forever();
        }
    }
    /// Runs until `future` is done (at most `limit` iterations; a test never needs more).
    template <class T>
    bool finish(bulb::Future<T>& future, int limit = 10000) {
        for (int i = 0; i < limit && !future.done(); ++i) step();
        return future.done();
    }
    /// Runs until every future in `futures` is done.
    template <class T>
    bool finish_all(std::vector<bulb::Future<T>>& futures, int limit = 100000) {
        auto all_done = [&] {
            for (auto& f : futures)
                if (!f.done()) return false;
            return true;
        };
        for (int i = 0; i < limit && !all_done(); ++i) step();
        return all_done();
    }
    /// The reports so far, for CHECK(reports().empty()).
    const std::vector<std::string>& report_list() const { return *reports; }
};

/// "cancelled", "ok", or the exception's text: what became of a finished task.
template <class T>
std::string outcome(bulb::Future<T>& f) {
    if (!f.done()) return "pending";
    if (f.cancelled()) return "cancelled";
    std::exception_ptr e = f.exception();
    return e ? bulb::describe_exception(e) : "ok";
}

/// Acquires `lock`, logs `name`, holds the lock for `hold_turns` yields, releases it.
inline bulb::Task<> lock_user(bulb::Lock& lock, Log& log, std::string name, int hold_turns = 0) {
    co_await lock.acquire();
    log.push_back(name);
    for (int i = 0; i < hold_turns; ++i) co_await bulb::sleep(0s);
    lock.release();
}

/// Acquires `lock` and keeps it (the test releases it).
inline bulb::Task<> lock_taker(bulb::Lock& lock, Log& log, std::string name) {
    co_await lock.acquire();
    log.push_back(name);
}

}  // namespace sync_test
