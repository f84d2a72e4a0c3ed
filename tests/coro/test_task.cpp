// SPDX-License-Identifier: MIT
/// @file
/// Task<T>, create_task, cancellation, run().
#include "coro_support.hpp"

#include <stdexcept>

using namespace coro_test;

TEST_SUITE("task") {

TEST_CASE("create_task starts the task on a later iteration and its future gets the result") {
    bulb_test::AuditedLoop loop;
    bool started = false;
    auto body = [](bool* s) -> bulb::Task<int> {
        *s = true;
        co_return 42;
    };
    auto f = bulb::create_task(loop, body(&started));
    CHECK_FALSE(started);
    CHECK_FALSE(f.done());
    CHECK(loop.run_until_complete(f) == 42);
    CHECK(started);
}

TEST_CASE("co_await on a Task runs it inline and returns its result") {
    bulb_test::AuditedLoop loop;
    auto inner = [](int x) -> bulb::Task<int> { co_return x * 2; };
    auto outer = [&]() -> bulb::Task<int> {
        int a = co_await inner(10);
        int b = co_await inner(a);
        co_return b;
    };
    CHECK(run(loop, outer()) == 40);
}

TEST_CASE("a move-only result passes through nested tasks and the task's future") {
    bulb_test::AuditedLoop loop;
    auto make = []() -> bulb::Task<std::unique_ptr<int>> { co_return std::make_unique<int>(7); };
    auto outer = [&]() -> bulb::Task<std::unique_ptr<int>> {
        auto p = co_await make();
        *p += 1;
        co_return p;
    };
    auto p = run(loop, outer());
    REQUIRE(p);
    CHECK(*p == 8);
}

TEST_CASE("a long loop over tasks that complete synchronously does not grow the stack") {
    bulb_test::AuditedLoop loop;
    auto one = [](int i) -> bulb::Task<int> { co_return i; };
    auto many = [&](int n) -> bulb::Task<long long> {
        long long sum = 0;
        for (int i = 0; i < n; ++i) sum += co_await one(i);
        co_return sum;
    };
    CHECK(run(loop, many(1'000'000)) == 999'999LL * 1'000'000 / 2);
}

TEST_CASE("an exception thrown by an awaited task reaches the awaiting task") {
    bulb_test::AuditedLoop loop;
    auto thrower = []() -> bulb::Task<int> {
        co_await bulb::sleep(0ms);
        throw std::runtime_error("boom");
    };
    auto outer = [&]() -> bulb::Task<std::string> {
        try {
            co_await thrower();
        } catch (const std::runtime_error& e) {
            co_return e.what();
        }
        co_return "no exception";
    };
    CHECK(run(loop, outer()) == "boom");
}

TEST_CASE("a task's exception is stored in its future") {
    bulb_test::AuditedLoop loop;
    auto thrower = []() -> bulb::Task<> { throw std::logic_error("bad"); co_return; };
    auto f = bulb::create_task(loop, thrower());
    CHECK_THROWS_WITH_AS(loop.run_until_complete(f), "bad", std::logic_error);
}

TEST_CASE("a task cancelled before it starts never runs its body") {
    bulb_test::AuditedLoop loop;
    bool ran = false;
    bool cleaned = false;
    auto body = [](bool* r, SetOnDestroy) -> bulb::Task<> {
        *r = true;
        co_return;
    };
    auto f = bulb::create_task(loop, body(&ran, SetOnDestroy(&cleaned)));
    CHECK(f.cancel("early"));
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    CHECK(f.cancelled());
    CHECK_FALSE(ran);
    CHECK(cleaned);  // the frame (and its parameters) were destroyed
}

TEST_CASE("cancelling a task while it awaits a future cancels that future and throws CancelledError") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> pending(loop);
    std::string caught;
    auto body = [&]() -> bulb::Task<> {
        try {
            co_await pending;
        } catch (const bulb::CancelledError& e) {
            caught = e.what();
            throw;
        }
    };
    auto f = bulb::create_task(loop, body());
    run_iterations(loop, 2);
    CHECK_FALSE(f.done());
    CHECK(f.cancel("stop now"));
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    CHECK(pending.cancelled());
    CHECK(caught == "stop now");
}

TEST_CASE("cancelling a task inside sleep interrupts the sleep at once") {
    bulb_test::AuditedLoop loop(virtual_clock());
    bool cancelled = false;
    auto f = bulb::create_task(loop, sleeper(1h, &cancelled));
    auto start = loop.time();
    loop.call_later(1s, [f]() mutable { f.cancel(); });
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    CHECK(cancelled);
    CHECK(seconds_since(loop, start) < 2.0);
}

TEST_CASE("cancelling a task cancels the task it awaits through its future") {
    bulb_test::AuditedLoop loop;
    bool inner_cancelled = false;
    auto outer = [&]() -> bulb::Task<> { co_await bulb::create_task(sleeper(1h, &inner_cancelled)); };
    auto f = bulb::create_task(loop, outer());
    run_iterations(loop, 3);
    f.cancel();
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    CHECK(inner_cancelled);
}

TEST_CASE("a task that suppresses cancellation goes on and returns its value") {
    bulb_test::AuditedLoop loop;
    auto stubborn = []() -> bulb::Task<int> {
        try {
            co_await bulb::sleep(1h);
        } catch (const bulb::CancelledError&) {
            auto* self = bulb::detail::TaskRunner::current();
            CHECK(self->cancelling() == 1);
            self->uncancel();
        }
        co_await bulb::sleep(1ms);  // still able to await
        co_return 5;
    };
    auto f = bulb::create_task(loop, stubborn());
    run_iterations(loop, 2);
    CHECK(f.cancel());
    CHECK(loop.run_until_complete(f) == 5);
    CHECK_FALSE(f.cancelled());
}

TEST_CASE("a task cancelled twice during one sleep is woken once") {
    bulb_test::AuditedLoop loop(virtual_clock());
    double slept = 0;
    auto body = [&]() -> bulb::Task<> {
        try {
            co_await bulb::sleep(1h);
        } catch (const bulb::CancelledError&) {
            auto* self = bulb::detail::TaskRunner::current();
            CHECK(self->cancelling() == 2);
            self->uncancel();
            self->uncancel();
        }
        auto t0 = loop.time();
        co_await bulb::sleep(10s);  // a stale second wake-up would cut this short
        slept = seconds_since(loop, t0);
    };
    auto f = bulb::create_task(loop, body());
    loop.call_later(1s, [f]() mutable {
        f.cancel();
        f.cancel();
    });
    loop.run_until_complete(f);
    CHECK(slept == doctest::Approx(10.0));
}

TEST_CASE("a task that cancels itself is interrupted at its next await") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto body = []() -> bulb::Task<> {
        bulb::detail::TaskRunner::current()->cancel("self");
        co_await bulb::sleep(1h);  // must not wait an hour
    };
    auto start = loop.time();
    auto f = bulb::create_task(loop, body());
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    CHECK(seconds_since(loop, start) < 1.0);
}

