// SPDX-License-Identifier: MIT
/// @file
/// wait_for() and Timeout scopes.
#include "coro_support.hpp"

#include <chrono>
#include <stdexcept>

using namespace coro_test;

TEST_SUITE("timeout") {

TEST_CASE("wait_for returns the result when the work finishes in time") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto main_task = []() -> bulb::Task<int> { co_return co_await bulb::wait_for(after(1s, 7), 2s); };
    CHECK(run(loop, main_task()) == 7);
}

TEST_CASE("wait_for throws TimeoutError and cancels the work when time runs out") {
    bulb_test::AuditedLoop loop(virtual_clock());
    bool cancelled = false;
    auto start = loop.time();
    auto main_task = [&]() -> bulb::Task<> { co_await bulb::wait_for(sleeper(10s, &cancelled), 1s); };
    CHECK_THROWS_AS(run(loop, main_task()), bulb::TimeoutError);
    CHECK(cancelled);
    CHECK(seconds_since(loop, start) == doctest::Approx(1.0).epsilon(0.01));
}

TEST_CASE("a one-hour wait_for on a virtual clock finishes in milliseconds of wall time") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto wall = std::chrono::steady_clock::now();
    auto start = loop.time();
    auto main_task = []() -> bulb::Task<std::string> {
        try {
            co_await bulb::wait_for(bulb::sleep(2h), std::chrono::hours(1));
        } catch (const bulb::TimeoutError&) {
            co_return "timed out";
        }
        co_return "finished";
    };
    CHECK(run(loop, main_task()) == "timed out");
    CHECK(seconds_since(loop, start) == doctest::Approx(3600.0).epsilon(0.001));
    CHECK(std::chrono::steady_clock::now() - wall < 500ms);
}

TEST_CASE("wait_for waits until the inner work has finished cancelling") {
    bulb_test::AuditedLoop loop(virtual_clock());
    bool cleanup_finished = false;
    auto slow_to_cancel = [&]() -> bulb::Task<int> {
        bool cancelled = false;
        try {
            co_await bulb::sleep(1h);
        } catch (const bulb::CancelledError&) {
            cancelled = true;
        }
        if (cancelled) {
            co_await bulb::sleep(3s);  // async cleanup
            cleanup_finished = true;
            throw bulb::CancelledError();
        }
        co_return 1;
    };
    auto start = loop.time();
    auto main_task = [&]() -> bulb::Task<> {
        try {
            co_await bulb::wait_for(slow_to_cancel(), 1s);
        } catch (const bulb::TimeoutError&) {
            CHECK(cleanup_finished);
            throw;
        }
    };
    CHECK_THROWS_AS(run(loop, main_task()), bulb::TimeoutError);
    CHECK(seconds_since(loop, start) == doctest::Approx(4.0).epsilon(0.01));
}

TEST_CASE("wait_for on a task future cancels the task and waits for it") {
    bulb_test::AuditedLoop loop(virtual_clock());
    bool cancelled = false;
    bulb::Future<void> inner(loop);
    auto main_task = [&]() -> bulb::Task<> {
        inner = bulb::create_task(sleeper(1h, &cancelled));
        co_await bulb::wait_for(inner, 1s);
    };
    CHECK_THROWS_AS(run(loop, main_task()), bulb::TimeoutError);
    CHECK(cancelled);
    CHECK(inner.cancelled());
}

TEST_CASE("wait_for on a plain future cancels the future on timeout") {
    bulb_test::AuditedLoop loop(virtual_clock());
    bulb::Future<int> fut(loop);
    auto main_task = [&]() -> bulb::Task<int> { co_return co_await bulb::wait_for(fut, 5s); };
    CHECK_THROWS_AS(run(loop, main_task()), bulb::TimeoutError);
    CHECK(fut.cancelled());
}

TEST_CASE("wait_for returns the value of work that ignores the timeout's cancellation") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto stubborn = []() -> bulb::Task<int> {
        try {
            co_await bulb::sleep(1h);
        } catch (const bulb::CancelledError&) {
        }
        co_return 9;
    };
    auto main_task = [&]() -> bulb::Task<int> {
        int v = co_await bulb::wait_for(stubborn(), 1s);
        CHECK(bulb::detail::TaskRunner::current()->cancelling() == 0);
        co_await bulb::sleep(1s);  // no cancellation left pending
        co_return v;
    };
    CHECK(run(loop, main_task()) == 9);
}

TEST_CASE("an outer cancel during wait_for stays a CancelledError") {
    bulb_test::AuditedLoop loop(virtual_clock());
    bool inner_cancelled = false;
    auto main_task = [&]() -> bulb::Task<> { co_await bulb::wait_for(sleeper(1h, &inner_cancelled), 10s); };
    auto f = bulb::create_task(loop, main_task());
    loop.call_later(1s, [f]() mutable { f.cancel(); });
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    CHECK(inner_cancelled);
}

