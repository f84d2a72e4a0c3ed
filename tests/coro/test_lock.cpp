// SPDX-License-Identifier: MIT
/// @file
/// Lock: fast path, FIFO fairness, the cancel-at-wake race, scoped guards (Held<Lock>).
#include "sync_support.hpp"

#include <algorithm>
#include <random>
#include <stdexcept>

using namespace sync_test;

namespace {

bulb::Task<> log_only(Log& log, std::string name) {
    log.push_back(std::move(name));
    co_return;
}

// Takes the lock, yields, releases it and immediately asks for it again.
bulb::Task<> greedy(bulb::Lock& lock, Log& log) {
    co_await lock.acquire();
    log.push_back("g1");
    co_await bulb::sleep(0s);
    lock.release();
    co_await lock.acquire();
    log.push_back("g2");
    lock.release();
}

bulb::Task<> cancel_self_then_acquire(bulb::Lock& lock, Log& log) {
    bulb::detail::TaskRunner::current()->cancel("self");
    try {
        co_await lock.acquire();
        log.push_back("acquired");
        co_await bulb::sleep(0s);
    } catch (const bulb::CancelledError& e) {
        log.push_back(std::string("cancelled:") + e.what());
        throw;
    }
}

bulb::Task<> scoped_then_throw(bulb::Lock& lock, Log& log) {
    auto held = co_await lock.scoped();
    log.push_back("in");
    co_await bulb::sleep(0s);
    throw std::runtime_error("boom");
}

bulb::Task<> scoped_then_sleep(bulb::Lock& lock, Log& log) {
    auto held = co_await lock.scoped();
    log.push_back("in");
    co_await bulb::sleep(1h);
    log.push_back("not reached");
}

bulb::Task<> scoped_waiter(bulb::Lock& lock, Log& log, std::string name) {
    auto held = co_await lock.scoped();
    log.push_back(name);
}

bulb::Task<> held_moves(bulb::Lock& lock) {
    auto held = co_await lock.scoped();
    CHECK(held.owns());
    CHECK(held.get() == &lock);
    bulb::Held<bulb::Lock> other = std::move(held);
    CHECK_FALSE(held.owns());
    CHECK(other.owns());
    CHECK(lock.locked());
    other.release();
    CHECK_FALSE(other.owns());
    CHECK_FALSE(lock.locked());
}

bulb::Task<> released_by_hand(bulb::Lock& lock) {
    auto held = co_await lock.scoped();
    lock.release();  // the guard's release at the end of the scope then fails: reported
}

bulb::Task<> acquire_with_timeout(bulb::Lock& lock, Log& log) {
    try {
        co_await bulb::wait_for(lock.acquire(), 10ms);
        log.push_back("acquired");
        lock.release();
    } catch (const bulb::TimeoutError&) {
        log.push_back("timeout");
    }
}

// RAII count of the tasks inside the critical section.
struct Inside {
    int& n;
    explicit Inside(int& count, int& max) : n(count) { max = std::max(max, ++n); }
    Inside(const Inside&) = delete;
    ~Inside() { --n; }
};

bulb::Task<> contender(bulb::Lock& lock, int& inside, int& max_inside, int& acquisitions, int rounds) {
    for (int i = 0; i < rounds; ++i) {
        auto held = co_await lock.scoped();
        Inside in(inside, max_inside);
        ++acquisitions;
        co_await bulb::sleep(0s);
    }
}

}  // namespace

