// SPDX-License-Identifier: MIT
/// @file
/// Condition: lock requirements, FIFO notify, re-acquiring the lock (also when cancelled), the
/// cancel-at-notify race, wait_for(), scoped guards.
#include "sync_support.hpp"

#include <random>
#include <stdexcept>

using namespace sync_test;

namespace {

// Takes the condition's lock and returns holding it (the test releases it or notifies).
bulb::Task<> cond_locker(bulb::Condition& cond) {
    co_await cond.acquire();
}

bulb::Task<> cond_waiter(bulb::Condition& cond, Log& log, std::string name) {
    auto held = co_await cond.scoped();
    try {
        co_await cond.wait();
    } catch (const bulb::CancelledError&) {
        log.push_back(name + (cond.locked() ? ":cancelled-locked" : ":cancelled-unlocked"));
        throw;
    }
    log.push_back(name + (cond.locked() ? "" : ":unlocked"));
}

bulb::Task<> wait_unlocked(bulb::Condition& cond) {
    co_await cond.wait();
}

bulb::Task<> predicate_waiter(bulb::Condition& cond, int& value, Log& log, std::string name) {
    auto held = co_await cond.scoped();
    int seen = co_await cond.wait_for([&] { return value >= 3 ? value : 0; });
    log.push_back(name + "=" + std::to_string(seen));
}

// Holds the lock over a few yields after notifying: waiters return only once it is released.
bulb::Task<> slow_notifier(bulb::Condition& cond, Log& log) {
    auto held = co_await cond.scoped();
    cond.notify_all();
    for (int i = 0; i < 3; ++i) co_await bulb::sleep(0s);
    log.push_back("notifier done");
}

bulb::Task<> waiter_then_throw(bulb::Condition& cond, bool& ready) {
    auto held = co_await cond.scoped();
    co_await cond.wait_for([&] { return ready; });
    throw std::runtime_error("after wait");
}

bulb::Task<> wait_with_timeout(bulb::Condition& cond, Log& log) {
    auto held = co_await cond.scoped();
    try {
        co_await bulb::wait_for(cond.wait(), 10ms);
        log.push_back("notified");
    } catch (const bulb::TimeoutError&) {
        log.push_back(cond.locked() ? "timeout-locked" : "timeout-unlocked");
    }
}

bulb::Task<> consumer(bulb::Condition& cond, int& items, int& taken) {
    auto held = co_await cond.scoped();
    co_await cond.wait_for([&] { return items > 0; });
    --items;
    ++taken;
}

bulb::Task<> producer(bulb::Condition& cond, int& items, int n) {
    for (int i = 0; i < n; ++i) {
        {
            auto held = co_await cond.scoped();
            ++items;
            cond.notify(1);
        }
        co_await bulb::sleep(0s);
    }
}

}  // namespace

