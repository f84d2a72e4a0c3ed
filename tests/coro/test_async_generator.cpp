// SPDX-License-Identifier: MIT
/// @file
/// AsyncGenerator<T>.
#include "coro_support.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

using namespace coro_test;

namespace {

// The ticker from API-SKETCH.md.
bulb::AsyncGenerator<int> ticker(std::chrono::milliseconds delay, int to) {
    for (int i = 0; i < to; ++i) {
        co_yield i;
        co_await bulb::sleep(delay);
    }
}

bulb::AsyncGenerator<int> counting(int n, bool* cleaned) {
    SetOnDestroy guard(cleaned);
    for (int i = 0; i < n; ++i) co_yield i;
}

/// The machine stack's depth at the call (a coroutine's own locals live in its heap frame).
[[gnu::noinline]] std::uintptr_t stack_depth_probe() {
    return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}

/// Yields n values, recording the lowest and highest stack address its body ran at.
bulb::AsyncGenerator<int> probing(int n, std::uintptr_t* low, std::uintptr_t* high) {
    for (int i = 0; i < n; ++i) {
        const std::uintptr_t at = stack_depth_probe();
        *low = std::min(*low, at);
        *high = std::max(*high, at);
        co_yield i;
    }
}

}  // namespace

TEST_SUITE("async_generator") {

TEST_CASE("the ticker yields its values with a delay between them") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto start = loop.time();
    std::vector<std::pair<int, double>> seen;
    auto main_task = [&]() -> bulb::Task<> {
        auto gen = ticker(std::chrono::milliseconds(100), 5);
        while (auto i = co_await gen.next()) seen.emplace_back(*i, seconds_since(loop, start));
    };
    run(loop, main_task());
    REQUIRE(seen.size() == 5);
    for (int i = 0; i < 5; ++i) {
        CHECK(seen[i].first == i);
        CHECK(seen[i].second == doctest::Approx(0.1 * i).epsilon(0.01));
    }
    CHECK(seconds_since(loop, start) == doctest::Approx(0.5).epsilon(0.01));
}

TEST_CASE("a generator runs nothing before the first next()") {
    bulb_test::AuditedLoop loop;
    bool started = false;
    auto gen_fn = [](bool* s) -> bulb::AsyncGenerator<int> {
        *s = true;
        co_yield 1;
    };
    auto main_task = [&]() -> bulb::Task<int> {
        auto gen = gen_fn(&started);
        co_await bulb::sleep(0ms);
        CHECK_FALSE(started);
        auto v = co_await gen.next();
        CHECK(started);
        co_return *v;
    };
    CHECK(run(loop, main_task()) == 1);
}

TEST_CASE("next() keeps returning nullopt after the end") {
    bulb_test::AuditedLoop loop;
    bool cleaned = false;
    auto main_task = [&]() -> bulb::Task<int> {
        auto gen = counting(2, &cleaned);
        int sum = 0;
        while (auto v = co_await gen.next()) sum += *v + 1;
        CHECK(gen.done());
        CHECK(cleaned);
        CHECK_FALSE(co_await gen.next());
        CHECK_FALSE(co_await gen.next());
        co_return sum;
    };
    CHECK(run(loop, main_task()) == 3);
}

TEST_CASE("destroying a generator early runs its cleanup") {
    bulb_test::AuditedLoop loop;
    bool cleaned = false;
    auto main_task = [&]() -> bulb::Task<> {
        {
            auto gen = counting(100, &cleaned);
            CHECK(*co_await gen.next() == 0);
            CHECK(*co_await gen.next() == 1);
            CHECK_FALSE(cleaned);
        }
        CHECK(cleaned);
    };
    run(loop, main_task());
    CHECK(cleaned);
}

TEST_CASE("an exception inside the generator reaches the consumer at next()") {
    bulb_test::AuditedLoop loop;
    bool cleaned = false;
    auto failing = [](bool* c) -> bulb::AsyncGenerator<int> {
        SetOnDestroy guard(c);
        co_yield 1;
        co_await bulb::sleep(1ms);
        throw std::runtime_error("generator failed");
    };
    auto main_task = [&]() -> bulb::Task<std::string> {
        auto gen = failing(&cleaned);
        CHECK(*co_await gen.next() == 1);
        std::string what = "no exception";
        try {
            co_await gen.next();
        } catch (const std::runtime_error& e) {
            CHECK(cleaned);
            what = e.what();
        }
        CHECK_FALSE(co_await gen.next());  // the exception is thrown once
        co_return what;
    };
    CHECK(run(loop, main_task()) == "generator failed");
}

