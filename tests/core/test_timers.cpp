// SPDX-License-Identifier: MIT
/// @file
/// Timers: call_later / call_at ordering, cancellation, the purge of cancelled far timers, the loop clock.
#include "support/loop_fixture.hpp"

#include <ctime>
#include <memory>
#include <vector>

using namespace bulb_test;

namespace {

std::chrono::nanoseconds thread_cpu_time() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

TEST_SUITE("timers") {

TEST_CASE("call_at timers run in deadline order, not scheduling order") {
    bulb_test::AuditedLoop loop;
    std::vector<int> order;
    auto base = loop.time();
    loop.call_at(base + 6ms, [&] {
        order.push_back(3);
        loop.stop();
    });
    loop.call_at(base + 2ms, [&] { order.push_back(1); });
    loop.call_at(base + 4ms, [&] { order.push_back(2); });
    loop.run_forever();
    CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("call_later timers run in deadline order") {
    bulb_test::AuditedLoop loop;
    std::vector<int> order;
    loop.call_later(30ms, [&] {
        order.push_back(30);
        loop.stop();
    });
    loop.call_later(10ms, [&] { order.push_back(10); });
    loop.call_later(20ms, [&] { order.push_back(20); });
    loop.run_forever();
    CHECK(order == std::vector<int>{10, 20, 30});
}

TEST_CASE("timers with equal deadlines run in the order they were scheduled") {
    bulb_test::AuditedLoop loop;
    std::vector<int> order;
    auto when = loop.time() + 2ms;
    for (int i = 0; i < 50; ++i) loop.call_at(when, [&order, i] { order.push_back(i); });
    loop.call_at(when, [&] { loop.stop(); });
    loop.run_forever();
    REQUIRE(order.size() == 50);
    for (int i = 0; i < 50; ++i) CHECK(order[i] == i);
}

TEST_CASE("a due timer runs after the call_soon callbacks already queued") {
    bulb_test::AuditedLoop loop;
    std::vector<int> order;
    loop.call_at(loop.time() - 1ms, [&] { order.push_back(2); });
    loop.call_soon([&] { order.push_back(1); });
    run_once(loop);
    CHECK(order == std::vector<int>{1, 2});
}

TEST_CASE("a negative or zero delay runs on the next iteration, never inline") {
    bulb_test::AuditedLoop loop;
    int ran = 0;
    loop.call_later(-5s, [&] { ++ran; });
    loop.call_later(0ms, [&] { ++ran; });
    CHECK(ran == 0);
    run_once(loop);
    CHECK(ran == 2);
}

TEST_CASE("extreme delays saturate: Duration::max() never fires, Duration::min() fires at once") {
    bulb_test::AuditedLoop loop;
    std::vector<int> order;
    bulb::TimerHandle never = loop.call_later(bulb::Duration::max(), [&] { order.push_back(0); });
    CHECK(never.when() > loop.time() + 24h * 365 * 100);
    loop.call_later(bulb::Duration::min(), [&] { order.push_back(1); });
    loop.call_at(bulb::TimePoint::min(), [&] { order.push_back(2); });
    loop.call_later(2ms, [&] {
        order.push_back(3);
        loop.stop();
    });
    loop.run_forever();  // must neither hang on the far timer nor run it
    CHECK(order == std::vector<int>{2, 1, 3});  // TimePoint::min() is the earliest deadline of all
}

TEST_CASE("a timer scheduled by a timer with no delay runs in the following iteration") {
    bulb_test::AuditedLoop loop;
    std::vector<int> order;
    loop.call_later(0ms, [&] {
        order.push_back(1);
        loop.call_later(0ms, [&] { order.push_back(2); });
    });
    run_once(loop);
    CHECK(order == std::vector<int>{1});
    run_once(loop);
    CHECK(order == std::vector<int>{1, 2});
}

TEST_CASE("when() reports the deadline on the loop clock") {
    bulb_test::AuditedLoop loop;
    auto at = loop.time() + 1h;
    bulb::TimerHandle t = loop.call_at(at, [] {});
    CHECK(t.when() == at);
    auto before = loop.time();
    bulb::TimerHandle l = loop.call_later(10s, [] {});
    CHECK(l.when() >= before + 10s);
    CHECK(l.when() <= loop.time() + 10s);
}

TEST_CASE("a cancelled timer never runs and its captures are destroyed at once") {
    bulb_test::AuditedLoop loop;
    auto token = std::make_shared<int>(0);
    bool ran = false;
    bulb::TimerHandle t = loop.call_later(1ms, [&ran, token] { ran = true; });
    CHECK(token.use_count() == 2);
    t.cancel();
    CHECK(t.cancelled());
    CHECK(token.use_count() == 1);
    loop.call_later(5ms, [&] { loop.stop(); });
    loop.run_forever();
    CHECK_FALSE(ran);
}

TEST_CASE("a timer cancelled by an earlier timer of the same iteration does not run") {
    bulb_test::AuditedLoop loop;
    std::vector<int> order;
    auto when = loop.time() + 1ms;
    bulb::TimerHandle second;
    loop.call_at(when, [&] {
        order.push_back(1);
        second.cancel();
    });
    second = loop.call_at(when, [&] { order.push_back(2); });
    loop.call_at(when, [&] {
        order.push_back(3);
        loop.stop();
    });
    loop.run_forever();
    CHECK(order == std::vector<int>{1, 3});
}

TEST_CASE("a timer may cancel itself while it runs") {
    bulb_test::AuditedLoop loop;
    bulb::TimerHandle self;
    auto token = std::make_shared<int>(0);
    long inside = 0;
    self = loop.call_later(0ms, [&, token] {
        self.cancel();
        inside = token.use_count();
    });
    run_once(loop);
    CHECK(inside == 2);
    CHECK(token.use_count() == 1);
}

TEST_CASE("cancelling a timer that already ran is harmless") {
    bulb_test::AuditedLoop loop;
    int runs = 0;
    bulb::TimerHandle t = loop.call_later(0ms, [&] { ++runs; });
    run_once(loop);
    CHECK(runs == 1);
    t.cancel();
    CHECK(t.cancelled());
    std::vector<int> order;  // the loop's bookkeeping is unaffected
    for (int i = 0; i < 3; ++i) loop.call_later(0ms, [&order, i] { order.push_back(i); });
    run_once(loop);
    CHECK(order == std::vector<int>{0, 1, 2});
    CHECK(runs == 1);
}

TEST_CASE("a cancelled earliest timer does not hold back later timers") {
    bulb_test::AuditedLoop loop;
    bool ran = false;
    bulb::TimerHandle head = loop.call_later(1ms, [] {});
    loop.call_later(2ms, [&] {
        ran = true;
        loop.stop();
    });
    head.cancel();
    loop.run_forever();
    CHECK(ran);
}

TEST_CASE("timers left after most of a large batch is cancelled still run, in order") {
    bulb_test::AuditedLoop loop;
    constexpr int n = 400;
    std::vector<int> order;
    std::vector<bulb::TimerHandle> handles;
    int destroyed = 0;
    auto base = loop.time() + 2ms;
    // Scheduled in a scrambled order so they really have to be sorted.
    for (int k = 0; k < n; ++k) {
        int i = (k * 7919) % n;
        handles.push_back(loop.call_at(base + std::chrono::microseconds(10 * i),
                                       [&order, i, c = DestroyCounter(&destroyed)] { order.push_back(i); }));
    }
    int cancelled = 0;
    for (int k = 0; k < n; ++k) {
        int i = (k * 7919) % n;
        if (i % 5 != 0) {
            handles[k].cancel();
            ++cancelled;
        }
    }
    CHECK(destroyed == cancelled);  // every cancelled capture is gone before the loop runs
    loop.call_at(base + std::chrono::microseconds(10 * n), [&] { loop.stop(); });
    loop.run_forever();
    std::vector<int> expected;
    for (int i = 0; i < n; i += 5) expected.push_back(i);
    CHECK(order == expected);
    CHECK(destroyed == n);
}

TEST_CASE("cancelling after a purge of far timers keeps the remaining timers correct") {
    bulb_test::AuditedLoop loop;
    std::vector<int> order;
    std::vector<bulb::TimerHandle> handles;
    auto base = loop.time() + 1h;
    for (int i = 0; i < 300; ++i) handles.push_back(loop.call_at(base + std::chrono::seconds(i), [] {}));
    for (int i = 0; i < 250; ++i) handles[i].cancel();
    run_once(loop);  // purges the dead majority
    for (int i = 250; i < 300; ++i) handles[i].cancel();
    auto soon = loop.time();
    for (int i = 0; i < 3; ++i) loop.call_at(soon, [&order, i] { order.push_back(i); });
    run_once(loop);
    CHECK(order == std::vector<int>{0, 1, 2});
    // A new batch after everything old died keeps deadline order.
    order.clear();
    auto t0 = loop.time() + 1ms;
    for (int i = 4; i >= 0; --i) loop.call_at(t0 + std::chrono::microseconds(100 * i), [&order, i] { order.push_back(i); });
    loop.call_at(t0 + 1ms, [&] { loop.stop(); });
    loop.run_forever();
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("time() is monotonic and follows the steady clock") {
    bulb_test::AuditedLoop loop;
    auto prev = loop.time();
    for (int i = 0; i < 10000; ++i) {
        auto now = loop.time();
        REQUIRE(now >= prev);
        prev = now;
    }
    auto diff = loop.time() - bulb::Clock::now();
    CHECK(std::chrono::abs(diff) < 1s);
}

TEST_CASE("call_later(50ms) fires no earlier than 50ms of real time") {
    bulb_test::AuditedLoop loop;
    auto start = std::chrono::steady_clock::now();
    std::chrono::steady_clock::duration fired{};
    loop.call_later(50ms, [&] {
        fired = std::chrono::steady_clock::now() - start;
        loop.stop();
    });
    loop.run_forever();
    CHECK(fired >= 50ms);
    CHECK(fired < 2s);
}

TEST_CASE("sub-millisecond timers are not fired early") {
    bulb_test::AuditedLoop loop;
    for (int round = 0; round < 20; ++round) {
        auto deadline = loop.time() + 300us;
        bulb::TimePoint fired{};
        loop.call_at(deadline, [&] {
            fired = loop.time();
            loop.stop();
        });
        loop.run_forever();
        CHECK(fired >= deadline);
    }
}

TEST_CASE("waiting for a timer sleeps in poll instead of spinning") {
    bulb_test::AuditedLoop loop;
    loop.call_later(100ms, [&] { loop.stop(); });
    auto cpu = thread_cpu_time();
    loop.run_forever();
    CHECK(thread_cpu_time() - cpu < 50ms);
}

}  // TEST_SUITE
