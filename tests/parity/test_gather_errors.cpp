// SPDX-License-Identifier: MIT
/// @file
/// gather() keeps every child error (issue 17): one failure comes out as itself, several as an
/// ExceptionGroup; holds_exception / find_exception test either form. Each case names the
/// CPython test it follows.
#include "support/loop_fixture.hpp"

#include <bulb/coro.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace bulb_test;

namespace {

struct MyExc : std::runtime_error {
    MyExc() : std::runtime_error("MyExc") {}
};

bulb::Task<void> crash_soon() {
    co_await bulb::sleep(1ms);
    throw std::domain_error("division by zero");
}

// Waits "for ever"; cancelled, it fails on its way out (a `finally: raise MyExc`).
bulb::Task<void> nested(std::shared_ptr<int> cancelled) {
    try {
        co_await bulb::sleep(60s);
    } catch (const bulb::CancelledError&) {
        ++*cancelled;
        throw MyExc();
    }
}

bulb::Task<void> sleeper(std::shared_ptr<int> cancelled) {
    try {
        co_await bulb::sleep(60s);
    } catch (const bulb::CancelledError&) {
        ++*cancelled;
        throw;
    }
}

}  // namespace

TEST_CASE("gather: a child failing while it is cancelled joins the first error in an ExceptionGroup") {
    // test_taskgroups.TestTaskGroup.test_taskgroup_19 (nested() raises MyExc from `finally` once
    // cancelled by crash_soon's failure: the group has {MyExc, ZeroDivisionError}), for gather.
    bulb::EventLoop loop;
    auto cancelled = std::make_shared<int>(0);
    auto main = [&]() -> bulb::Task<void> {
        auto a = crash_soon();
        auto b = nested(cancelled);
        auto c = sleeper(cancelled);
        auto all = bulb::gather(std::move(a), std::move(b), std::move(c));
        try {
            co_await std::move(all);
            FAIL("gather did not throw");
        } catch (const bulb::ExceptionGroup& g) {
            REQUIRE(g.exceptions().size() == 2);  // the sleeper's cancellation is not an error
            CHECK(g.message() == "gather(): 2 children failed");
            CHECK(std::string(g.what()) == "gather(): 2 children failed (2 sub-exceptions)");
            CHECK(bulb::holds_exception<std::domain_error>(g.exceptions()[0]));  // in order
            CHECK(bulb::holds_exception<MyExc>(g.exceptions()[1]));
            CHECK_FALSE(g.contains<bulb::CancelledError>());
            CHECK(bulb::holds_exception<MyExc>(std::current_exception()));
            CHECK(bulb::holds_exception<std::domain_error>(std::current_exception()));
        }
    };
    loop.run_until_complete(main());
    CHECK(*cancelled == 2);  // gather returned only after every child had finished
}

TEST_CASE("gather: one failure comes out as itself, the others cancelled") {
    // test_tasks.FutureGatherTests.test_one_exception: the first exception is gather's, unwrapped.
    bulb::EventLoop loop;
    auto cancelled = std::make_shared<int>(0);
    auto main = [&]() -> bulb::Task<void> {
        std::vector<bulb::Task<void>> tasks;
        tasks.push_back(sleeper(cancelled));
        tasks.push_back(crash_soon());
        tasks.push_back(sleeper(cancelled));
        auto all = bulb::gather(std::move(tasks));
        try {
            co_await std::move(all);
            FAIL("gather did not throw");
        } catch (const std::domain_error& e) {
            CHECK(std::string(e.what()) == "division by zero");
            // The helpers see a plain exception as a group of one.
            CHECK(bulb::holds_exception<std::domain_error>(std::current_exception()));
            CHECK(bulb::find_exception<std::logic_error>(std::current_exception()) == &e);
            CHECK_FALSE(bulb::holds_exception<bulb::ExceptionGroup>(std::current_exception()) );
            CHECK_FALSE(bulb::holds_exception<MyExc>(std::current_exception()));
        }
    };
    loop.run_until_complete(main());
    CHECK(*cancelled == 2);
}

TEST_CASE("gather: a child's own cancellation first, then one error: the error comes out") {
    // test_tasks.FutureGatherTests.test_one_cancellation, followed by a sibling failing on its way
    // out: the error says more than the cancellation that started the shutdown.
    bulb::EventLoop loop;
    auto cancelled = std::make_shared<int>(0);
    auto main = [&]() -> bulb::Task<void> {
        auto self_cancel = []() -> bulb::Task<void> {
            co_await bulb::sleep(1ms);
            throw bulb::CancelledError("self");
        };
        auto a = self_cancel();
        auto b = nested(cancelled);
        auto all = bulb::gather(std::move(a), std::move(b));
        CHECK_THROWS_AS(co_await std::move(all), MyExc);
    };
    loop.run_until_complete(main());
    CHECK(*cancelled == 1);

    auto only_cancel = [&]() -> bulb::Task<void> {
        auto self_cancel = []() -> bulb::Task<int> {
            co_await bulb::sleep(1ms);
            throw bulb::CancelledError("self");
        };
        auto a = self_cancel();
        auto b = sleeper(cancelled);
        auto all = bulb::gather(std::move(a), std::move(b));
        CHECK_THROWS_AS(co_await std::move(all), bulb::CancelledError);  // as before: unchanged
    };
    loop.run_until_complete(only_cancel());
    CHECK(*cancelled == 2);
}

TEST_CASE("holds_exception / find_exception look into nested groups and accept null") {
    // test_exception_group.py (PEP 654 ExceptionGroup.subgroup on nested groups), for the helpers.
    auto inner = std::make_exception_ptr(
        bulb::ExceptionGroup("inner", {std::make_exception_ptr(bulb::TimeoutError())}));
    auto outer = std::make_exception_ptr(
        bulb::ExceptionGroup("outer", {std::make_exception_ptr(std::logic_error("x")), inner}));
    CHECK(bulb::holds_exception<bulb::TimeoutError>(outer));
    CHECK(bulb::holds_exception<std::logic_error>(outer));
    CHECK(bulb::find_exception<std::logic_error>(outer)->what() == std::string("x"));
    CHECK_FALSE(bulb::holds_exception<std::range_error>(outer));
    CHECK_FALSE(bulb::holds_exception<std::exception>(std::exception_ptr()));
    // Groups are looked into before they are matched (except*), unless the kind is a group.
    CHECK(bulb::find_exception<std::exception>(outer)->what() == std::string("x"));
    CHECK(bulb::find_exception<bulb::ExceptionGroup>(outer)->message() == "outer");
    const auto& g = *bulb::find_exception<bulb::ExceptionGroup>(outer);
    CHECK(g.find<bulb::ExceptionGroup>()->message() == "inner");
    auto [timeouts, rest] = g.split<bulb::TimeoutError>();
    CHECK(timeouts.size() == 1);
    CHECK(rest.size() == 1);
    auto [groups, others] = g.split<bulb::ExceptionGroup>();
    CHECK(groups.size() == 1);
    CHECK(others.size() == 1);
}
