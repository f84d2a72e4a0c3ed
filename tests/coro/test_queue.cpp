// SPDX-License-Identifier: MIT
/// @file
/// Queue, LifoQueue, PriorityQueue: nowait calls and their exceptions, blocking get/put, the
/// cancel-at-wake races (no item or slot lost), task_done/join, shutdown (Python 3.13), ordering,
/// move-only items.
#include "sync_support.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>

using namespace sync_test;

namespace {

using IntQueue = bulb::Queue<int>;

template <class Q>
bulb::Task<> get_one(Q& q, std::vector<int>& got) {
    got.push_back(co_await q.get());
}

template <class Q>
bulb::Task<> get_deref(Q& q, std::vector<int>& got) {
    std::unique_ptr<int> p = co_await q.get();
    got.push_back(*p);
}

bulb::Task<> get_logged(IntQueue& q, Log& log, std::string name) {
    try {
        int v = co_await q.get();
        log.push_back(name + "=" + std::to_string(v));
    } catch (const bulb::QueueShutDown&) {
        log.push_back(name + ":shutdown");
        throw;
    }
}

bulb::Task<> put_logged(IntQueue& q, int v, Log& log) {
    try {
        co_await q.put(v);
        log.push_back("put " + std::to_string(v));
    } catch (const bulb::QueueShutDown&) {
        log.push_back("put " + std::to_string(v) + ":shutdown");
        throw;
    }
}

bulb::Task<> log_only(Log& log, std::string name) {
    log.push_back(std::move(name));
    co_return;
}

bulb::Task<> join_logged(IntQueue& q, Log& log) {
    co_await q.join();
    log.push_back("joined");
}

bulb::Task<> get_with_timeout(IntQueue& q, Log& log) {
    try {
        int v = co_await bulb::wait_for(q.get(), 10ms);
        log.push_back("got " + std::to_string(v));
    } catch (const bulb::TimeoutError&) {
        log.push_back("timeout");
    }
}

// A counter of live items: destroyed items are counted, so a lost or duplicated item shows.
struct Tracked {
    int id;
    int* live;
    Tracked(int i, int* l) : id(i), live(l) { ++*live; }
    Tracked(Tracked&& o) noexcept : id(o.id), live(std::exchange(o.live, nullptr)) {}
    Tracked& operator=(Tracked&& o) noexcept {
        if (live) --*live;
        id = o.id;
        live = std::exchange(o.live, nullptr);
        return *this;
    }
    Tracked(const Tracked&) = delete;
    ~Tracked() {
        if (live) --*live;
    }
};

bulb::Task<> put_tracked(bulb::Queue<Tracked>& q, int id, int* live) {
    co_await q.put(Tracked(id, live));
}

bulb::Task<> move_only_round_trip(bulb::Queue<std::unique_ptr<int>>& q, std::vector<int>& got) {
    for (int i = 0; i < 4; ++i) co_await q.put(std::make_unique<int>(i));  // the 3rd and 4th block
    std::unique_ptr<int> last = co_await q.get();
    got.push_back(*last);
}

bulb::Task<> move_only_consumer(bulb::Queue<std::unique_ptr<int>>& q, std::vector<int>& got, int n) {
    for (int i = 0; i < n; ++i) {
        std::unique_ptr<int> p = co_await q.get();
        got.push_back(*p);
        q.task_done();
    }
}

bulb::Task<> producer(IntQueue& q, int first, int count, std::vector<int>& put_ok) {
    for (int i = first; i < first + count; ++i) {
        co_await q.put(i);
        put_ok.push_back(i);  // no suspension between the put and this record
        if (i % 3 == 0) co_await bulb::sleep(0s);
    }
}

bulb::Task<> consumer(IntQueue& q, std::vector<int>& got) {
    for (;;) {
        int v = co_await q.get();
        got.push_back(v);  // no suspension between the get and this record
        q.task_done();
        if (v % 2) co_await bulb::sleep(0s);
    }
}

}  // namespace