TEST_SUITE("lock") {

TEST_CASE("a free lock is taken without suspending; release() frees it") {
    TestLoop t;
    bulb::Lock lock;
    Log log;
    CHECK_FALSE(lock.locked());
    auto a = t.spawn(lock_taker(lock, log, "a"));
    auto b = t.spawn(log_only(log, "b"));
    t.step();
    CHECK(log == Log{"a", "b"});  // a did not yield to the loop in acquire()
    CHECK(a.done());
    CHECK(lock.locked());
    lock.release();
    CHECK_FALSE(lock.locked());
    CHECK(t.report_list().empty());
}

TEST_CASE("release() of a lock that is not locked throws InvalidStateError") {
    bulb::Lock lock;
    CHECK_THROWS_AS(lock.release(), bulb::InvalidStateError);
}

TEST_CASE("waiters get the lock in FIFO order") {
    TestLoop t;
    bulb::Lock lock;
    Log log;
    auto h = t.spawn(lock_taker(lock, log, "h"));
    t.step();
    std::vector<bulb::Future<void>> tasks;
    for (const char* name : {"a", "b", "c", "d"}) tasks.push_back(t.spawn(lock_user(lock, log, name, 2)));
    t.step();
    CHECK(log == Log{"h"});
    lock.release();
    REQUIRE(t.finish_all(tasks));
    CHECK(log == Log{"h", "a", "b", "c", "d"});
    CHECK_FALSE(lock.locked());
    CHECK(t.report_list().empty());
}

TEST_CASE("a woken waiter still counts as queued: releasing and re-acquiring does not jump the queue") {
    TestLoop t;
    bulb::Lock lock;
    Log log;
    auto g = t.spawn(greedy(lock, log));
    auto a = t.spawn(lock_user(lock, log, "a"));
    REQUIRE(t.finish(g));
    REQUIRE(t.finish(a));
    CHECK(log == Log{"g1", "a", "g2"});
    CHECK_FALSE(lock.locked());
}

TEST_CASE("release wakes A, A is cancelled before it runs: B gets the lock") {
    TestLoop t;
    bulb::Lock lock;
    Log log;
    auto h = t.spawn(lock_taker(lock, log, "h"));
    t.step();
    auto a = t.spawn(lock_user(lock, log, "a"));
    auto b = t.spawn(lock_user(lock, log, "b"));
    auto c = t.spawn(lock_user(lock, log, "c"));
    t.step();
    lock.release();  // A is woken...
    CHECK(a.cancel("late"));  // ...and cancelled before it could run
    REQUIRE(t.finish(b));
    REQUIRE(t.finish(c));
    REQUIRE(t.finish(a));
    CHECK(a.cancelled());
    CHECK(log == Log{"h", "b", "c"});  // the lock was passed on exactly once
    CHECK_FALSE(lock.locked());
    CHECK(t.report_list().empty());
}

TEST_CASE("the woken waiter is the last one and is cancelled: the lock ends free") {
    TestLoop t;
    bulb::Lock lock;
    Log log;
    auto h = t.spawn(lock_taker(lock, log, "h"));
    t.step();
    auto a = t.spawn(lock_user(lock, log, "a"));
    t.step();
    lock.release();
    a.cancel();
    REQUIRE(t.finish(a));
    CHECK(a.cancelled());
    CHECK_FALSE(lock.locked());
    auto d = t.spawn(lock_taker(lock, log, "d"));  // the fast path works again
    t.step();
    CHECK(d.done());
    CHECK(lock.locked());
    lock.release();
}

TEST_CASE("a waiter cancelled before the release leaves the queue; the next one gets the lock") {
    TestLoop t;
    bulb::Lock lock;
    Log log;
    auto h = t.spawn(lock_taker(lock, log, "h"));
    t.step();
    auto a = t.spawn(lock_user(lock, log, "a"));
    auto b = t.spawn(lock_user(lock, log, "b"));
    t.step();
    a.cancel();
    t.step();
    CHECK(a.cancelled());
    CHECK(lock.locked());  // still h's
    lock.release();
    REQUIRE(t.finish(b));
    CHECK(log == Log{"h", "b"});
    CHECK_FALSE(lock.locked());
}

TEST_CASE("a task cancelled while running is interrupted as soon as it queues in acquire()") {
    TestLoop t;
    bulb::Lock lock;
    Log log;
    auto h = t.spawn(lock_taker(lock, log, "h"));
    t.step();
    auto a = t.spawn(cancel_self_then_acquire(lock, log));
    REQUIRE(t.finish(a));
    CHECK(a.cancelled());
    CHECK(log == Log{"h", "cancelled:self"});
    lock.release();
    CHECK_FALSE(lock.locked());
    auto d = t.spawn(lock_taker(lock, log, "d"));  // nobody is left queued
    t.step();
    CHECK(d.done());
    lock.release();
}

TEST_CASE("a pending cancel is not delivered by a free lock's fast path (as asyncio)") {
    TestLoop t;
    bulb::Lock lock;
    Log log;
    auto a = t.spawn(cancel_self_then_acquire(lock, log));
    REQUIRE(t.finish(a));
    CHECK(log == Log{"acquired", "cancelled:self"});  // thrown at the next suspension point
    CHECK(a.cancelled());
    CHECK(lock.locked());
    lock.release();
}

TEST_CASE("Held<Lock> releases the lock when the body throws") {
    TestLoop t;
    bulb::Lock lock;
    Log log;
    auto a = t.spawn(scoped_then_throw(lock, log));
    auto b = t.spawn(scoped_waiter(lock, log, "b"));
    REQUIRE(t.finish(a));
    CHECK_THROWS_WITH_AS(a.result(), "boom", std::runtime_error);
    REQUIRE(t.finish(b));
    CHECK(log == Log{"in", "b"});
    CHECK_FALSE(lock.locked());
    CHECK(t.report_list().empty());
}

TEST_CASE("Held<Lock> releases the lock when the task is cancelled inside the scope") {
    TestLoop t;
    bulb::Lock lock;
    Log log;
    auto a = t.spawn(scoped_then_sleep(lock, log));
    auto b = t.spawn(scoped_waiter(lock, log, "b"));
    t.step();
    CHECK(lock.locked());
    a.cancel();
    REQUIRE(t.finish(b));
    CHECK(a.cancelled());
    CHECK(log == Log{"in", "b"});
    CHECK_FALSE(lock.locked());
}

TEST_CASE("a scoped acquire cancelled while waiting holds nothing") {
    TestLoop t;
    bulb::Lock lock;
    Log log;
    auto h = t.spawn(lock_taker(lock, log, "h"));
    t.step();
    auto a = t.spawn(scoped_waiter(lock, log, "a"));
    t.step();
    a.cancel();
    REQUIRE(t.finish(a));
    CHECK(a.cancelled());
    CHECK(lock.locked());  // still h's: the cancelled guard did not release it
    lock.release();
    CHECK_FALSE(lock.locked());
}

TEST_CASE("Held<Lock> moves, and release() ends it early") {
    TestLoop t;
    bulb::Lock lock;
    auto f = t.spawn(held_moves(lock));
    REQUIRE(t.finish(f));
    CHECK(outcome(f) == "ok");
    CHECK_FALSE(lock.locked());
}

TEST_CASE("a guard whose lock was released by hand reports the failed release") {
    TestLoop t;
    bulb::Lock lock;
    auto f = t.spawn(released_by_hand(lock));
    REQUIRE(t.finish(f));
    CHECK(outcome(f) == "ok");
    REQUIRE(t.report_list().size() == 1);
    CHECK(t.report_list()[0].find("Lock is not acquired") != std::string::npos);
}

TEST_CASE("wait_for(lock.acquire(), limit): a timed-out acquire leaves the queue") {
    TestLoop t(bulb::LoopOptions{.virtual_clock = true});
    bulb::Lock lock;
    Log log;
    auto h = t.spawn(lock_taker(lock, log, "h"));
    t.step();
    auto a = t.spawn(acquire_with_timeout(lock, log));
    REQUIRE(t.finish(a));
    CHECK(log == Log{"h", "timeout"});
    lock.release();
    auto b = t.spawn(acquire_with_timeout(lock, log));  // free: taken at once
    REQUIRE(t.finish(b));
    CHECK(log == Log{"h", "timeout", "acquired"});
    CHECK_FALSE(lock.locked());
    CHECK(t.report_list().empty());
}

TEST_CASE("contention with random cancellations: one holder at a time, the lock is never lost") {
    for (unsigned seed = 1; seed <= 20; ++seed) {
        CAPTURE(seed);
        TestLoop t;
        bulb::Lock lock;
        int inside = 0, max_inside = 0, acquisitions = 0;
        std::vector<bulb::Future<void>> tasks;
        for (int i = 0; i < 12; ++i) tasks.push_back(t.spawn(contender(lock, inside, max_inside, acquisitions, 6)));
        std::mt19937 rng(seed);
        for (int turn = 0; turn < 400; ++turn) {
            t.step();
            if (rng() % 4 == 0) tasks[rng() % tasks.size()].cancel();
        }
        REQUIRE(t.finish_all(tasks));
        CHECK(max_inside == 1);
        CHECK(inside == 0);
        CHECK(acquisitions > 0);
        CHECK_FALSE(lock.locked());
        // Nobody is left queued: a newcomer takes the lock without waiting.
        Log log;
        auto last = t.spawn(lock_taker(lock, log, "last"));
        t.step();
        CHECK(last.done());
        CHECK(lock.locked());
        lock.release();
        CHECK(t.report_list().empty());
    }
}

}  // TEST_SUITE
