// SPDX-License-Identifier: MIT
/// @file
/// wait() and as_completed().
#include "coro_support.hpp"

#include <stdexcept>

using namespace coro_test;

namespace {

/// Futures f[i] completed with value i at the given delays (negative: never).
std::vector<bulb::Future<int>> timed_futures(bulb::EventLoop& loop, std::vector<int> delays_ms) {
    std::vector<bulb::Future<int>> fs;
    for (std::size_t i = 0; i < delays_ms.size(); ++i) {
        fs.emplace_back(loop);
        if (delays_ms[i] >= 0)
            loop.call_later(std::chrono::milliseconds(delays_ms[i]), [f = fs.back(), i]() mutable {
                if (!f.done()) f.set_result(static_cast<int>(i));
            });
    }
    return fs;
}

std::vector<int> values(std::vector<bulb::Future<int>>& fs) {
    std::vector<int> v;
    for (auto& f : fs) v.push_back(f.result());
    return v;
}

}  // namespace

TEST_SUITE("wait") {

TEST_CASE("wait with all_completed returns once every future is done") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto fs = timed_futures(loop, {30, 10, 20});
    auto start = loop.time();
    auto main_task = [&]() -> bulb::Task<> {
        auto [done, pending] = co_await bulb::wait(fs);
        CHECK(pending.empty());
        CHECK(values(done) == std::vector<int>{0, 1, 2});  // input order
    };
    run(loop, main_task());
    CHECK(seconds_since(loop, start) == doctest::Approx(0.03).epsilon(0.01));
}

TEST_CASE("wait with first_completed returns after the first future completes") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto fs = timed_futures(loop, {30, 10, -1});
    auto main_task = [&]() -> bulb::Task<> {
        auto [done, pending] = co_await bulb::wait(fs, bulb::ReturnWhen::first_completed);
        REQUIRE(done.size() == 1);
        CHECK(done[0] == fs[1]);
        CHECK(pending.size() == 2);
    };
    run(loop, main_task());
    for (auto& f : fs) f.cancel();
}

TEST_CASE("wait with first_exception returns at the first exception") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto fs = timed_futures(loop, {10, -1, -1});
    loop.call_later(20ms, [f = fs[1]]() mutable { f.set_exception(std::make_exception_ptr(std::runtime_error("x"))); });
    auto main_task = [&]() -> bulb::Task<> {
        auto [done, pending] = co_await bulb::wait(fs, bulb::ReturnWhen::first_exception);
        CHECK(done.size() == 2);  // the first result did not end the wait, the exception did
        CHECK(pending.size() == 1);
        CHECK_THROWS_AS(fs[1].result(), std::runtime_error);
    };
    run(loop, main_task());
    fs[2].cancel();
}

TEST_CASE("wait with first_exception and no exception waits for all, cancellations included") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto fs = timed_futures(loop, {10, 30, -1});
    loop.call_later(20ms, [f = fs[2]]() mutable { f.cancel(); });
    auto main_task = [&]() -> bulb::Task<std::size_t> {
        auto [done, pending] = co_await bulb::wait(fs, bulb::ReturnWhen::first_exception);
        CHECK(pending.empty());
        co_return done.size();
    };
    CHECK(run(loop, main_task()) == 3);
}

TEST_CASE("wait with a timeout returns the pending futures without cancelling them") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto fs = timed_futures(loop, {10, 5000});
    auto start = loop.time();
    auto main_task = [&]() -> bulb::Task<> {
        auto [done, pending] = co_await bulb::wait(fs, bulb::ReturnWhen::all_completed, 1s);
        CHECK(done.size() == 1);
        REQUIRE(pending.size() == 1);
        CHECK_FALSE(pending[0].cancelled());
    };
    run(loop, main_task());
    CHECK(seconds_since(loop, start) == doctest::Approx(1.0).epsilon(0.01));
    CHECK(loop.run_until_complete(fs[1]) == 1);
}

