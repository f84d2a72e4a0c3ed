// SPDX-License-Identifier: MIT
/// @file
/// gather(): results, failures, cancellation, scale.
#include "coro_support.hpp"

#include <chrono>
#include <cstdio>
#include <stdexcept>

using namespace coro_test;

namespace {

bulb::Task<> nothing_after(bulb::Duration d, std::vector<std::string>* log, std::string name) {
    co_await bulb::sleep(d);
    log->push_back(name);
}

}  // namespace

TEST_SUITE("gather") {

TEST_CASE("gather returns the results in argument order whatever the completion order") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::vector<std::string> log;
    auto main_task = [&]() -> bulb::Task<> {
        auto [a, b, c] = co_await bulb::gather(after(30ms, 1), after(10ms, std::string("two")),
                                               nothing_after(20ms, &log, "three"));
        CHECK(a == 1);
        CHECK(b == "two");
        CHECK(std::is_same_v<decltype(c), std::monostate>);
    };
    run(loop, main_task());
    CHECK(log == std::vector<std::string>{"three"});
}

TEST_CASE("gather runs its children concurrently") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto start = loop.time();
    auto main_task = [&]() -> bulb::Task<int> {
        auto [a, b, c] = co_await bulb::gather(after(1s, 1), after(1s, 2), after(1s, 3));
        co_return a + b + c;
    };
    CHECK(run(loop, main_task()) == 6);
    CHECK(seconds_since(loop, start) == doctest::Approx(1.0).epsilon(0.01));
}

TEST_CASE("gather accepts futures and tasks together") {
    bulb_test::AuditedLoop loop;
    bulb::Future<std::string> fut(loop);
    bulb::Future<void> done(loop);
    loop.call_soon([&] {
        fut.set_result("from a future");
        done.set_result();
    });
    auto main_task = [&]() -> bulb::Task<> {
        auto [s, n, v] = co_await bulb::gather(fut, after(1ms, 5), done);
        CHECK(s == "from a future");
        CHECK(n == 5);
        (void)v;
    };
    run(loop, main_task());
    CHECK(fut.result() == "from a future");  // a future's value is copied, not taken
}

TEST_CASE("gather over a vector of tasks returns the results in input order") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto main_task = [&]() -> bulb::Task<std::vector<int>> {
        std::vector<bulb::Task<int>> tasks;
        for (int i = 0; i < 10; ++i) tasks.push_back(after(std::chrono::milliseconds(100 - i * 10), i));
        co_return co_await bulb::gather(std::move(tasks));
    };
    CHECK(run(loop, main_task()) == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("gather over a vector of futures returns their results in input order") {
    bulb_test::AuditedLoop loop;
    std::vector<bulb::Future<int>> futures;
    for (int i = 0; i < 5; ++i) futures.emplace_back(loop);
    for (int i = 4; i >= 0; --i) loop.call_soon([&futures, i] { futures[i].set_result(i * i); });
    auto main_task = [&]() -> bulb::Task<std::vector<int>> { co_return co_await bulb::gather(futures); };
    CHECK(run(loop, main_task()) == std::vector<int>{0, 1, 4, 9, 16});
}

TEST_CASE("gather over a vector of Task<void> is a Task<void> that waits for all of them") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::vector<std::string> log;
    auto main_task = [&]() -> bulb::Task<> {
        std::vector<bulb::Task<>> tasks;
        tasks.push_back(nothing_after(20ms, &log, "b"));
        tasks.push_back(nothing_after(10ms, &log, "a"));
        bulb::Task<> all = bulb::gather(std::move(tasks));
        co_await std::move(all);
    };
    run(loop, main_task());
    CHECK(log == std::vector<std::string>{"a", "b"});
}

TEST_CASE("gather of an empty vector completes at once") {
    bulb_test::AuditedLoop loop;
    auto main_task = []() -> bulb::Task<std::size_t> {
        auto r = co_await bulb::gather(std::vector<bulb::Task<int>>{});
        co_return r.size();
    };
    CHECK(run(loop, main_task()) == 0);
}

