// SPDX-License-Identifier: MIT
/// @file
/// shield().
#include "coro_support.hpp"

#include <stdexcept>

using namespace coro_test;

TEST_SUITE("shield") {

TEST_CASE("a shielded task keeps running when the awaiting task is cancelled") {
    bulb_test::AuditedLoop loop(virtual_clock());
    bool inner_finished = false;
    bool inner_cancelled = false;
    auto inner = [&]() -> bulb::Task<int> {
        try {
            co_await bulb::sleep(5s);
        } catch (const bulb::CancelledError&) {
            inner_cancelled = true;
            throw;
        }
        inner_finished = true;
        co_return 1;
    };
    bulb::Future<int> shielded(loop);
    auto outer = [&]() -> bulb::Task<int> {
        shielded = bulb::shield(inner());
        co_return co_await shielded;
    };
    auto f = bulb::create_task(loop, outer());
    auto start = loop.time();
    loop.call_later(1s, [f]() mutable { f.cancel(); });
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    CHECK(seconds_since(loop, start) == doctest::Approx(1.0).epsilon(0.01));  // not held up by the inner
    CHECK(shielded.cancelled());
    CHECK_FALSE(inner_finished);
    run(loop, after(10s, 0));  // let the inner go on
    CHECK(inner_finished);
    CHECK_FALSE(inner_cancelled);
}

TEST_CASE("shield passes the inner result through") {
    bulb_test::AuditedLoop loop;
    auto main_task = []() -> bulb::Task<std::string> { co_return co_await bulb::shield(after(1ms, std::string("ok"))); };
    CHECK(run(loop, main_task()) == "ok");
}

TEST_CASE("shield passes a move-only result through") {
    bulb_test::AuditedLoop loop;
    auto make = []() -> bulb::Task<std::unique_ptr<int>> {
        co_await bulb::sleep(0ms);
        co_return std::make_unique<int>(3);
    };
    auto main_task = [&]() -> bulb::Task<int> { co_return *co_await bulb::shield(make()); };
    CHECK(run(loop, main_task()) == 3);
}

TEST_CASE("shield passes the inner exception through") {
    bulb_test::AuditedLoop loop;
    auto main_task = []() -> bulb::Task<int> { co_return co_await bulb::shield(fail_after(1ms, "inner failed")); };
    CHECK_THROWS_WITH_AS(run(loop, main_task()), "inner failed", std::runtime_error);
}

TEST_CASE("cancelling the inner task cancels the shielded future") {
    bulb_test::AuditedLoop loop;
    bool cancelled = false;
    auto main_task = [&]() -> bulb::Task<> {
        auto inner = bulb::create_task(sleeper(1h, &cancelled));
        auto outer = bulb::shield(inner);
        bulb::get_running_loop().call_soon([inner]() mutable { inner.cancel(); });
        co_await outer;
    };
    CHECK_THROWS_AS(run(loop, main_task()), bulb::CancelledError);
    CHECK(cancelled);
}

TEST_CASE("shield of a done future returns that future") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> f(loop);
    f.set_result(2);
    CHECK(bulb::shield(f) == f);
    bulb::Future<int> pending(loop);
    CHECK_FALSE(bulb::shield(pending) == pending);
}

TEST_CASE("wait_for on a shielded task times out without cancelling the task") {
    bulb_test::AuditedLoop loop(virtual_clock());
    bool cancelled = false;
    bulb::Future<void> inner(loop);
    auto main_task = [&]() -> bulb::Task<> {
        inner = bulb::create_task(sleeper(5s, &cancelled));
        co_await bulb::wait_for(bulb::shield(inner), 1s);
    };
    CHECK_THROWS_AS(run(loop, main_task()), bulb::TimeoutError);
    CHECK_FALSE(inner.done());
    loop.run_until_complete(inner);
    CHECK_FALSE(cancelled);
}

TEST_CASE("an exception of a shielded task whose awaiter was cancelled is not reported") {
    bulb_test::AuditedLoop loop(virtual_clock());
    RecordingHandler handler(loop);
    auto main_task = [&]() -> bulb::Task<int> { co_return co_await bulb::shield(fail_after(5s, "late")); };
    auto f = bulb::create_task(loop, main_task());
    loop.call_later(1s, [f]() mutable { f.cancel(); });
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    run(loop, after(10s, 0));
    CHECK(handler.size() == 0);
}

}  // TEST_SUITE
