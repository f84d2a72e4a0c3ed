// SPDX-License-Identifier: MIT
/// @file
/// Barrier: arrival indices, reuse, arrivals while draining, abort/reset (BrokenBarrierError),
/// cancellation of a waiting party.
#include "sync_support.hpp"

#include <stdexcept>

using namespace sync_test;

namespace {

bulb::Task<> party(bulb::Barrier& barrier, Log& log, std::string name) {
    try {
        std::size_t index = co_await barrier.wait();
        log.push_back(name + "=" + std::to_string(index));
    } catch (const bulb::BrokenBarrierError&) {
        log.push_back(name + ":broken");
        throw;
    }
}

bulb::Task<> two_rounds(bulb::Barrier& barrier, Log& log, std::string name) {
    std::size_t first = co_await barrier.wait();
    std::size_t second = co_await barrier.wait();
    log.push_back(name + "=" + std::to_string(first) + "," + std::to_string(second));
}

}  // namespace

TEST_SUITE("barrier") {

TEST_CASE("a barrier needs at least one party") {
    CHECK_THROWS_AS(bulb::Barrier(0), std::invalid_argument);
    bulb::Barrier barrier(3);
    CHECK(barrier.parties() == 3);
    CHECK(barrier.n_waiting() == 0);
    CHECK_FALSE(barrier.broken());
}

TEST_CASE("parties wait until the last arrives; wait() returns the arrival index") {
    TestLoop t;
    bulb::Barrier barrier(3);
    Log log;
    auto a = t.spawn(party(barrier, log, "a"));
    t.step();
    CHECK(barrier.n_waiting() == 1);
    auto b = t.spawn(party(barrier, log, "b"));
    t.step();
    CHECK(barrier.n_waiting() == 2);
    CHECK(log.empty());
    auto c = t.spawn(party(barrier, log, "c"));
    t.step();
    CHECK(log == Log{"c=2"});  // the last one releases the others and goes on at once
    CHECK(barrier.n_waiting() == 0);  // draining
    t.step();
    CHECK(log == Log{"c=2", "a=0", "b=1"});
    CHECK(outcome(a) == "ok");
    CHECK(outcome(b) == "ok");
    CHECK(outcome(c) == "ok");
    CHECK(t.report_list().empty());
}

TEST_CASE("a barrier with one party never waits") {
    TestLoop t;
    bulb::Barrier barrier(1);
    Log log;
    auto a = t.spawn(party(barrier, log, "a"));
    auto b = t.spawn(party(barrier, log, "b"));
    t.step();
    CHECK(log == Log{"a=0", "b=0"});
}

TEST_CASE("the barrier is reusable: the same parties pass it twice") {
    TestLoop t;
    bulb::Barrier barrier(3);
    Log log;
    std::vector<bulb::Future<void>> tasks;
    for (const char* name : {"a", "b", "c"}) tasks.push_back(t.spawn(two_rounds(barrier, log, name)));
    REQUIRE(t.finish_all(tasks));
    CHECK(log.size() == 3);
    for (auto& f : tasks) CHECK(outcome(f) == "ok");
    CHECK(barrier.n_waiting() == 0);
    CHECK_FALSE(barrier.broken());
}

TEST_CASE("arrivals while the barrier drains wait for the next round") {
    TestLoop t;
    bulb::Barrier barrier(2);
    Log log;
    auto a = t.spawn(party(barrier, log, "a"));
    t.step();
    auto b = t.spawn(party(barrier, log, "b"));
    auto c = t.spawn(party(barrier, log, "c"));  // arrives in the step that releases a and b
    t.step();
    CHECK(log == Log{"b=1"});
    t.step(2);
    CHECK(log == Log{"b=1", "a=0"});
    CHECK(barrier.n_waiting() == 1);  // c, first of the next round
    auto d = t.spawn(party(barrier, log, "d"));
    REQUIRE(t.finish(c));
    CHECK(log == Log{"b=1", "a=0", "d=1", "c=0"});
}

TEST_CASE("abort() breaks the barrier for current and future waiters; reset() repairs it") {
    TestLoop t;
    bulb::Barrier barrier(3);
    Log log;
    auto a = t.spawn(party(barrier, log, "a"));
    auto b = t.spawn(party(barrier, log, "b"));
    t.step();
    barrier.abort();
    CHECK(barrier.broken());
    REQUIRE(t.finish(a));
    REQUIRE(t.finish(b));
    CHECK_THROWS_AS(a.result(), bulb::BrokenBarrierError);
    CHECK_THROWS_AS(b.result(), bulb::BrokenBarrierError);
    try {
        b.result();
    } catch (const bulb::BrokenBarrierError& e) {
        CHECK(e.code() == bulb::errc::broken_barrier);
    }
    auto c = t.spawn(party(barrier, log, "c"));
    REQUIRE(t.finish(c));
    CHECK_THROWS_AS(c.result(), bulb::BrokenBarrierError);
    CHECK(log == Log{"a:broken", "b:broken", "c:broken"});

    barrier.reset();
    CHECK_FALSE(barrier.broken());
    log.clear();
    std::vector<bulb::Future<void>> tasks;
    for (const char* name : {"d", "e", "f"}) tasks.push_back(t.spawn(party(barrier, log, name)));
    REQUIRE(t.finish_all(tasks));
    CHECK(log == Log{"f=2", "d=0", "e=1"});
}

TEST_CASE("reset() while parties wait: they get BrokenBarrierError, newcomers wait for the next round") {
    TestLoop t;
    bulb::Barrier barrier(3);
    Log log;
    auto a = t.spawn(party(barrier, log, "a"));
    auto b = t.spawn(party(barrier, log, "b"));
    t.step();
    auto c = t.spawn(party(barrier, log, "c"));  // starts before a and b have left: resetting
    barrier.reset();
    t.step();
    CHECK(log == Log{"a:broken", "b:broken"});
    CHECK_THROWS_AS(a.result(), bulb::BrokenBarrierError);
    CHECK_THROWS_AS(b.result(), bulb::BrokenBarrierError);
    CHECK_FALSE(barrier.broken());
    t.step();
    CHECK(barrier.n_waiting() == 1);  // c joined the new round
    auto d = t.spawn(party(barrier, log, "d"));
    auto e = t.spawn(party(barrier, log, "e"));
    REQUIRE(t.finish(c));
    REQUIRE(t.finish(d));
    CHECK(log == Log{"a:broken", "b:broken", "e=2", "c=0", "d=1"});
}

TEST_CASE("a cancelled party leaves the barrier; the others still need a full set") {
    TestLoop t;
    bulb::Barrier barrier(3);
    Log log;
    auto a = t.spawn(party(barrier, log, "a"));
    auto b = t.spawn(party(barrier, log, "b"));
    t.step();
    CHECK(barrier.n_waiting() == 2);
    a.cancel();
    t.step();
    CHECK(a.cancelled());
    CHECK(barrier.n_waiting() == 1);
    auto c = t.spawn(party(barrier, log, "c"));
    t.step();
    CHECK(barrier.n_waiting() == 2);
    CHECK(log.empty());
    auto d = t.spawn(party(barrier, log, "d"));
    REQUIRE(t.finish(b));
    REQUIRE(t.finish(c));
    REQUIRE(t.finish(d));
    CHECK(log.size() == 3);
    CHECK(barrier.n_waiting() == 0);
    CHECK(t.report_list().empty());
}

TEST_CASE("a party cancelled after the barrier released it gets CancelledError; the round still completes") {
    TestLoop t;
    bulb::Barrier barrier(3);
    Log log;
    auto a = t.spawn(party(barrier, log, "a"));
    auto b = t.spawn(party(barrier, log, "b"));
    t.step();
    auto c = t.spawn(party(barrier, log, "c"));
    t.step();  // c releases a and b...
    a.cancel();  // ...and a is cancelled before it runs (asyncio: CancelledError at its await)
    REQUIRE(t.finish(a));
    REQUIRE(t.finish(b));
    CHECK(a.cancelled());
    CHECK(log == Log{"c=2", "b=1"});
    CHECK(barrier.n_waiting() == 0);
    // Everyone has left: the next round fills from zero.
    log.clear();
    std::vector<bulb::Future<void>> tasks;
    for (const char* name : {"d", "e", "f"}) tasks.push_back(t.spawn(party(barrier, log, name)));
    REQUIRE(t.finish_all(tasks));
    CHECK(log == Log{"f=2", "d=0", "e=1"});
    CHECK(t.report_list().empty());
}

}  // TEST_SUITE