TEST_CASE("gather passes move-only results through") {
    bulb_test::AuditedLoop loop;
    auto make = [](int v) -> bulb::Task<std::unique_ptr<int>> {
        co_await bulb::sleep(0ms);
        co_return std::make_unique<int>(v);
    };
    auto main_task = [&]() -> bulb::Task<int> {
        auto [a, b] = co_await bulb::gather(make(1), make(2));
        std::vector<bulb::Task<std::unique_ptr<int>>> more;
        more.push_back(make(3));
        auto v = co_await bulb::gather(std::move(more));
        co_return *a + *b + *v.at(0);
    };
    CHECK(run(loop, main_task()) == 6);
}

TEST_CASE("the first failure cancels the other children and is rethrown once they have finished") {
    bulb_test::AuditedLoop loop(virtual_clock());
    bool slow_cancelled = false;
    bool slow_cleanup_done = false;
    auto slow = [&]() -> bulb::Task<int> {
        try {
            co_await bulb::sleep(1h);
        } catch (const bulb::CancelledError&) {
            slow_cancelled = true;
        }
        co_await bulb::sleep(5s);  // cleanup that takes time: gather must wait for it
        slow_cleanup_done = true;
        throw bulb::CancelledError();
    };
    auto start = loop.time();
    auto main_task = [&]() -> bulb::Task<std::string> {
        try {
            co_await bulb::gather(slow(), fail_after(1s, "first"), fail_after(2s, "second"));
        } catch (const std::runtime_error& e) {
            CHECK(slow_cleanup_done);
            co_return e.what();
        }
        co_return "no exception";
    };
    CHECK(run(loop, main_task()) == "first");
    CHECK(slow_cancelled);
    CHECK(seconds_since(loop, start) == doctest::Approx(6.0).epsilon(0.01));
}

TEST_CASE("a failure in gather over a vector cancels the rest") {
    bulb_test::AuditedLoop loop(virtual_clock());
    int cancelled = 0;
    auto child = [&](int i) -> bulb::Task<int> {
        if (i == 3) {
            co_await bulb::sleep(1ms);
            throw std::invalid_argument("three");
        }
        try {
            co_await bulb::sleep(1h);
        } catch (const bulb::CancelledError&) {
            ++cancelled;
            throw;
        }
        co_return i;
    };
    auto main_task = [&]() -> bulb::Task<> {
        std::vector<bulb::Task<int>> tasks;
        for (int i = 0; i < 8; ++i) tasks.push_back(child(i));
        co_await bulb::gather(std::move(tasks));
    };
    auto start = loop.time();
    CHECK_THROWS_WITH_AS(run(loop, main_task()), "three", std::invalid_argument);
    CHECK(cancelled == 7);
    CHECK(seconds_since(loop, start) < 1.0);
}

TEST_CASE("a child cancelled from outside makes gather throw CancelledError") {
    bulb_test::AuditedLoop loop(virtual_clock());
    bulb::Future<int> fut(loop);
    bool other_cancelled = false;
    loop.call_later(1s, [&] { fut.cancel("outside"); });
    auto main_task = [&]() -> bulb::Task<> {
        auto waiting = [](bool* c) -> bulb::Task<int> {
            co_await sleeper(1h, c);
            co_return 0;
        };
        co_await bulb::gather(fut, waiting(&other_cancelled));
    };
    CHECK_THROWS_AS(run(loop, main_task()), bulb::CancelledError);
    CHECK(other_cancelled);
}

TEST_CASE("cancelling the task awaiting gather cancels every child and waits for them") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::vector<std::string> log;
    auto child = [&](std::string name) -> bulb::Task<int> {
        try {
            co_await bulb::sleep(1h);
        } catch (const bulb::CancelledError&) {
            log.push_back(name + " cancelled");
        }
        co_await bulb::sleep(1s);  // slow cleanup
        log.push_back(name + " cleaned up");
        co_return 0;  // suppresses the cancellation: gather must still throw CancelledError
    };
    auto main_task = [&]() -> bulb::Task<> {
        try {
            co_await bulb::gather(child("a"), child("b"));
        } catch (const bulb::CancelledError& e) {
            log.push_back(std::string("gather: ") + e.what());
            throw;
        }
    };
    auto f = bulb::create_task(loop, main_task());
    loop.call_later(10ms, [f]() mutable { f.cancel("enough"); });
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    CHECK(log == std::vector<std::string>{"a cancelled", "b cancelled", "a cleaned up", "b cleaned up",
                                          "gather: enough"});
}

