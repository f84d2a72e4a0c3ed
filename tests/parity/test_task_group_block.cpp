// SPDX-License-Identifier: MIT
/// @file
/// The block form of TaskGroup (issue 17): `co_await bulb::task_group([&](TaskGroup& g) ...)`
/// behaves as `async with asyncio.TaskGroup() as g:` -- a child failure cancels the body too,
/// and that cancellation turns back into the group's errors. Each case names the CPython test
/// it follows (Lib/test/test_asyncio/test_taskgroups.py).
#include "support/loop_fixture.hpp"

#include <bulb/coro.hpp>

#include <memory>
#include <stdexcept>
#include <string>

using namespace bulb_test;

namespace {

struct MyExc : std::runtime_error {
    MyExc() : std::runtime_error("MyExc") {}
};

bulb::Task<void> crash_after(std::chrono::milliseconds d) {
    co_await bulb::sleep(d);
    throw std::domain_error("division by zero");
}

// Sleeps "for ever"; counts the cancellation it receives.
bulb::Task<void> counted_sleeper(std::shared_ptr<int> cancelled) {
    try {
        co_await bulb::sleep(60s);
    } catch (const bulb::CancelledError&) {
        ++*cancelled;
        throw;
    }
}

}  // namespace

// Named lambdas and tasks throughout: g++ 12 miscompiles a capturing lambda passed inside a
// co_await expression (docs/guide/12-compilers.md).

TEST_CASE("task_group block: a child failure cancels the body and the siblings; one ExceptionGroup") {
    // TestTaskGroup.test_cancel_children_on_child_error (three failing children, a sleeper, and a
    // body sleeping 10 s that is cancelled: runner_cancel, t2_cancel, NUM == 0).
    bulb::EventLoop loop;
    auto cancelled = std::make_shared<int>(0);
    bool body_cancelled = false;
    int num = 0;
    auto runner = [&]() -> bulb::Task<void> {
        auto body = [&](bulb::TaskGroup& g) -> bulb::Task<void> {
            (void)g.create_task(crash_after(1ms));
            (void)g.create_task(crash_after(1ms));
            (void)g.create_task(crash_after(1ms));
            (void)g.create_task(counted_sleeper(cancelled));
            try {
                co_await bulb::sleep(60s);
            } catch (const bulb::CancelledError&) {
                body_cancelled = true;
                throw;
            }
            num += 1;
        };
        auto block = bulb::task_group(body);
        co_await std::move(block);
        num += 10;
    };
    auto task = bulb::create_task(loop, runner());
    try {
        loop.run_until_complete(task);
        FAIL("no ExceptionGroup");
    } catch (const bulb::ExceptionGroup& eg) {
        auto [div, rest] = eg.split<std::domain_error>();
        CHECK(div.size() >= 1);  // CPython notes the three may race; here all fail in one turn
        CHECK(rest.empty());     // the cancellations are not errors
    }
    CHECK(num == 0);
    CHECK(*cancelled == 1);
    CHECK(body_cancelled);
}