TEST_SUITE("queue") {

TEST_CASE("put_nowait/get_nowait are FIFO; QueueEmpty and QueueFull; size queries") {
    IntQueue q(2);
    CHECK(q.maxsize() == 2);
    CHECK(q.empty());
    CHECK_FALSE(q.full());
    CHECK_THROWS_AS(q.get_nowait(), bulb::QueueEmpty);
    q.put_nowait(1);
    q.put_nowait(2);
    CHECK(q.qsize() == 2);
    CHECK(q.full());
    CHECK_THROWS_AS(q.put_nowait(3), bulb::QueueFull);
    CHECK(q.get_nowait() == 1);
    CHECK(q.get_nowait() == 2);
    CHECK(q.empty());
    try {
        q.get_nowait();
    } catch (const bulb::QueueEmpty& e) {
        CHECK(e.code() == bulb::errc::queue_empty);
    }
    IntQueue unbounded;
    for (int i = 0; i < 1000; ++i) unbounded.put_nowait(i);
    CHECK_FALSE(unbounded.full());
    CHECK(unbounded.maxsize() == 0);
}

TEST_CASE("a failed put_nowait leaves a move-only item with the caller") {
    bulb::Queue<std::unique_ptr<int>> q(1);
    q.put_nowait(std::make_unique<int>(1));
    auto p = std::make_unique<int>(2);
    CHECK_THROWS_AS(q.put_nowait(std::move(p)), bulb::QueueFull);
    REQUIRE(p);
    CHECK(*p == 2);
    q.shutdown();
    CHECK_THROWS_AS(q.put_nowait(std::move(p)), bulb::QueueShutDown);
    CHECK(p);
}

TEST_CASE("get() and put() do not suspend when they can complete at once") {
    TestLoop t;
    IntQueue q(1);
    q.put_nowait(5);
    Log log;
    std::vector<int> got;
    auto a = t.spawn(get_one(q, got));
    auto b = t.spawn(put_logged(q, 6, log));
    auto c = t.spawn(log_only(log, "c"));
    t.step();
    CHECK(got == std::vector<int>{5});
    CHECK(log == Log{"put 6", "c"});
    CHECK(q.qsize() == 1);
}

TEST_CASE("get() waits for an item; getters are served in FIFO order") {
    TestLoop t;
    IntQueue q;
    Log log;
    std::vector<bulb::Future<void>> getters;
    for (const char* name : {"a", "b", "c"}) getters.push_back(t.spawn(get_logged(q, log, name)));
    t.step();
    CHECK(log.empty());
    q.put_nowait(1);
    q.put_nowait(2);
    t.step();
    CHECK(log == Log{"a=1", "b=2"});
    q.put_nowait(3);
    REQUIRE(t.finish_all(getters));
    CHECK(log == Log{"a=1", "b=2", "c=3"});
    CHECK(q.empty());
    CHECK(t.report_list().empty());
}

TEST_CASE("put() waits while the queue is full; get_nowait() lets the oldest putter in") {
    TestLoop t;
    IntQueue q(2);
    Log log;
    auto p1 = t.spawn(put_logged(q, 1, log));
    auto p2 = t.spawn(put_logged(q, 2, log));
    auto p3 = t.spawn(put_logged(q, 3, log));
    auto p4 = t.spawn(put_logged(q, 4, log));
    t.step();
    CHECK(log == Log{"put 1", "put 2"});
    CHECK(q.full());
    CHECK(q.get_nowait() == 1);
    t.step();
    CHECK(log == Log{"put 1", "put 2", "put 3"});
    CHECK(q.get_nowait() == 2);
    CHECK(q.get_nowait() == 3);
    REQUIRE(t.finish(p4));
    CHECK(q.get_nowait() == 4);
    CHECK(q.empty());
}

TEST_CASE("put wakes getter A, A is cancelled before it runs: B gets the item") {
    TestLoop t;
    IntQueue q;
    Log log;
    auto a = t.spawn(get_logged(q, log, "a"));
    auto b = t.spawn(get_logged(q, log, "b"));
    auto c = t.spawn(get_logged(q, log, "c"));
    t.step();
    q.put_nowait(7);  // wakes A...
    a.cancel();       // ...which is cancelled before it takes the item
    REQUIRE(t.finish(a));
    REQUIRE(t.finish(b));
    t.step(2);
    CHECK(a.cancelled());
    CHECK(log == Log{"b=7"});
    CHECK_FALSE(c.done());
    CHECK(q.empty());
    q.put_nowait(8);
    REQUIRE(t.finish(c));
    CHECK(log == Log{"b=7", "c=8"});
}

TEST_CASE("a woken getter whose item was taken by someone else waits again") {
    TestLoop t;
    IntQueue q;
    Log log;
    auto a = t.spawn(get_logged(q, log, "a"));
    t.step();
    q.put_nowait(1);               // wakes A
    CHECK(q.get_nowait() == 1);    // taken before A runs (asyncio allows this)
    t.step(2);
    CHECK_FALSE(a.done());
    q.put_nowait(2);
    REQUIRE(t.finish(a));
    CHECK(log == Log{"a=2"});
}

TEST_CASE("get wakes putter P, P is cancelled before it runs: the next putter gets the slot") {
    TestLoop t;
    IntQueue q(1);
    q.put_nowait(1);
    Log log;
    auto p2 = t.spawn(put_logged(q, 2, log));
    auto p3 = t.spawn(put_logged(q, 3, log));
    auto p4 = t.spawn(put_logged(q, 4, log));
    t.step();
    CHECK(q.get_nowait() == 1);  // wakes P2...
    p2.cancel();                 // ...which is cancelled before it fills the slot
    REQUIRE(t.finish(p2));
    REQUIRE(t.finish(p3));
    t.step(2);
    CHECK(p2.cancelled());
    CHECK(log == Log{"put 3"});
    CHECK_FALSE(p4.done());
    CHECK(q.qsize() == 1);
    CHECK(q.get_nowait() == 3);
    REQUIRE(t.finish(p4));
    CHECK(q.get_nowait() == 4);
}

TEST_CASE("a cancelled put() adds nothing and destroys its item") {
    TestLoop t;
    bulb::Queue<Tracked> q(1);
    int live = 0;
    q.put_nowait(Tracked(1, &live));
    auto p = t.spawn(put_tracked(q, 2, &live));
    t.step();
    CHECK(live == 2);  // one queued, one held by the waiting put()
    p.cancel();
    REQUIRE(t.finish(p));
    CHECK(p.cancelled());
    CHECK(live == 1);
    CHECK(q.qsize() == 1);
    CHECK(q.get_nowait().id == 1);
    CHECK(live == 0);
}

TEST_CASE("a getter cancelled while it waits leaves; the item goes to the next getter") {
    TestLoop t;
    IntQueue q;
    Log log;
    auto a = t.spawn(get_logged(q, log, "a"));
    auto b = t.spawn(get_logged(q, log, "b"));
    t.step();
    a.cancel();
    t.step();
    q.put_nowait(9);
    REQUIRE(t.finish(b));
    CHECK(a.cancelled());
    CHECK(log == Log{"b=9"});
}

TEST_CASE("join() waits until every item put has been marked done") {
    TestLoop t;
    IntQueue q;
    Log log;
    auto j0 = t.spawn(join_logged(q, log));
    t.step();
    CHECK(log == Log{"joined"});  // nothing pending
    log.clear();
    q.put_nowait(1);
    q.put_nowait(2);
    auto j = t.spawn(join_logged(q, log));
    t.step(2);
    CHECK(log.empty());
    q.get_nowait();
    q.get_nowait();
    q.task_done();
    t.step(2);
    CHECK(log.empty());  // one item still in progress
    q.task_done();
    REQUIRE(t.finish(j));
    CHECK(log == Log{"joined"});
    CHECK_THROWS_AS(q.task_done(), std::invalid_argument);
}

TEST_CASE("shutdown(): put raises; get drains what is left, then raises; blocked getters raise") {
    TestLoop t;
    IntQueue q;
    Log log;
    auto a = t.spawn(get_logged(q, log, "a"));
    auto b = t.spawn(get_logged(q, log, "b"));
    t.step();
    q.shutdown();
    REQUIRE(t.finish(a));
    REQUIRE(t.finish(b));
    CHECK(log == Log{"a:shutdown", "b:shutdown"});
    CHECK_THROWS_AS(a.result(), bulb::QueueShutDown);
    CHECK_THROWS_AS(b.result(), bulb::QueueShutDown);
    CHECK_THROWS_AS(q.put_nowait(1), bulb::QueueShutDown);
    CHECK_THROWS_AS(q.get_nowait(), bulb::QueueShutDown);

    IntQueue r;
    r.put_nowait(1);
    r.put_nowait(2);
    r.shutdown();
    log.clear();
    auto p = t.spawn(put_logged(r, 3, log));
    auto g1 = t.spawn(get_logged(r, log, "g1"));
    auto g2 = t.spawn(get_logged(r, log, "g2"));
    auto g3 = t.spawn(get_logged(r, log, "g3"));
    t.step();
    CHECK(log == Log{"put 3:shutdown", "g1=1", "g2=2", "g3:shutdown"});
    CHECK_THROWS_AS(p.result(), bulb::QueueShutDown);
    CHECK_THROWS_AS(g3.result(), bulb::QueueShutDown);
    CHECK(r.qsize() == 0);
}

TEST_CASE("shutdown() wakes blocked putters, which raise; the queued items stay") {
    TestLoop t;
    IntQueue q(1);
    q.put_nowait(1);
    Log log;
    auto p = t.spawn(put_logged(q, 2, log));
    t.step();
    q.shutdown();
    REQUIRE(t.finish(p));
    CHECK(log == Log{"put 2:shutdown"});
    CHECK_THROWS_AS(p.result(), bulb::QueueShutDown);
    CHECK(q.get_nowait() == 1);
    CHECK_THROWS_AS(q.get_nowait(), bulb::QueueShutDown);
}

TEST_CASE("shutdown(immediate): the queue is emptied, dropped items count as done, join() accounts") {
    TestLoop t;
    IntQueue q;
    Log log;
    for (int i = 1; i <= 3; ++i) q.put_nowait(i);
    CHECK(q.get_nowait() == 1);  // taken, not yet marked done
    auto j = t.spawn(join_logged(q, log));
    t.step();
    q.shutdown(true);
    CHECK(q.empty());
    auto g = t.spawn(get_logged(q, log, "g"));
    t.step(2);
    CHECK(log == Log{"g:shutdown"});  // join still waits for item 1
    CHECK_THROWS_AS(g.result(), bulb::QueueShutDown);
    q.task_done();
    REQUIRE(t.finish(j));
    CHECK(log == Log{"g:shutdown", "joined"});
    CHECK_THROWS_AS(q.task_done(), std::invalid_argument);

    IntQueue r;
    r.put_nowait(1);
    r.put_nowait(2);
    auto j2 = t.spawn(join_logged(r, log));
    auto g2 = t.spawn(get_logged(r, log, "g2"));
    t.step();
    CHECK(log.back() == "g2=1");
    r.task_done();
    r.shutdown(true);  // drops item 2: nothing is pending any more
    REQUIRE(t.finish(j2));
    CHECK(log.back() == "joined");
}

TEST_CASE("PriorityQueue: smallest first, by a comparator, equal items in insertion order") {
    bulb::PriorityQueue<int> q;
    for (int v : {5, 1, 4, 2, 3}) q.put_nowait(v);
    std::vector<int> out;
    while (!q.empty()) out.push_back(q.get_nowait());
    CHECK(out == std::vector<int>{1, 2, 3, 4, 5});

    bulb::PriorityQueue<int, std::greater<int>> largest;
    for (int v : {5, 1, 4, 2, 3}) largest.put_nowait(v);
    out.clear();
    while (!largest.empty()) out.push_back(largest.get_nowait());
    CHECK(out == std::vector<int>{5, 4, 3, 2, 1});

    using Job = std::pair<int, std::string>;
    auto by_priority = [](const Job& a, const Job& b) { return a.first < b.first; };
    bulb::PriorityQueue<Job, decltype(by_priority)> jobs(3, by_priority);
    jobs.put_nowait(Job{2, "x"});
    jobs.put_nowait(Job{1, "y"});
    jobs.put_nowait(Job{2, "z"});
    CHECK(jobs.full());
    CHECK(jobs.get_nowait().second == "y");
    jobs.put_nowait(Job{2, "w"});
    CHECK(jobs.get_nowait().second == "x");
    CHECK(jobs.get_nowait().second == "z");
    CHECK(jobs.get_nowait().second == "w");
}

TEST_CASE("LifoQueue: last in, first out") {
    TestLoop t;
    bulb::LifoQueue<int> q(3);
    for (int v : {1, 2, 3}) q.put_nowait(v);
    CHECK(q.full());
    CHECK(q.get_nowait() == 3);
    q.put_nowait(4);
    std::vector<int> got;
    std::vector<bulb::Future<void>> getters;
    for (int i = 0; i < 4; ++i) getters.push_back(t.spawn(get_one(q, got)));
    t.step();
    CHECK(got == std::vector<int>{4, 2, 1});
    q.put_nowait(9);
    REQUIRE(t.finish_all(getters));
    CHECK(got == std::vector<int>{4, 2, 1, 9});
}

TEST_CASE("move-only items through blocking put() and get(), in every queue kind") {
    TestLoop t;
    bulb::Queue<std::unique_ptr<int>> q(2);
    std::vector<int> got;
    auto producer_task = t.spawn(move_only_round_trip(q, got));
    auto consumer_task = t.spawn(move_only_consumer(q, got, 3));
    REQUIRE(t.finish(producer_task));
    REQUIRE(t.finish(consumer_task));
    CHECK(outcome(producer_task) == "ok");
    CHECK(got.size() == 4);
    std::sort(got.begin(), got.end());
    CHECK(got == std::vector<int>{0, 1, 2, 3});

    auto deref_less = [](const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) { return *a < *b; };
    bulb::PriorityQueue<std::unique_ptr<int>, decltype(deref_less)> pq(0, deref_less);
    for (int v : {3, 1, 2}) pq.put_nowait(std::make_unique<int>(v));
    CHECK(*pq.get_nowait() == 1);
    bulb::LifoQueue<std::unique_ptr<int>> lq;
    for (int v : {3, 1, 2}) lq.put_nowait(std::make_unique<int>(v));
    CHECK(*lq.get_nowait() == 2);
    std::vector<int> more;
    auto g = t.spawn(get_deref(pq, more));
    REQUIRE(t.finish(g));
    CHECK(more == std::vector<int>{2});
}

TEST_CASE("wait_for(q.get(), limit): a timed-out getter leaves; the next item stays queued") {
    TestLoop t(bulb::LoopOptions{.virtual_clock = true});
    IntQueue q;
    Log log;
    auto a = t.spawn(get_with_timeout(q, log));
    REQUIRE(t.finish(a));
    CHECK(log == Log{"timeout"});
    q.put_nowait(1);
    CHECK(q.qsize() == 1);
    auto b = t.spawn(get_with_timeout(q, log));
    REQUIRE(t.finish(b));
    CHECK(log == Log{"timeout", "got 1"});
    CHECK(t.report_list().empty());
}

TEST_CASE("producers and consumers with random cancellations: every item put is got exactly once") {
    for (unsigned seed = 1; seed <= 20; ++seed) {
        CAPTURE(seed);
        TestLoop t;
        IntQueue q(3);
        std::vector<int> put_ok, got;
        std::vector<bulb::Future<void>> producers, consumers;
        for (int p = 0; p < 4; ++p) producers.push_back(t.spawn(producer(q, p * 100, 30, put_ok)));
        for (int c = 0; c < 4; ++c) consumers.push_back(t.spawn(consumer(q, got)));
        std::mt19937 rng(seed);
        for (int turn = 0; turn < 300; ++turn) {
            t.step();
            if (rng() % 6 == 0) producers[rng() % producers.size()].cancel();
            if (rng() % 6 == 0) {
                auto& c = consumers[rng() % consumers.size()];
                if (c.cancel()) consumers.push_back(t.spawn(consumer(q, got)));  // keep consuming
            }
        }
        for (auto& p : producers) p.cancel();
        REQUIRE(t.finish_all(producers));
        t.step(20);
        for (auto& c : consumers) c.cancel();
        REQUIRE(t.finish_all(consumers));
        std::vector<int> all = got;
        while (!q.empty()) all.push_back(q.get_nowait());
        std::sort(all.begin(), all.end());
        std::sort(put_ok.begin(), put_ok.end());
        CHECK(all == put_ok);  // nothing lost, nothing duplicated
        CHECK(std::set<int>(all.begin(), all.end()).size() == all.size());
        CHECK(put_ok.size() > 10);
        CHECK(t.report_list().empty());
    }
}

}  // TEST_SUITE