TEST_SUITE("condition") {

TEST_CASE("wait() and notify() require the lock") {
    TestLoop t;
    bulb::Condition cond;
    CHECK_THROWS_AS(cond.notify(), bulb::InvalidStateError);
    CHECK_THROWS_AS(cond.notify_all(), bulb::InvalidStateError);
    auto f = t.spawn(wait_unlocked(cond));
    REQUIRE(t.finish(f));
    CHECK_THROWS_AS(f.result(), bulb::InvalidStateError);
    CHECK_FALSE(cond.locked());
}

TEST_CASE("notify(n) wakes the n oldest waiters; notify_all() the rest") {
    TestLoop t;
    bulb::Condition cond;
    Log log;
    std::vector<bulb::Future<void>> tasks;
    for (const char* name : {"a", "b", "c", "d"}) tasks.push_back(t.spawn(cond_waiter(cond, log, name)));
    t.step();
    CHECK_FALSE(cond.locked());  // every waiter released the lock in wait()
    auto h = t.spawn(cond_locker(cond));
    t.step();
    cond.notify(1);
    cond.release();
    t.step(3);
    CHECK(log == Log{"a"});
    h = t.spawn(cond_locker(cond));
    t.step();
    cond.notify(2);
    cond.release();
    t.step(4);
    CHECK(log == Log{"a", "b", "c"});
    h = t.spawn(cond_locker(cond));
    t.step();
    cond.notify_all();
    cond.release();
    REQUIRE(t.finish_all(tasks));
    CHECK(log == Log{"a", "b", "c", "d"});
    CHECK_FALSE(cond.locked());
    CHECK(t.report_list().empty());
}

TEST_CASE("a notified waiter returns only once it holds the lock again") {
    TestLoop t;
    bulb::Condition cond;
    Log log;
    auto a = t.spawn(cond_waiter(cond, log, "a"));
    t.step();
    auto n = t.spawn(slow_notifier(cond, log));
    REQUIRE(t.finish(a));
    CHECK(log == Log{"notifier done", "a"});
    CHECK_FALSE(cond.locked());
}

TEST_CASE("notify wakes A, A is cancelled before it runs: B gets the notification") {
    TestLoop t;
    bulb::Condition cond;
    Log log;
    auto a = t.spawn(cond_waiter(cond, log, "a"));
    auto b = t.spawn(cond_waiter(cond, log, "b"));
    auto c = t.spawn(cond_waiter(cond, log, "c"));
    t.step();
    auto h = t.spawn(cond_locker(cond));
    t.step();
    cond.notify(1);  // A is woken...
    a.cancel();      // ...and cancelled before it runs
    cond.release();
    REQUIRE(t.finish(b));
    REQUIRE(t.finish(a));
    t.step(3);
    CHECK(a.cancelled());
    CHECK(log == Log{"a:cancelled-locked", "b"});  // A held the lock again when it threw
    CHECK_FALSE(c.done());                          // one notification, one waiter woken
    CHECK_FALSE(cond.locked());
    h = t.spawn(cond_locker(cond));
    t.step();
    cond.notify();
    cond.release();
    REQUIRE(t.finish(c));
}

TEST_CASE("a waiter cancelled while it waits re-acquires the lock before CancelledError leaves wait()") {
    TestLoop t;
    bulb::Condition cond;
    Log log;
    auto h = t.spawn(cond_locker(cond));
    t.step();
    cond.release();
    auto a = t.spawn(cond_waiter(cond, log, "a"));
    t.step();
    h = t.spawn(cond_locker(cond));  // someone else holds the lock when A is cancelled
    t.step();
    a.cancel();
    t.step(3);
    CHECK_FALSE(a.done());  // A waits for the lock before it may throw
    cond.release();
    REQUIRE(t.finish(a));
    CHECK(a.cancelled());
    CHECK(log == Log{"a:cancelled-locked"});
    CHECK_FALSE(cond.locked());  // A's guard released it
}

TEST_CASE("cancelled again while re-acquiring the lock: wait() still re-acquires it, then throws") {
    TestLoop t;
    bulb::Condition cond;
    Log log;
    auto a = t.spawn(cond_waiter(cond, log, "a"));
    auto b = t.spawn(cond_waiter(cond, log, "b"));
    t.step();
    auto h = t.spawn(cond_locker(cond));
    t.step();
    cond.notify(1);
    t.step(2);  // A runs and queues for the lock, which the locker holds
    CHECK_FALSE(a.done());
    a.cancel();  // interrupts A's wait for the lock: A queues for it again
    t.step(2);
    CHECK_FALSE(a.done());
    cond.release();
    REQUIRE(t.finish(a));
    REQUIRE(t.finish(b));  // A passed its notification on
    CHECK(a.cancelled());
    CHECK(log == Log{"a:cancelled-locked", "b"});
    CHECK_FALSE(cond.locked());
}

TEST_CASE("wait_for() returns the truthy predicate value and absorbs wake-ups that do not satisfy it") {
    TestLoop t;
    bulb::Condition cond;
    Log log;
    int value = 0;
    auto a = t.spawn(predicate_waiter(cond, value, log, "a"));
    t.step();
    for (int i = 1; i <= 3; ++i) {
        auto h = t.spawn(cond_locker(cond));
        t.step();
        value = i;
        cond.notify_all();
        cond.release();
        t.step(3);
    }
    REQUIRE(t.finish(a));
    CHECK(log == Log{"a=3"});
}

TEST_CASE("the condition's guard releases the lock when the body throws") {
    TestLoop t;
    bulb::Condition cond;
    bool ready = false;
    auto a = t.spawn(waiter_then_throw(cond, ready));
    t.step();
    auto h = t.spawn(cond_locker(cond));
    t.step();
    ready = true;
    cond.notify();
    cond.release();
    REQUIRE(t.finish(a));
    CHECK_THROWS_WITH_AS(a.result(), "after wait", std::runtime_error);
    CHECK_FALSE(cond.locked());
}

TEST_CASE("conditions can share one lock") {
    TestLoop t;
    bulb::Lock lock;
    bulb::Condition first(lock), second(lock);
    CHECK(&first.lock() == &lock);
    Log log;
    auto a = t.spawn(cond_waiter(first, log, "a"));
    auto b = t.spawn(cond_waiter(second, log, "b"));
    t.step();
    auto h = t.spawn(cond_locker(first));
    t.step();
    CHECK(second.locked());
    second.notify();
    lock.release();
    REQUIRE(t.finish(b));
    t.step(2);
    CHECK(log == Log{"b"});
    CHECK_FALSE(a.done());
    a.cancel();
    REQUIRE(t.finish(a));
    CHECK_FALSE(lock.locked());
}

TEST_CASE("wait_for(cond.wait(), limit): the lock is held again when TimeoutError comes out") {
    TestLoop t(bulb::LoopOptions{.virtual_clock = true});
    bulb::Condition cond;
    Log log;
    auto a = t.spawn(wait_with_timeout(cond, log));
    REQUIRE(t.finish(a));
    CHECK(log == Log{"timeout-locked"});
    CHECK_FALSE(cond.locked());
    CHECK(t.report_list().empty());
}

TEST_CASE("producers and consumers with random cancellations: no notification is lost") {
    for (unsigned seed = 1; seed <= 20; ++seed) {
        CAPTURE(seed);
        TestLoop t;
        bulb::Condition cond;
        int items = 0, taken = 0;
        std::vector<bulb::Future<void>> consumers;
        for (int i = 0; i < 10; ++i) consumers.push_back(t.spawn(consumer(cond, items, taken)));
        auto p = t.spawn(producer(cond, items, 10));
        std::mt19937 rng(seed);
        for (int turn = 0; turn < 60; ++turn) {
            t.step();
            if (rng() % 3 == 0) consumers[rng() % consumers.size()].cancel();
        }
        REQUIRE(t.finish(p));
        // Every consumer that was not cancelled got an item: a lost notification would leave
        // one waiting forever while items remain.
        REQUIRE(t.finish_all(consumers));
        int ok = 0;
        for (auto& f : consumers) ok += f.cancelled() ? 0 : 1;
        CHECK(ok == taken);
        CHECK(items == 10 - taken);
        CHECK_FALSE(cond.locked());
        CHECK(t.report_list().empty());
    }
}

}  // TEST_SUITE