TEST_CASE("task_group block: an error thrown by the body cancels the children and joins the group") {
    // TestTaskGroup.test_taskgroup_09 (1/0 in the body after a sleep: EG {ZeroDivisionError},
    // both children cancelled) and test_taskgroup_19 (a body failing on its way out of a
    // cancellation: EG {MyExc, ZeroDivisionError}).
    bulb::EventLoop loop;
    auto cancelled = std::make_shared<int>(0);
    auto nine = [&]() -> bulb::Task<void> {
        auto body = [&](bulb::TaskGroup& g) -> bulb::Task<void> {
            (void)g.create_task(counted_sleeper(cancelled));
            (void)g.create_task(counted_sleeper(cancelled));
            co_await bulb::sleep(1ms);
            throw std::domain_error("division by zero");
        };
        auto block = bulb::task_group(body);
        try {
            co_await std::move(block);
            FAIL("no ExceptionGroup");
        } catch (const bulb::ExceptionGroup& eg) {
            REQUIRE(eg.exceptions().size() == 1);
            CHECK(eg.contains<std::domain_error>());
        }
    };
    loop.run_until_complete(nine());
    CHECK(*cancelled == 2);

    auto nineteen = []() -> bulb::Task<void> {
        auto body = [](bulb::TaskGroup& g) -> bulb::Task<void> {
            (void)g.create_task(crash_after(1ms));
            try {
                co_await bulb::sleep(60s);  // nested(): cancelled by the crash, raises MyExc
            } catch (const bulb::CancelledError&) {
                throw MyExc();
            }
        };
        auto block = bulb::task_group(body);
        try {
            co_await std::move(block);
            FAIL("no ExceptionGroup");
        } catch (const bulb::ExceptionGroup& eg) {
            REQUIRE(eg.exceptions().size() == 2);
            CHECK(bulb::holds_exception<std::domain_error>(eg.exceptions()[0]));  // the child's first
            CHECK(bulb::holds_exception<MyExc>(eg.exceptions()[1]));
        }
        // The group's own cancel of this task was withdrawn: nothing is pending.
        CHECK(bulb::current_task().cancelling() == 0);
        co_await bulb::sleep(1ms);  // and no stray CancelledError arrives
    };
    loop.run_until_complete(nineteen());
}

TEST_CASE("task_group block: an outer cancel stays CancelledError and reaches every child") {
    // TestTaskGroup.test_cancellation (r.cancel("test") while the children sleep: CancelledError
    // with the message, NUM == 5) and test_taskgroup_07 (the body's own sleep is cancelled too).
    bulb::EventLoop loop;
    auto cancelled = std::make_shared<int>(0);
    bool body_cancelled = false;
    auto runner = [&]() -> bulb::Task<void> {
        auto body = [&](bulb::TaskGroup& g) -> bulb::Task<void> {
            for (int i = 0; i < 5; ++i) (void)g.create_task(counted_sleeper(cancelled));
            try {
                co_await bulb::sleep(60s);
            } catch (const bulb::CancelledError&) {
                body_cancelled = true;
                throw;
            }
        };
        auto block = bulb::task_group(body);
        co_await std::move(block);
    };
    auto task = bulb::create_task(loop, runner());
    loop.call_later(5ms, [task]() mutable { task.cancel("test"); });
    try {
        loop.run_until_complete(task);
        FAIL("no CancelledError");
    } catch (const bulb::CancelledError& e) {
        CHECK(std::string(e.what()).find("test") != std::string::npos);
    }
    CHECK(*cancelled == 5);
    CHECK(body_cancelled);
}

TEST_CASE("task_group block: results of the body and the children; a swallowed group cancel") {
    // TestTaskGroup.test_taskgroup_01 (children's results after the block) and test_taskgroup_18
    // inverted: a body that swallows the group's cancel still gets the children's errors.
    bulb::EventLoop loop;
    auto main = []() -> bulb::Task<void> {
        bulb::Future<int> t1, t2;
        auto body = [&](bulb::TaskGroup& g) -> bulb::Task<std::string> {
            auto foo = [](int v, std::chrono::milliseconds d) -> bulb::Task<int> {
                co_await bulb::sleep(d);
                co_return v;
            };
            t1 = g.create_task(foo(42, 2ms));
            t2 = g.create_task(foo(11, 4ms));
            co_return "body";
        };
        auto block = bulb::task_group(body);
        CHECK(co_await std::move(block) == "body");
        CHECK(t1.result() == 42);
        CHECK(t2.result() == 11);

        auto swallow = [](bulb::TaskGroup& g) -> bulb::Task<void> {
            (void)g.create_task(crash_after(1ms));
            try {
                co_await bulb::sleep(60s);
            } catch (const bulb::CancelledError&) {
            }
            CHECK_THROWS_AS((void)g.create_task(crash_after(1ms)), bulb::InvalidStateError);  // shutting down
        };
        auto block2 = bulb::task_group(swallow);
        CHECK_THROWS_AS(co_await std::move(block2), bulb::ExceptionGroup);
        CHECK(bulb::current_task().cancelling() == 0);
    };
    loop.run_until_complete(main());
}