TEST_CASE("cancel() returns false once the task is done") {
    bulb_test::AuditedLoop loop;
    auto f = bulb::create_task(loop, after(0ms, 1));
    loop.run_until_complete(f);
    CHECK_FALSE(f.cancel());
    CHECK(f.result() == 1);
}

TEST_CASE("an exception nobody retrieved is reported through the loop's exception handler") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    bool finished = false;
    {
        auto thrower = [](bool* done) -> bulb::Task<> {
            *done = true;
            throw std::runtime_error("lost");
            co_return;
        };
        bulb::create_task(loop, thrower(&finished));  // the future is dropped at once
    }
    run_iterations(loop, 3);
    CHECK(finished);
    REQUIRE(handler.size() == 1);
    CHECK(handler[0].message == "Future exception was never retrieved");
    CHECK(what_of(handler[0].exception) == "lost");
}

TEST_CASE("in debug mode a task destroyed while pending is reported") {
    bulb_test::AuditedLoop loop;
    loop.set_debug(true);
    RecordingHandler handler(loop);
    bool cleaned = false;
    auto body = [](SetOnDestroy) -> bulb::Task<> { co_await bulb::sleep(1h); };
    auto f = bulb::create_task(loop, body(SetOnDestroy(&cleaned)));
    run_iterations(loop, 2);
    CHECK(handler.size() == 0);
    loop.close();  // drops the sleep's timer: the last reference to the task
    CHECK(cleaned);
    bool reported = false;
    for (std::size_t i = 0; i < handler.size(); ++i)
        reported = reported || handler[i].message == "Task was destroyed but it is pending!";
    CHECK(reported);
    CHECK_FALSE(f.done());
}

TEST_CASE("bulb::run returns main's result and cancels the tasks it left behind") {
    bool leftover_cancelled = false;
    auto main_task = [&]() -> bulb::Task<int> {
        bulb::create_task(sleeper(1h, &leftover_cancelled));
        co_await bulb::sleep(1ms);
        co_return 3;
    };
    CHECK(bulb::run(main_task()) == 3);
    CHECK(leftover_cancelled);
}

TEST_CASE("bulb::run rethrows main's exception") {
    auto main_task = []() -> bulb::Task<> {
        co_await bulb::sleep(0ms);
        throw std::out_of_range("main failed");
    };
    CHECK_THROWS_AS(bulb::run(main_task()), std::out_of_range);
}

}  // TEST_SUITE
