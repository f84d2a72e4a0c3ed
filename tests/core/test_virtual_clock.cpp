// SPDX-License-Identifier: MIT
/// @file
/// LoopOptions::virtual_clock: time jumps to the next deadline when nothing is ready.
#include "support/loop_fixture.hpp"

#include <ctime>
#include <functional>
#include <thread>
#include <vector>

using namespace bulb_test;

namespace {

bulb::LoopOptions virtual_clock() {
    bulb::LoopOptions o;
    o.virtual_clock = true;
    return o;
}

std::chrono::nanoseconds thread_cpu_time() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

TEST_SUITE("virtual clock") {

TEST_CASE("a one-hour call_later finishes in milliseconds and advances time() by an hour") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto start_loop = loop.time();
    auto start_wall = std::chrono::steady_clock::now();
    bulb::TimePoint fired_at{};
    loop.call_later(1h, [&] {
        fired_at = loop.time();
        loop.stop();
    });
    loop.run_forever();
    auto wall = std::chrono::steady_clock::now() - start_wall;
    CHECK(wall < 1s);
    CHECK(fired_at - start_loop >= 1h);
    CHECK(fired_at - start_loop < 1h + 1s);
}

TEST_CASE("virtual time stands still while callbacks are ready") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto t0 = loop.time();
    std::this_thread::sleep_for(20ms);
    CHECK(loop.time() == t0);  // wall time does not move it
    int n = 0;
    bulb::TimePoint seen{};
    loop.call_soon([&] {
        ++n;
        seen = loop.time();
    });
    run_once(loop);
    CHECK(n == 1);
    CHECK(seen == t0);
}

TEST_CASE("timers keep their deadline order and FIFO ties on the virtual clock") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::vector<int> order;
    auto t0 = loop.time();
    loop.call_later(3h, [&] {
        order.push_back(4);
        loop.stop();
    });
    loop.call_later(1h, [&] { order.push_back(1); });
    loop.call_at(t0 + 2h, [&] { order.push_back(2); });
    loop.call_at(t0 + 2h, [&] { order.push_back(3); });
    loop.call_later(10min, [&] { order.push_back(0); });
    loop.run_forever();
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
    CHECK(loop.time() - t0 == 3h);
}

TEST_CASE("each timer sees the virtual time of its own deadline") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto t0 = loop.time();
    std::vector<bulb::Duration> seen;
    for (int i = 1; i <= 5; ++i) loop.call_at(t0 + i * 1min, [&] { seen.push_back(loop.time() - t0); });
    loop.call_at(t0 + 6min, [&] { loop.stop(); });
    loop.run_forever();
    CHECK(seen == std::vector<bulb::Duration>{1min, 2min, 3min, 4min, 5min});
}

TEST_CASE("a cancelled timer does not advance the virtual clock") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto t0 = loop.time();
    bulb::TimerHandle early = loop.call_later(1min, [] {});
    bulb::TimePoint fired{};
    loop.call_later(1h, [&] {
        fired = loop.time();
        loop.stop();
    });
    early.cancel();
    loop.run_forever();
    CHECK(fired - t0 == 1h);
}

TEST_CASE("run_until_complete with a long timeout chain on the virtual clock") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto t0 = loop.time();
    bulb::Future<int> f(loop);
    int steps = 0;
    std::function<void()> step = [&] {
        if (++steps == 24)
            f.set_result(steps);
        else
            loop.call_later(1h, step);
    };
    loop.call_later(1h, step);
    auto wall = std::chrono::steady_clock::now();
    CHECK(loop.run_until_complete(f) == 24);
    CHECK(std::chrono::steady_clock::now() - wall < 1s);
    CHECK(loop.time() - t0 == 24h);
}

TEST_CASE("I/O still works on a virtual-clock loop") {
    bulb_test::AuditedLoop loop(virtual_clock());
    SocketPair sp;
    bool got = false;
    loop.add_reader(sp.fd[0], [&] {
        char c;
        got = ::read(sp.fd[0], &c, 1) == 1;
        loop.stop();
    });
    REQUIRE(::write(sp.fd[1], "x", 1) == 1);
    loop.run_forever();
    CHECK(got);
    loop.remove_reader(sp.fd[0]);
}

TEST_CASE("a virtual-clock loop with nothing to do sleeps in poll instead of spinning") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::thread other([&] {
        std::this_thread::sleep_for(100ms);
        loop.call_soon_threadsafe([&] { loop.stop(); });
    });
    auto cpu = thread_cpu_time();
    loop.run_forever();
    other.join();
    CHECK(thread_cpu_time() - cpu < 50ms);
}

}  // TEST_SUITE