TEST_CASE("cancelling the consumer while the generator sleeps ends the generator with its cleanup") {
    bulb_test::AuditedLoop loop(virtual_clock());
    bool cleaned = false;
    bool generator_saw_cancel = false;
    auto slow = [&]() -> bulb::AsyncGenerator<int> {
        SetOnDestroy guard(&cleaned);
        co_yield 1;
        try {
            co_await bulb::sleep(1h);
        } catch (const bulb::CancelledError&) {
            generator_saw_cancel = true;
            throw;
        }
        co_yield 2;
    };
    std::vector<int> got;
    auto main_task = [&]() -> bulb::Task<> {
        auto gen = slow();
        try {
            while (auto v = co_await gen.next()) got.push_back(*v);
        } catch (const bulb::CancelledError&) {
            CHECK(cleaned);  // the generator's frame already unwound
            CHECK(gen.done());
            throw;
        }
    };
    auto f = bulb::create_task(loop, main_task());
    auto start = loop.time();
    loop.call_later(1s, [f]() mutable { f.cancel(); });
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    CHECK(got == std::vector<int>{1});
    CHECK(generator_saw_cancel);
    CHECK(cleaned);
    CHECK(seconds_since(loop, start) == doctest::Approx(1.0).epsilon(0.01));
}

TEST_CASE("move-only values pass through co_yield") {
    bulb_test::AuditedLoop loop;
    auto boxes = []() -> bulb::AsyncGenerator<std::unique_ptr<int>> {
        for (int i = 1; i <= 3; ++i) {
            auto p = std::make_unique<int>(i);
            co_await bulb::sleep(0ms);
            co_yield std::move(p);
        }
        co_yield std::make_unique<int>(10);
    };
    auto main_task = [&]() -> bulb::Task<int> {
        int sum = 0;
        auto gen = boxes();
        while (auto p = co_await gen.next()) sum += **p;
        co_return sum;
    };
    CHECK(run(loop, main_task()) == 16);
}

TEST_CASE("a generator can await tasks, futures and gather") {
    bulb_test::AuditedLoop loop(virtual_clock());
    bulb::Future<int> fut(loop);
    loop.call_later(1s, [&] { fut.set_result(100); });
    auto mixed = [&]() -> bulb::AsyncGenerator<int> {
        co_yield co_await after(10ms, 1);
        co_yield co_await fut;
        co_yield co_await bulb::create_task(after(10ms, 3));
        auto [a, b] = co_await bulb::gather(after(10ms, 4), after(20ms, 5));
        co_yield a + b;
    };
    auto main_task = [&]() -> bulb::Task<std::vector<int>> {
        std::vector<int> got;
        auto gen = mixed();
        while (auto v = co_await gen.next()) got.push_back(*v);
        co_return got;
    };
    CHECK(run(loop, main_task()) == std::vector<int>{1, 100, 3, 9});
}

TEST_CASE("a generator yielding many values without suspending does not grow the stack") {
    bulb_test::AuditedLoop loop;
    // The claim itself: the generator's body runs at the same stack depth at every value. A
    // resume nested inside the previous one would sink by a few hundred bytes per value, so
    // over 20,000 values the spread would be megabytes (or the stack would overflow).
    std::uintptr_t low = UINTPTR_MAX, high = 0;
    auto probe_task = [&]() -> bulb::Task<int> {
        int count = 0;
        auto gen = probing(20'000, &low, &high);
        while (co_await gen.next()) ++count;
        co_return count;
    };
    CHECK(run(loop, probe_task()) == 20'000);
    CAPTURE(high - low);
    CHECK(high - low < 4096);

    // And a long run (1,000,000 values) completes with the right sum, without overflowing.
    bool cleaned = false;
    auto main_task = [&]() -> bulb::Task<long long> {
        long long sum = 0;
        auto gen = counting(1'000'000, &cleaned);
        while (auto v = co_await gen.next()) sum += *v;
        co_return sum;
    };
    CHECK(run(loop, main_task()) == 999'999LL * 1'000'000 / 2);
    CHECK(cleaned);
}

TEST_CASE("wait_for around a generator's next() cancels the generator") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto main_task = [&]() -> bulb::Task<> {
        auto gen = ticker(std::chrono::milliseconds(1000), 10);
        CHECK(*co_await gen.next() == 0);
        co_await bulb::wait_for(gen.next(), 100ms);
    };
    CHECK_THROWS_AS(run(loop, main_task()), bulb::TimeoutError);
}

TEST_CASE("two tasks calling next() at once is an error") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto gen = ticker(std::chrono::milliseconds(1000), 10);
    auto consume = [&]() -> bulb::Task<> {
        co_await gen.next();
        co_await gen.next();  // sleeps inside the generator for 1 s
    };
    auto a = bulb::create_task(loop, consume());
    auto intruder = [&]() -> bulb::Task<> {
        co_await bulb::sleep(500ms);
        co_await gen.next();
    };
    CHECK_THROWS_AS(loop.run_until_complete(bulb::create_task(loop, intruder())), bulb::InvalidStateError);
    loop.run_until_complete(std::move(a));
}

}  // TEST_SUITE