TEST_CASE("wait with only a timeout waits for all until the deadline") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto fs = timed_futures(loop, {10, 20, 5000});
    auto main_task = [&]() -> bulb::Task<std::size_t> {
        auto [done, pending] = co_await bulb::wait(fs, 1s);
        CHECK(pending.size() == 1);
        co_return done.size();
    };
    CHECK(run(loop, main_task()) == 2);
    fs[2].cancel();
}

TEST_CASE("wait of an empty set throws std::invalid_argument") {
    bulb_test::AuditedLoop loop;
    auto main_task = []() -> bulb::Task<> { co_await bulb::wait(std::vector<bulb::Future<int>>{}); };
    CHECK_THROWS_AS(run(loop, main_task()), std::invalid_argument);
}

TEST_CASE("cancelling the task in wait leaves the futures untouched") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto fs = timed_futures(loop, {5000});
    auto main_task = [&]() -> bulb::Task<> { co_await bulb::wait(fs); };
    auto f = bulb::create_task(loop, main_task());
    loop.call_later(1s, [f]() mutable { f.cancel(); });
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    CHECK_FALSE(fs[0].done());
    CHECK(loop.run_until_complete(fs[0]) == 0);
}

TEST_CASE("wait works on task futures") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto main_task = [&]() -> bulb::Task<int> {
        std::vector<bulb::Future<int>> tasks{bulb::create_task(after(2s, 2)), bulb::create_task(after(1s, 1))};
        auto [done, pending] = co_await bulb::wait(tasks, bulb::ReturnWhen::first_completed);
        REQUIRE(done.size() == 1);
        int first = done[0].result();
        pending[0].cancel();
        co_return first;
    };
    CHECK(run(loop, main_task()) == 1);
}

TEST_CASE("as_completed yields the futures in completion order") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto fs = timed_futures(loop, {30, 10, 20, 0});
    auto main_task = [&]() -> bulb::Task<std::vector<int>> {
        std::vector<int> order;
        auto gen = bulb::as_completed(fs);
        while (auto f = co_await gen.next()) order.push_back(f->result());
        co_return order;
    };
    CHECK(run(loop, main_task()) == std::vector<int>{3, 1, 2, 0});
}

TEST_CASE("as_completed yields failed and cancelled futures as well") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto fs = timed_futures(loop, {-1, -1, 30});
    loop.call_later(10ms, [f = fs[0]]() mutable { f.cancel(); });
    loop.call_later(20ms, [f = fs[1]]() mutable { f.set_exception(std::make_exception_ptr(std::logic_error("e"))); });
    auto main_task = [&]() -> bulb::Task<std::vector<std::string>> {
        std::vector<std::string> seen;
        auto gen = bulb::as_completed(fs);
        while (auto f = co_await gen.next()) {
            if (f->cancelled())
                seen.push_back("cancelled");
            else if (f->exception())
                seen.push_back("exception");
            else
                seen.push_back(std::to_string(f->result()));
        }
        co_return seen;
    };
    CHECK(run(loop, main_task()) == std::vector<std::string>{"cancelled", "exception", "2"});
}

TEST_CASE("as_completed with a timeout throws TimeoutError once the deadline passes") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto fs = timed_futures(loop, {10, 5000});
    auto main_task = [&]() -> bulb::Task<int> {
        int got = 0;
        auto gen = bulb::as_completed(fs, 1s);
        try {
            while (auto f = co_await gen.next()) got += 1 + f->result();
        } catch (const bulb::TimeoutError&) {
            CHECK(gen.done());
            CHECK_FALSE(fs[1].done());
            co_return got;
        }
        co_return -1;
    };
    CHECK(run(loop, main_task()) == 1);
    fs[1].cancel();
}

TEST_CASE("cancelling a task waiting in as_completed leaves the futures running") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto fs = timed_futures(loop, {5000});
    auto main_task = [&]() -> bulb::Task<> {
        auto gen = bulb::as_completed(fs);
        while (co_await gen.next()) {
        }
    };
    auto f = bulb::create_task(loop, main_task());
    loop.call_later(1s, [f]() mutable { f.cancel(); });
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    CHECK(loop.run_until_complete(fs[0]) == 0);
}

}  // TEST_SUITE