TEST_CASE("an outer cancel arriving together with the deadline is not turned into TimeoutError") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto main_task = [&]() -> bulb::Task<> { co_await bulb::wait_for(bulb::sleep(1h), 1s); };
    auto f = bulb::create_task(loop, main_task());
    // Both cancel requests land before the task runs again.
    loop.call_later(1s, [f]() mutable { f.cancel("outer"); });
    std::string message;
    try {
        loop.run_until_complete(f);
    } catch (const bulb::CancelledError& e) {
        message = "CancelledError";
    } catch (const bulb::TimeoutError&) {
        message = "TimeoutError";
    }
    CHECK(message == "CancelledError");
}

TEST_CASE("nested scopes: an expiring inner scope raises TimeoutError that the outer scope passes on") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto start = loop.time();
    auto main_task = [&]() -> bulb::Task<std::string> {
        bulb::Timeout outer = bulb::timeout(10s);
        auto body = [&]() -> bulb::Task<std::string> {
            try {
                co_await bulb::timeout(1s).run(bulb::sleep(1h));
            } catch (const bulb::TimeoutError&) {
                co_return "inner timed out";
            }
            co_return "inner finished";
        };
        std::string r = co_await outer.run(body());
        CHECK_FALSE(outer.expired());
        co_return r;
    };
    CHECK(run(loop, main_task()) == "inner timed out");
    CHECK(seconds_since(loop, start) == doctest::Approx(1.0).epsilon(0.01));
}

TEST_CASE("nested scopes: an expiring outer scope cancels through the inner one and raises TimeoutError") {
    bulb_test::AuditedLoop loop(virtual_clock());
    bool inner_saw_cancel = false;
    auto main_task = [&]() -> bulb::Task<std::string> {
        bulb::Timeout outer = bulb::timeout(1s);
        bulb::Timeout inner = bulb::timeout(10s);
        auto body = [&]() -> bulb::Task<> {
            try {
                co_await inner.run(bulb::sleep(1h));
            } catch (const bulb::CancelledError&) {
                inner_saw_cancel = true;  // not a TimeoutError: the inner scope did not expire
                throw;
            }
        };
        try {
            co_await outer.run(body());
        } catch (const bulb::TimeoutError&) {
            CHECK(outer.expired());
            CHECK_FALSE(inner.expired());
            co_return "outer timed out";
        }
        co_return "finished";
    };
    CHECK(run(loop, main_task()) == "outer timed out");
    CHECK(inner_saw_cancel);
}

TEST_CASE("reschedule moves the deadline and when() reports it") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto start = loop.time();
    auto main_task = [&]() -> bulb::Task<> {
        bulb::Timeout scope = bulb::timeout(1s);
        CHECK(scope.when() == start + 1s);
        auto body = [&]() -> bulb::Task<> {
            co_await bulb::sleep(500ms);
            scope.reschedule(loop.time() + 5s);  // push it back while inside
            co_await bulb::sleep(2s);
            scope.reschedule(std::nullopt);  // no deadline at all
            co_await bulb::sleep(10s);
        };
        co_await scope.run(body());
        CHECK_FALSE(scope.expired());
        CHECK_FALSE(scope.when().has_value());
        CHECK_THROWS_AS(scope.reschedule(loop.time()), bulb::InvalidStateError);  // exited
    };
    run(loop, main_task());
    CHECK(seconds_since(loop, start) == doctest::Approx(12.5).epsilon(0.01));
}

TEST_CASE("reschedule before the scope is entered throws InvalidStateError") {
    bulb::Timeout scope = bulb::timeout_at(std::nullopt);
    CHECK_THROWS_AS(scope.reschedule(std::nullopt), bulb::InvalidStateError);
    CHECK_FALSE(scope.expired());
}

TEST_CASE("a scope can be entered only once") {
    bulb_test::AuditedLoop loop;
    auto main_task = [&]() -> bulb::Task<> {
        bulb::Timeout scope = bulb::timeout(1s);
        co_await scope.run(bulb::sleep(0ms));
        co_await scope.run(bulb::sleep(0ms));
    };
    CHECK_THROWS_AS(run(loop, main_task()), bulb::InvalidStateError);
}

TEST_CASE("a deadline already past expires on the next iteration") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto main_task = [&]() -> bulb::Task<bool> {
        bulb::Timeout scope = bulb::timeout_at(loop.time() - 1s);
        try {
            co_await scope.run(bulb::sleep(1h));
        } catch (const bulb::TimeoutError&) {
            co_return scope.expired();
        }
        co_return false;
    };
    auto start = loop.time();
    CHECK(run(loop, main_task()));
    CHECK(seconds_since(loop, start) < 0.001);
}

TEST_CASE("an expired scope whose work swallowed the cancellation returns normally") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto main_task = [&]() -> bulb::Task<int> {
        bulb::Timeout scope = bulb::timeout(1s);
        auto body = []() -> bulb::Task<int> {
            try {
                co_await bulb::sleep(1h);
            } catch (const bulb::CancelledError&) {
            }
            co_return 4;
        };
        int v = co_await scope.run(body());
        CHECK(scope.expired());
        co_return v;
    };
    CHECK(run(loop, main_task()) == 4);
}

TEST_CASE("an exception other than cancellation leaves the scope unchanged") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto main_task = [&]() -> bulb::Task<> { co_await bulb::timeout(10s).run(fail_after(1s, "own error")); };
    CHECK_THROWS_WITH_AS(run(loop, main_task()), "own error", std::runtime_error);
}

}  // TEST_SUITE
