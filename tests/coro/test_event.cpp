// SPDX-License-Identifier: MIT
/// @file
/// Event: set/clear/is_set, waking every waiter, cancellation.
#include "sync_support.hpp"

using namespace sync_test;

namespace {

bulb::Task<> event_waiter(bulb::Event& event, Log& log, std::string name) {
    co_await event.wait();
    log.push_back(name);
}

bulb::Task<> log_only(Log& log, std::string name) {
    log.push_back(std::move(name));
    co_return;
}

bulb::Task<> wait_twice(bulb::Event& event, Log& log) {
    co_await event.wait();
    log.push_back("first");
    co_await event.wait();
    log.push_back("second");
}

}  // namespace

TEST_SUITE("event") {

TEST_CASE("an event starts clear; set() and clear() flip is_set()") {
    bulb::Event event;
    CHECK_FALSE(event.is_set());
    event.set();
    CHECK(event.is_set());
    event.set();
    CHECK(event.is_set());
    event.clear();
    CHECK_FALSE(event.is_set());
}

TEST_CASE("wait() on a set event returns without suspending") {
    TestLoop t;
    bulb::Event event;
    event.set();
    Log log;
    auto a = t.spawn(event_waiter(event, log, "a"));
    auto b = t.spawn(log_only(log, "b"));
    t.step();
    CHECK(log == Log{"a", "b"});
    CHECK(a.done());
}

TEST_CASE("set() wakes every waiter, in the order they waited") {
    TestLoop t;
    bulb::Event event;
    Log log;
    std::vector<bulb::Future<void>> tasks;
    for (const char* name : {"a", "b", "c"}) tasks.push_back(t.spawn(event_waiter(event, log, name)));
    t.step(3);
    CHECK(log.empty());
    event.set();
    t.step();
    CHECK(log == Log{"a", "b", "c"});
    for (auto& f : tasks) CHECK(outcome(f) == "ok");
    CHECK(t.report_list().empty());
}

TEST_CASE("tasks woken by set() return even if clear() follows at once; later waiters block") {
    TestLoop t;
    bulb::Event event;
    Log log;
    auto a = t.spawn(event_waiter(event, log, "a"));
    t.step();
    event.set();
    event.clear();
    auto b = t.spawn(event_waiter(event, log, "b"));
    t.step(3);
    CHECK(log == Log{"a"});
    CHECK(a.done());
    CHECK_FALSE(b.done());
    event.set();
    REQUIRE(t.finish(b));
    CHECK(log == Log{"a", "b"});
}

TEST_CASE("a cancelled waiter leaves; the others are still woken") {
    TestLoop t;
    bulb::Event event;
    Log log;
    auto a = t.spawn(event_waiter(event, log, "a"));
    auto b = t.spawn(event_waiter(event, log, "b"));
    t.step();
    a.cancel();
    t.step();
    CHECK(a.cancelled());
    event.set();
    REQUIRE(t.finish(b));
    CHECK(log == Log{"b"});
}

TEST_CASE("a waiter cancelled after set() woke it gets CancelledError (as asyncio)") {
    TestLoop t;
    bulb::Event event;
    Log log;
    auto a = t.spawn(event_waiter(event, log, "a"));
    auto b = t.spawn(event_waiter(event, log, "b"));
    t.step();
    event.set();
    a.cancel("late");
    t.step();
    CHECK(a.cancelled());
    CHECK(log == Log{"b"});
    CHECK(event.is_set());
}

TEST_CASE("an event can be waited on again after clear()") {
    TestLoop t;
    bulb::Event event;
    Log log;
    auto a = t.spawn(wait_twice(event, log));
    t.step();
    event.set();
    t.step();
    CHECK(log == Log{"first", "second"});  // still set: the second wait returns at once
    event.clear();
    auto b = t.spawn(wait_twice(event, log));
    t.step(2);
    CHECK(log.size() == 2);
    event.set();
    REQUIRE(t.finish(b));
    CHECK(log == Log{"first", "second", "first", "second"});
}

}  // TEST_SUITE