TEST_CASE("a gather scheduled as its own task is cancelled through its future") {
    bulb_test::AuditedLoop loop(virtual_clock());
    bool a_cancelled = false;
    bool b_cancelled = false;
    auto f = bulb::create_task(loop, bulb::gather(sleeper(1h, &a_cancelled), sleeper(1h, &b_cancelled)));
    loop.call_later(1s, [f]() mutable { f.cancel(); });
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    CHECK(a_cancelled);
    CHECK(b_cancelled);
}

TEST_CASE("cancelling gather again passes the new cancellation on to its children") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::vector<std::string> log;
    auto child = [&](std::string name) -> bulb::Task<int> {
        try {
            co_await bulb::sleep(1h);
        } catch (const bulb::CancelledError&) {
            log.push_back(name + " ignores the first cancel");
        }
        try {
            co_await bulb::sleep(1h);
        } catch (const bulb::CancelledError&) {
            log.push_back(name + " cancelled again");
            throw;
        }
        co_return 1;
    };
    auto main_task = [&]() -> bulb::Task<> { co_await bulb::gather(child("a"), child("b")); };
    auto f = bulb::create_task(loop, main_task());
    auto start = loop.time();
    loop.call_later(1s, [f]() mutable { f.cancel(); });
    loop.call_later(2s, [f]() mutable { f.cancel(); });
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    CHECK(log == std::vector<std::string>{"a ignores the first cancel", "b ignores the first cancel",
                                          "a cancelled again", "b cancelled again"});
    CHECK(seconds_since(loop, start) == doctest::Approx(2.0).epsilon(0.01));
}

TEST_CASE("wait_for around gather times out and cancels the children") {
    bulb_test::AuditedLoop loop(virtual_clock());
    bool a_cancelled = false;
    bool b_cancelled = false;
    auto main_task = [&]() -> bulb::Task<> {
        co_await bulb::wait_for(bulb::gather(sleeper(1h, &a_cancelled), sleeper(2h, &b_cancelled)), 1s);
    };
    CHECK_THROWS_AS(run(loop, main_task()), bulb::TimeoutError);
    CHECK(a_cancelled);
    CHECK(b_cancelled);
}

TEST_CASE("gather of 200,000 tasks completes in linear time") {
    bulb_test::AuditedLoop loop;
    auto child = [](int i) -> bulb::Task<int> {
        co_await bulb::sleep(0ms);
        co_return i;
    };
    auto gather_n = [&](int n) -> bulb::Task<long long> {
        std::vector<bulb::Task<int>> tasks;
        tasks.reserve(n);
        for (int i = 0; i < n; ++i) tasks.push_back(child(i));
        auto results = co_await bulb::gather(std::move(tasks));
        long long sum = 0;
        for (int r : results) sum += r;
        co_return sum;
    };
    auto timed = [&](int n) {
        auto t0 = std::chrono::steady_clock::now();
        long long sum = run(loop, gather_n(n));
        CHECK(sum == static_cast<long long>(n) * (n - 1) / 2);
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    // Warm up at the largest size: the first touch of fresh memory for 200,000 tasks (huge pages
    // the VM host may have to back, ~0.1 s at times) is not the gather's cost.
    timed(200'000);
    double small = timed(50'000);
    double big = timed(200'000);
    std::printf("gather: 50,000 tasks %.3f s, 200,000 tasks %.3f s\n", small, big);
    CHECK(big < small * 4 * 3);  // 4x the work; quadratic behaviour would be 16x
}

}  // TEST_SUITE
