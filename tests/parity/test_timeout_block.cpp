// SPDX-License-Identifier: MIT
/// @file
/// The block form of timeout() (issue 17): `co_await bulb::timeout(d, [&]() -> Task<> {...})`
/// reads like `async with asyncio.timeout(d):`. Each case names the CPython test it follows
/// (Lib/test/test_asyncio/test_timeouts.py).
#include "support/loop_fixture.hpp"

#include <bulb/coro.hpp>

#include <optional>
#include <stdexcept>
#include <string>

using namespace bulb_test;

// Named lambdas and tasks throughout: g++ 12 miscompiles a capturing lambda passed inside a
// co_await expression (docs/guide/12-compilers.md).

TEST_CASE("timeout block: expiry cancels the body and comes out as TimeoutError") {
    // TimeoutTests.test_timeout_basic and test_waiter_cancelled: the body sees CancelledError,
    // the block's caller sees TimeoutError, and the scope reports expired().
    bulb::EventLoop loop;
    auto main = []() -> bulb::Task<void> {
        int steps = 0;
        bool body_cancelled = false;
        auto body = [&]() -> bulb::Task<void> {
            ++steps;  // the caller's locals, by reference
            try {
                co_await bulb::sleep(60s);
            } catch (const bulb::CancelledError&) {
                body_cancelled = true;
                throw;
            }
            ++steps;
        };
        auto block = bulb::timeout(10ms, body);
        CHECK_THROWS_AS(co_await std::move(block), bulb::TimeoutError);
        CHECK(steps == 1);
        CHECK(body_cancelled);

        // The same with a named scope taken by the body: expired() afterwards, as `cm.expired()`.
        bulb::Timeout cm = bulb::timeout(5ms);
        auto body2 = [&](bulb::Timeout& scope) -> bulb::Task<void> {
            CHECK(&scope == &cm);
            co_await bulb::sleep(60s);
        };
        auto block2 = cm.run(body2);
        CHECK_THROWS_AS(co_await std::move(block2), bulb::TimeoutError);
        CHECK(cm.expired());
        CHECK(bulb::current_task().cancelling() == 0);  // the expiry's cancel was withdrawn
    };
    loop.run_until_complete(main());
}

TEST_CASE("timeout block: a body that finishes in time gives its result") {
    // TimeoutTests.test_timeout_not_called and test_timeout_disabled.
    bulb::EventLoop loop;
    auto main = []() -> bulb::Task<void> {
        std::string seen;
        auto body = [&]() -> bulb::Task<int> {
            co_await bulb::sleep(1ms);
            seen = "ran";
            co_return 42;
        };
        auto block = bulb::timeout(60s, body);
        CHECK(co_await std::move(block) == 42);
        CHECK(seen == "ran");

        bulb::Timeout cm = bulb::timeout_at(std::nullopt);
        auto block2 = cm.run(body);
        CHECK(co_await std::move(block2) == 42);
        CHECK_FALSE(cm.expired());
        CHECK_FALSE(cm.when().has_value());

        // timeout_at's block form, a plain awaitable as the body's result.
        auto sleep_body = []() { return bulb::sleep(1ms); };
        auto block3 = bulb::timeout_at(bulb::get_running_loop().time() + 60s, sleep_body);
        co_await std::move(block3);
    };
    loop.run_until_complete(main());
}

TEST_CASE("timeout block: the body reschedules its own deadline") {
    // TimeoutTests.test_reschedule (from inside the block, which holds the scope).
    bulb::EventLoop loop;
    auto main = []() -> bulb::Task<void> {
        auto body = [](bulb::Timeout& scope) -> bulb::Task<std::string> {
            const bulb::TimePoint later = bulb::get_running_loop().time() + 60s;
            scope.reschedule(later);
            CHECK(scope.when() == later);
            scope.reschedule(std::nullopt);  // no deadline at all now
            co_await bulb::sleep(20ms);      // longer than the first deadline
            co_return "survived";
        };
        auto block = bulb::timeout(1ms, body);
        CHECK(co_await std::move(block) == "survived");

        auto shorten = [](bulb::Timeout& scope) -> bulb::Task<void> {
            scope.reschedule(bulb::get_running_loop().time());  // already past: expires next turn
            co_await bulb::sleep(60s);
        };
        auto block2 = bulb::timeout(60s, shorten);
        CHECK_THROWS_AS(co_await std::move(block2), bulb::TimeoutError);
    };
    loop.run_until_complete(main());
}

TEST_CASE("timeout block: an outer cancel stays CancelledError; other errors pass unchanged") {
    // TimeoutTests.test_foreign_cancel_doesnt_timeout_if_not_expired, test_foreign_exception_passed
    // and test_outer_task_is_not_cancelled.
    bulb::EventLoop loop;
    auto main = []() -> bulb::Task<void> {
        auto self_cancel = [](bulb::Timeout&) -> bulb::Task<void> {
            bulb::current_task().cancel();
            co_await bulb::sleep(60s);
        };
        bulb::Timeout cm = bulb::timeout(60s);
        auto block = cm.run(self_cancel);
        CHECK_THROWS_AS(co_await std::move(block), bulb::CancelledError);
        CHECK_FALSE(cm.expired());
        CHECK(bulb::current_task().uncancel() == 0);  // the test's own cancel, withdrawn

        auto foreign = []() -> bulb::Task<void> {
            co_await bulb::sleep(0ms);
            throw std::out_of_range("KeyError");
        };
        bulb::Timeout cm2 = bulb::timeout(10ms);
        auto block2 = cm2.run(foreign);
        CHECK_THROWS_AS(co_await std::move(block2), std::out_of_range);
        CHECK_FALSE(cm2.expired());
    };
    auto outer = bulb::create_task(loop, main());
    loop.run_until_complete(outer);
    CHECK_FALSE(outer.cancelled());
}

TEST_CASE("timeout block: nested blocks, the inner expiry is the inner scope's") {
    // TimeoutTests.test_nested_timeouts_loop_busy (without the busy loop): the inner block's
    // TimeoutError is caught inside the outer block, whose own deadline then ends it.
    bulb::EventLoop loop;
    auto main = []() -> bulb::Task<void> {
        bool inner_timed_out = false;
        auto inner = []() -> bulb::Task<void> { co_await bulb::sleep(60s); };
        auto outer_body = [&]() -> bulb::Task<void> {
            auto inner_block = bulb::timeout(1ms, inner);
            try {
                co_await std::move(inner_block);
            } catch (const bulb::TimeoutError&) {
                inner_timed_out = true;
            }
            co_await bulb::sleep(60s);  // ended by the outer deadline
        };
        auto outer_block = bulb::timeout(30ms, outer_body);
        CHECK_THROWS_AS(co_await std::move(outer_block), bulb::TimeoutError);
        CHECK(inner_timed_out);
    };
    loop.run_until_complete(main());
}

TEST_CASE("timeout block: outside a task it refuses to start") {
    // TimeoutTests.test_timeout_without_task.
    bulb::EventLoop loop;
    auto body = []() -> bulb::Task<void> { co_return; };
    CHECK_THROWS_AS((void)bulb::timeout(1s, body), bulb::InvalidStateError);  // no running loop
    bulb::Timeout cm = bulb::timeout_at(loop.time() + 1s);
    auto block = cm.run(body);
    // Entered only when the task runs: a task whose scope is entered twice fails.
    auto twice = [&]() -> bulb::Task<void> {
        co_await std::move(block);
        auto again = cm.run(body);
        CHECK_THROWS_AS(co_await std::move(again), bulb::InvalidStateError);  // test_timeout_double_enter
    };
    loop.run_until_complete(twice());
}
