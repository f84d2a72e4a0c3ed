// SPDX-License-Identifier: MIT
/// @file
/// Semaphore and BoundedSemaphore: permits, FIFO fairness, the cancel-at-wake race (no permit lost
/// or duplicated), scoped guards, the bound.
#include "sync_support.hpp"

#include <algorithm>
#include <random>
#include <stdexcept>

using namespace sync_test;

namespace {

bulb::Task<> sem_taker(bulb::Semaphore& sem, Log& log, std::string name) {
    co_await sem.acquire();
    log.push_back(name);
}

bulb::Task<> sem_user(bulb::Semaphore& sem, Log& log, std::string name, int hold_turns) {
    auto held = co_await sem.scoped();
    log.push_back(name);
    for (int i = 0; i < hold_turns; ++i) co_await bulb::sleep(0s);
}

// Takes every permit, yields, releases them all and asks for one again at once.
bulb::Task<> greedy(bulb::Semaphore& sem, Log& log) {
    co_await sem.acquire();
    co_await sem.acquire();
    log.push_back("g1");
    co_await bulb::sleep(0s);
    sem.release();  // handed to the waiter queued meanwhile
    sem.release();  // free
    co_await sem.acquire();
    log.push_back("g2");
}

bulb::Task<> log_only(Log& log, std::string name) {
    log.push_back(std::move(name));
    co_return;
}

bulb::Task<> scoped_then_throw(bulb::Semaphore& sem) {
    auto held = co_await sem.scoped();
    co_await bulb::sleep(0s);
    throw std::runtime_error("boom");
}

bulb::Task<> scoped_then_sleep(bulb::Semaphore& sem) {
    auto held = co_await sem.scoped();
    co_await bulb::sleep(1h);
}

struct Inside {
    int& n;
    Inside(int& count, int& max) : n(count) { max = std::max(max, ++n); }
    Inside(const Inside&) = delete;
    ~Inside() { --n; }
};

bulb::Task<> contender(bulb::Semaphore& sem, int& inside, int& max_inside, int& acquisitions, int rounds) {
    for (int i = 0; i < rounds; ++i) {
        auto held = co_await sem.scoped();
        Inside in(inside, max_inside);
        ++acquisitions;
        co_await bulb::sleep(0s);
        if (i % 2) co_await bulb::sleep(0s);
    }
}

}  // namespace

