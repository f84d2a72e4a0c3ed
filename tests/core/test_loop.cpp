// SPDX-License-Identifier: MIT
/// @file
/// EventLoop: the ready queue, handles, one iteration, stop/run/close states, the running loop.
#include "support/loop_fixture.hpp"

#include <functional>
#include <memory>
#include <vector>

using namespace bulb_test;

TEST_SUITE("loop") {

TEST_CASE("call_soon callbacks run in FIFO order and only from the loop") {
    bulb_test::AuditedLoop loop;
    std::vector<int> order;
    for (int i = 0; i < 10; ++i) loop.call_soon([&order, i] { order.push_back(i); });
    CHECK(order.empty());  // nothing runs inside call_soon
    run_once(loop);
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("FIFO order holds across a large batch that grows the ready queue") {
    bulb_test::AuditedLoop loop;
    std::vector<int> order;
    constexpr int n = 5000;
    for (int i = 0; i < n; ++i) loop.call_soon([&order, i] { order.push_back(i); });
    run_once(loop);
    REQUIRE(order.size() == n);
    for (int i = 0; i < n; ++i) CHECK_MESSAGE(order[i] == i, "position " << i);
}

TEST_CASE("a handle cancelled before it runs never runs and releases its captures at once") {
    bulb_test::AuditedLoop loop;
    auto token = std::make_shared<int>(7);
    bool ran = false;
    bulb::Handle h = loop.call_soon([&ran, token] { ran = true; });
    CHECK(token.use_count() == 2);
    CHECK_FALSE(h.cancelled());
    h.cancel();
    CHECK(h.cancelled());
    CHECK(token.use_count() == 1);  // destroyed by cancel(), not later
    h.cancel();                     // idempotent
    run_once(loop);
    CHECK_FALSE(ran);
}

TEST_CASE("captures of a callback that ran are destroyed right after it returns") {
    bulb_test::AuditedLoop loop;
    int destroyed = 0;
    bulb::Handle h = loop.call_soon([c = DestroyCounter(&destroyed)] {});
    CHECK(destroyed == 0);
    run_once(loop);
    CHECK(destroyed == 1);  // even though the handle is still held
    CHECK(h);
}

TEST_CASE("a callback may cancel its own handle while it runs") {
    bulb_test::AuditedLoop loop;
    auto token = std::make_shared<int>(1);
    bulb::Handle self;
    long seen_inside = 0;
    int runs = 0;
    self = loop.call_soon([&, token] {
        ++runs;
        self.cancel();
        seen_inside = token.use_count();  // captures stay alive until the callback returns
    });
    run_once(loop);
    CHECK(runs == 1);
    CHECK(seen_inside == 2);
    CHECK(self.cancelled());
    CHECK(token.use_count() == 1);
    run_once(loop);
    CHECK(runs == 1);
}

TEST_CASE("a callback cancelling a later callback of the same iteration prevents it") {
    bulb_test::AuditedLoop loop;
    std::vector<int> order;
    bulb::Handle second;
    loop.call_soon([&] {
        order.push_back(1);
        second.cancel();
    });
    second = loop.call_soon([&] { order.push_back(2); });
    loop.call_soon([&] { order.push_back(3); });
    run_once(loop);
    CHECK(order == std::vector<int>{1, 3});
}

TEST_CASE("a handle may outlive its loop and be cancelled afterwards") {
    bulb::Handle h;
    bulb::TimerHandle t;
    auto token = std::make_shared<int>(0);
    {
        bulb_test::AuditedLoop loop;
        h = loop.call_soon([token] {});
        t = loop.call_later(1h, [token] {});
    }
    CHECK(token.use_count() == 1);  // the loop's teardown dropped both callbacks
    h.cancel();
    t.cancel();
    CHECK(h.cancelled());
}

TEST_CASE("one iteration runs only what was ready when it began") {
    bulb_test::AuditedLoop loop;
    int count = 0;
    std::function<void()> again = [&] {
        ++count;
        loop.call_soon([&] { again(); });
    };
    loop.call_soon([&] { again(); });
    run_once(loop);
    CHECK(count == 1);
    run_once(loop);
    CHECK(count == 2);
}

TEST_CASE("a self-rescheduling callback does not starve stop()") {
    bulb_test::AuditedLoop loop;
    int count = 0;
    std::function<void()> again = [&] {
        if (++count == 100) loop.stop();
        loop.call_soon([&] { again(); });
    };
    loop.call_soon([&] { again(); });
    loop.run_forever();
    CHECK(count == 100);
    CHECK_FALSE(loop.is_running());
}

TEST_CASE("stop() finishes the current iteration: the rest of the batch runs, their children do not") {
    bulb_test::AuditedLoop loop;
    std::vector<int> order;
    loop.call_soon([&] {
        order.push_back(1);
        loop.stop();
    });
    loop.call_soon([&] {
        order.push_back(2);
        loop.call_soon([&] { order.push_back(4); });
    });
    loop.call_soon([&] { order.push_back(3); });
    loop.run_forever();
    CHECK(order == std::vector<int>{1, 2, 3});
    run_once(loop);  // the child is still queued for the next run
    CHECK(order == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("stop() before run_forever runs exactly one iteration") {
    bulb_test::AuditedLoop loop;
    std::vector<int> order;
    loop.call_soon([&] {
        order.push_back(1);
        loop.call_soon([&] { order.push_back(2); });
    });
    loop.stop();
    loop.run_forever();
    CHECK(order == std::vector<int>{1});
    loop.stop();
    loop.run_forever();
    CHECK(order == std::vector<int>{1, 2});
}

TEST_CASE("stop() before run_forever returns even when nothing is scheduled") {
    bulb_test::AuditedLoop loop;
    loop.stop();
    loop.run_forever();  // must not block in poll
    CHECK_FALSE(loop.is_running());
}

TEST_CASE("run_forever on a running loop throws InvalidStateError") {
    bulb_test::AuditedLoop loop;
    bool threw = false;
    loop.call_soon([&] {
        CHECK_THROWS_AS(loop.run_forever(), bulb::InvalidStateError);
        threw = true;
        loop.stop();
    });
    loop.run_forever();
    CHECK(threw);
}

TEST_CASE("run_forever of a second loop inside a running loop throws InvalidStateError") {
    bulb::EventLoop outer, inner;
    bool checked = false;
    outer.call_soon([&] {
        CHECK_THROWS_AS(inner.run_forever(), bulb::InvalidStateError);
        CHECK_FALSE(inner.is_running());
        checked = true;
    });
    run_once(outer);
    CHECK(checked);
    run_once(inner);  // inner is usable afterwards
}

TEST_CASE("run_until_complete inside a running loop throws without leaving a stop() behind") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> fut(loop);
    bool threw = false;
    loop.call_soon([&] {
        CHECK_THROWS_AS(loop.run_until_complete(fut), bulb::InvalidStateError);
        threw = true;
        fut.set_result(1);
    });
    int after = 0;
    loop.call_later(20ms, [&] {
        after = 1;
        loop.stop();
    });
    loop.run_forever();  // a stray stop() from the failed call would end this run early
    CHECK(threw);
    CHECK(after == 1);
}

TEST_CASE("close() from inside a callback throws InvalidStateError and the loop goes on") {
    bulb_test::AuditedLoop loop;
    bool threw = false;
    loop.call_soon([&] {
        CHECK_THROWS_AS(loop.close(), bulb::InvalidStateError);
        threw = true;
        loop.stop();
    });
    loop.run_forever();
    CHECK(threw);
    CHECK_FALSE(loop.is_closed());
}

TEST_CASE("close() is idempotent, and a closed loop refuses work") {
    bulb_test::AuditedLoop loop;
    CHECK_FALSE(loop.is_closed());
    loop.close();
    CHECK(loop.is_closed());
    loop.close();
    CHECK(loop.is_closed());
    CHECK_THROWS_AS(loop.call_soon([] {}), bulb::InvalidStateError);
    CHECK_THROWS_AS(loop.call_later(1ms, [] {}), bulb::InvalidStateError);
    CHECK_THROWS_AS(loop.call_at(loop.time(), [] {}), bulb::InvalidStateError);
    CHECK_THROWS_AS(loop.call_soon_threadsafe([] {}), bulb::InvalidStateError);
    CHECK_THROWS_AS(loop.run_forever(), bulb::InvalidStateError);
}

TEST_CASE("close() drops pending callbacks and timers without running them") {
    bulb_test::AuditedLoop loop;
    int destroyed = 0;
    bool ran = false;
    loop.call_soon([&ran, c = DestroyCounter(&destroyed)] { ran = true; });
    loop.call_later(1ms, [&ran, c = DestroyCounter(&destroyed)] { ran = true; });
    loop.close();
    CHECK(destroyed == 2);
    CHECK_FALSE(ran);
}

TEST_CASE("is_running is true inside callbacks and false around run_forever") {
    bulb_test::AuditedLoop loop;
    CHECK_FALSE(loop.is_running());
    bool inside = false;
    loop.call_soon([&] { inside = loop.is_running(); });
    run_once(loop);
    CHECK(inside);
    CHECK_FALSE(loop.is_running());
}

TEST_CASE("current() and get_running_loop() name the running loop only while it runs") {
    bulb_test::AuditedLoop loop;
    CHECK(bulb::EventLoop::current() == nullptr);
    CHECK_THROWS_AS(bulb::get_running_loop(), bulb::InvalidStateError);
    bulb::EventLoop* seen = nullptr;
    bulb::EventLoop* seen_get = nullptr;
    loop.call_soon([&] {
        seen = bulb::EventLoop::current();
        seen_get = &bulb::get_running_loop();
    });
    run_once(loop);
    CHECK(seen == &loop);
    CHECK(seen_get == &loop);
    CHECK(bulb::EventLoop::current() == nullptr);
}

TEST_CASE("the running loop is cleared even when run_until_complete throws") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> fut(loop);
    loop.call_soon([&] { fut.set_exception(std::make_exception_ptr(std::runtime_error("boom"))); });
    CHECK_THROWS_AS(loop.run_until_complete(fut), std::runtime_error);
    CHECK(bulb::EventLoop::current() == nullptr);
    CHECK_FALSE(loop.is_running());
}

TEST_CASE("callbacks returning a value are accepted and their value ignored") {
    bulb_test::AuditedLoop loop;
    int n = 0;
    loop.call_soon([&n] { return ++n; });
    run_once(loop);
    CHECK(n == 1);
}

TEST_CASE("the destructor closes a loop that still holds callbacks") {
    int destroyed = 0;
    {
        bulb_test::AuditedLoop loop;
        loop.call_soon([c = DestroyCounter(&destroyed)] {});
        loop.call_later(10s, [c = DestroyCounter(&destroyed)] {});
    }
    CHECK(destroyed == 2);
}

}  // TEST_SUITE