TEST_SUITE("semaphore") {

TEST_CASE("free permits are taken without suspending; locked() once none is left") {
    TestLoop t;
    bulb::Semaphore sem(2);
    Log log;
    CHECK(sem.value() == 2);
    CHECK_FALSE(sem.locked());
    auto a = t.spawn(sem_taker(sem, log, "a"));
    auto b = t.spawn(sem_taker(sem, log, "b"));
    auto c = t.spawn(log_only(log, "c"));
    t.step();
    CHECK(log == Log{"a", "b", "c"});
    CHECK(sem.value() == 0);
    CHECK(sem.locked());
    sem.release();
    sem.release();
    CHECK(sem.value() == 2);
    bulb::Semaphore zero(0);
    CHECK(zero.locked());
}

TEST_CASE("waiters get permits in FIFO order") {
    TestLoop t;
    bulb::Semaphore sem(0);
    Log log;
    std::vector<bulb::Future<void>> tasks;
    for (const char* name : {"a", "b", "c", "d"}) tasks.push_back(t.spawn(sem_taker(sem, log, name)));
    t.step();
    sem.release();
    t.step();
    CHECK(log == Log{"a"});
    sem.release();
    sem.release();
    t.step();
    CHECK(log == Log{"a", "b", "c"});
    sem.release();
    REQUIRE(t.finish_all(tasks));
    CHECK(log == Log{"a", "b", "c", "d"});
    CHECK(sem.value() == 0);
}

TEST_CASE("release() hands the permit to the waiter; a newcomer queues behind it even with a free permit") {
    TestLoop t;
    bulb::Semaphore sem(0);
    Log log;
    auto a = t.spawn(sem_taker(sem, log, "a"));
    t.step();
    sem.release();  // handed to A (A is woken, not yet run)
    CHECK(sem.value() == 0);
    sem.release();  // nobody else waits: this permit is free
    CHECK(sem.value() == 1);
    CHECK(sem.locked());  // ...but A is still queued, so newcomers wait their turn (FIFO)
    sem.release();  // give the permits back before the next round
    REQUIRE(t.finish(a));
    CHECK(sem.value() == 2);

    // The same from inside a task: it frees two permits (the first goes to the queued B) and asks
    // for one again in the same step; it must queue behind B although a permit is free.
    auto g = t.spawn(greedy(sem, log));
    auto b = t.spawn(sem_taker(sem, log, "b"));
    REQUIRE(t.finish(g));
    REQUIRE(t.finish(b));
    CHECK(log == Log{"a", "g1", "b", "g2"});
    CHECK(sem.value() == 0);  // B and G hold one each
}

TEST_CASE("release wakes A, A is cancelled before it runs: B gets the permit, none is lost or duplicated") {
    TestLoop t;
    bulb::Semaphore sem(0);
    Log log;
    auto a = t.spawn(sem_taker(sem, log, "a"));
    auto b = t.spawn(sem_taker(sem, log, "b"));
    auto c = t.spawn(sem_taker(sem, log, "c"));
    t.step();
    sem.release();  // handed to A...
    a.cancel();     // ...which is cancelled before it runs
    REQUIRE(t.finish(a));
    REQUIRE(t.finish(b));
    t.step(3);
    CHECK(a.cancelled());
    CHECK(log == Log{"b"});
    CHECK_FALSE(c.done());  // one release, one permit
    CHECK(sem.value() == 0);
    sem.release();
    REQUIRE(t.finish(c));
    CHECK(log == Log{"b", "c"});
    CHECK(sem.value() == 0);
    CHECK(t.report_list().empty());
}

TEST_CASE("the only woken waiter is cancelled: its permit becomes free again") {
    TestLoop t;
    bulb::Semaphore sem(0);
    Log log;
    auto a = t.spawn(sem_taker(sem, log, "a"));
    t.step();
    sem.release();
    a.cancel();
    REQUIRE(t.finish(a));
    CHECK(a.cancelled());
    CHECK(sem.value() == 1);
    CHECK_FALSE(sem.locked());
}

TEST_CASE("a waiter cancelled before the release leaves the queue") {
    TestLoop t;
    bulb::Semaphore sem(0);
    Log log;
    auto a = t.spawn(sem_taker(sem, log, "a"));
    auto b = t.spawn(sem_taker(sem, log, "b"));
    t.step();
    a.cancel();
    t.step();
    CHECK(a.cancelled());
    CHECK(sem.value() == 0);
    sem.release();
    REQUIRE(t.finish(b));
    CHECK(log == Log{"b"});
    CHECK(sem.value() == 0);  // B holds it
    sem.release();
    CHECK_FALSE(sem.locked());
}

TEST_CASE("Held<Semaphore> returns the permit on exception and on cancellation") {
    TestLoop t;
    bulb::Semaphore sem(1);
    Log log;
    auto a = t.spawn(scoped_then_throw(sem));
    auto b = t.spawn(sem_user(sem, log, "b", 0));
    REQUIRE(t.finish(a));
    CHECK_THROWS_WITH_AS(a.result(), "boom", std::runtime_error);
    REQUIRE(t.finish(b));
    CHECK(sem.value() == 1);

    auto c = t.spawn(scoped_then_sleep(sem));
    auto d = t.spawn(sem_user(sem, log, "d", 0));
    t.step();
    CHECK(sem.value() == 0);
    c.cancel();
    REQUIRE(t.finish(d));
    CHECK(c.cancelled());
    CHECK(log == Log{"b", "d"});
    CHECK(sem.value() == 1);
}

TEST_CASE("BoundedSemaphore: release() past the initial value throws std::invalid_argument") {
    TestLoop t;
    bulb::BoundedSemaphore sem(2);
    CHECK_THROWS_AS(sem.release(), std::invalid_argument);
    CHECK(sem.value() == 2);
    Log log;
    auto a = t.spawn(sem_taker(sem, log, "a"));
    t.step();
    CHECK(sem.value() == 1);
    sem.release();
    CHECK(sem.value() == 2);
    CHECK_THROWS_AS(sem.release(), std::invalid_argument);
    // A permit handed to a woken waiter counts as taken: the counter does not go up.
    bulb::BoundedSemaphore one(1);
    auto x = t.spawn(sem_taker(one, log, "x"));
    t.step();
    auto y = t.spawn(sem_taker(one, log, "y"));
    t.step();
    one.release();  // x's permit, handed to y
    CHECK(one.value() == 0);
    REQUIRE(t.finish(y));
    one.release();  // y's
    CHECK(one.value() == 1);
    CHECK_THROWS_AS(one.release(), std::invalid_argument);
    CHECK(one.value() == 1);
}

TEST_CASE("contention with random cancellations: never more holders than permits, none lost") {
    for (unsigned seed = 1; seed <= 20; ++seed) {
        CAPTURE(seed);
        TestLoop t;
        bulb::Semaphore sem(3);
        int inside = 0, max_inside = 0, acquisitions = 0;
        std::vector<bulb::Future<void>> tasks;
        for (int i = 0; i < 15; ++i) tasks.push_back(t.spawn(contender(sem, inside, max_inside, acquisitions, 6)));
        std::mt19937 rng(seed);
        for (int turn = 0; turn < 300; ++turn) {
            t.step();
            if (rng() % 3 == 0) tasks[rng() % tasks.size()].cancel();
            if (rng() % 5 == 0) tasks[rng() % tasks.size()].cancel();
        }
        REQUIRE(t.finish_all(tasks));
        CHECK(max_inside <= 3);
        CHECK(max_inside >= 2);
        CHECK(inside == 0);
        CHECK(acquisitions > 0);
        CHECK(sem.value() == 3);
        CHECK_FALSE(sem.locked());
        CHECK(t.report_list().empty());
    }
}

}  // TEST_SUITE
