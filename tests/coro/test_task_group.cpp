// SPDX-License-Identifier: MIT
/// @file
/// TaskGroup.
#include "coro_support.hpp"

#include <stdexcept>

using namespace coro_test;

namespace {

/// Runs `fn`, which must throw a bulb::ExceptionGroup, and returns the what() of each of its
/// sub-exceptions, in order (TaskGroup::wait() reports every child error in one group).
template <class F>
std::vector<std::string> group_whats(F&& fn) {
    try {
        fn();
    } catch (const bulb::ExceptionGroup& g) {
        std::vector<std::string> out;
        for (const auto& e : g.exceptions()) out.push_back(what_of(e));
        return out;
    }
    FAIL("no ExceptionGroup was thrown");
    return {};
}

/// Sleeps `delay`, logging "<name> done" or "<name> cancelled".
bulb::Task<> logged(bulb::Duration delay, std::vector<std::string>* log, std::string name) {
    try {
        co_await bulb::sleep(delay);
    } catch (const bulb::CancelledError&) {
        log->push_back(name + " cancelled");
        throw;
    }
    log->push_back(name + " done");
}

}  // namespace

TEST_SUITE("task_group") {

TEST_CASE("wait returns once every child has finished") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::vector<std::string> log;
    auto start = loop.time();
    auto main_task = [&]() -> bulb::Task<> {
        bulb::TaskGroup group;
        group.create_task(logged(30ms, &log, "c"));
        group.create_task(logged(10ms, &log, "a"));
        group.create_task(logged(20ms, &log, "b"));
        CHECK(group.size() == 3);
        co_await group.wait();
        CHECK(group.size() == 0);
        log.push_back("waited");
    };
    run(loop, main_task());
    CHECK(log == std::vector<std::string>{"a done", "b done", "c done", "waited"});
    CHECK(seconds_since(loop, start) == doctest::Approx(0.03).epsilon(0.01));
}

TEST_CASE("create_task returns the child's future with its result") {
    bulb_test::AuditedLoop loop;
    auto main_task = [&]() -> bulb::Task<int> {
        bulb::TaskGroup group;
        auto a = group.create_task(after(1ms, 20));
        auto b = group.create_task(after(2ms, 22));
        co_await group.wait();
        co_return a.result() + b.result();
    };
    CHECK(run(loop, main_task()) == 42);
}

TEST_CASE("the first failing child cancels the others and wait throws a group with its exception") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::vector<std::string> log;
    auto start = loop.time();
    auto main_task = [&]() -> bulb::Task<> {
        bulb::TaskGroup group;
        group.create_task(logged(1h, &log, "a"));
        group.create_task(fail_after(1s, "child failed"));
        group.create_task(logged(2h, &log, "b"));
        co_await group.wait();
    };
    CHECK(group_whats([&] { run(loop, main_task()); }) == std::vector<std::string>{"child failed"});
    CHECK(log == std::vector<std::string>{"a cancelled", "b cancelled"});
    CHECK(seconds_since(loop, start) == doctest::Approx(1.0).epsilon(0.01));
}

TEST_CASE("a child failing after the others were cancelled joins the group after the first error") {
    // test_taskgroups.TestTaskGroup.test_taskgroup_08 / _09: every error is in the group, in order
    bulb_test::AuditedLoop loop(virtual_clock());
    bool cleanup_ran = false;
    auto fails_on_cancel = [&]() -> bulb::Task<> {
        try {
            co_await bulb::sleep(1h);
        } catch (const bulb::CancelledError&) {
        }
        co_await bulb::sleep(1s);  // cleanup that takes time: wait() must wait for it
        cleanup_ran = true;
        throw std::logic_error("second");
    };
    auto main_task = [&]() -> bulb::Task<> {
        bulb::TaskGroup group;
        group.create_task(fails_on_cancel());
        group.create_task(fail_after(1s, "first"));
        co_await group.wait();
    };
    CHECK(group_whats([&] { run(loop, main_task()); }) == std::vector<std::string>{"first", "second"});
    CHECK(cleanup_ran);
}

TEST_CASE("cancelling the parent while it waits cancels the children and waits for them") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::vector<std::string> log;
    auto slow_cleanup = [&]() -> bulb::Task<> {
        try {
            co_await bulb::sleep(1h);
        } catch (const bulb::CancelledError&) {
            log.push_back("slow cancelled");
        }
        co_await bulb::sleep(2s);
        log.push_back("slow cleaned up");
    };
    auto main_task = [&]() -> bulb::Task<> {
        bulb::TaskGroup group;
        group.create_task(logged(1h, &log, "a"));
        group.create_task(slow_cleanup());
        try {
            co_await group.wait();
        } catch (const bulb::CancelledError& e) {
            log.push_back(std::string("parent: ") + e.what());
            CHECK(group.size() == 0);
            throw;
        }
    };
    auto f = bulb::create_task(loop, main_task());
    loop.call_later(1s, [f]() mutable { f.cancel("stop"); });
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    CHECK(log == std::vector<std::string>{"a cancelled", "slow cancelled", "slow cleaned up", "parent: stop"});
}

TEST_CASE("a child error wins over the cancellation of the waiting parent") {
    bulb_test::AuditedLoop loop(virtual_clock());
    auto fails_on_cancel = []() -> bulb::Task<> {
        try {
            co_await bulb::sleep(1h);
        } catch (const bulb::CancelledError&) {
        }
        throw std::runtime_error("cleanup failed");
    };
    auto main_task = [&]() -> bulb::Task<> {
        bulb::TaskGroup group;
        group.create_task(fails_on_cancel());
        co_await group.wait();
    };
    auto f = bulb::create_task(loop, main_task());
    loop.call_later(1s, [f]() mutable { f.cancel(); });
    CHECK(group_whats([&] { loop.run_until_complete(f); }) == std::vector<std::string>{"cleanup failed"});
}

TEST_CASE("cancelled children are not errors") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::vector<std::string> log;
    auto main_task = [&]() -> bulb::Task<> {
        bulb::TaskGroup group;
        auto victim = group.create_task(logged(1h, &log, "victim"));
        group.create_task(logged(2s, &log, "other"));
        co_await bulb::sleep(1s);
        victim.cancel();
        co_await group.wait();
    };
    run(loop, main_task());
    CHECK(log == std::vector<std::string>{"victim cancelled", "other done"});
}

TEST_CASE("a child may add more children while the parent waits") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::vector<std::string> log;
    auto main_task = [&]() -> bulb::Task<> {
        bulb::TaskGroup group;
        auto spawner = [&]() -> bulb::Task<> {
            co_await bulb::sleep(1s);
            group.create_task(logged(5s, &log, "grandchild"));
            log.push_back("spawner done");
        };
        group.create_task(spawner());
        co_await group.wait();
        log.push_back("waited");
    };
    run(loop, main_task());
    CHECK(log == std::vector<std::string>{"spawner done", "grandchild done", "waited"});
}

TEST_CASE("a failure while the parent runs other code is delivered at wait") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::vector<std::string> log;
    auto main_task = [&]() -> bulb::Task<> {
        bulb::TaskGroup group;
        group.create_task(fail_after(1s, "early"));
        group.create_task(logged(1h, &log, "long"));
        co_await bulb::sleep(2s);  // not interrupted (see task_group.hpp)
        log.push_back("body done");
        CHECK(group.aborting());
        CHECK_THROWS_AS(group.create_task(after(1ms, 0)), bulb::InvalidStateError);
        co_await group.wait();
    };
    CHECK(group_whats([&] { run(loop, main_task()); }) == std::vector<std::string>{"early"});
    CHECK(log == std::vector<std::string>{"long cancelled", "body done"});
}

TEST_CASE("create_task after wait has finished throws InvalidStateError") {
    bulb_test::AuditedLoop loop;
    auto main_task = [&]() -> bulb::Task<> {
        bulb::TaskGroup group;
        group.create_task(after(1ms, 1));
        co_await group.wait();
        CHECK_THROWS_AS(group.create_task(after(1ms, 1)), bulb::InvalidStateError);
    };
    run(loop, main_task());
}

TEST_CASE("destroying a group without wait cancels its children") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::vector<std::string> log;
    bulb::Future<void> child(loop);
    auto main_task = [&]() -> bulb::Task<> {
        bulb::TaskGroup group;
        child = group.create_task(logged(1h, &log, "child"));
        co_await bulb::sleep(1s);
        throw std::runtime_error("body failed");  // leaves the scope before wait()
    };
    CHECK_THROWS_AS(run(loop, main_task()), std::runtime_error);
    CHECK_THROWS_AS(loop.run_until_complete(child), bulb::CancelledError);
    CHECK(log == std::vector<std::string>{"child cancelled"});
}

TEST_CASE("a child error that wait never delivered is reported when the group is destroyed") {
    bulb_test::AuditedLoop loop(virtual_clock());
    RecordingHandler handler(loop);
    auto main_task = [&]() -> bulb::Task<> {
        bulb::TaskGroup group;
        group.create_task(fail_after(1s, "unseen"));
        co_await bulb::sleep(2s);
        throw std::logic_error("body failed");
    };
    CHECK_THROWS_AS(run(loop, main_task()), std::logic_error);
    REQUIRE(handler.size() == 1);
    CHECK(handler[0].message == "TaskGroup child exception was never retrieved");
    CHECK(group_whats([&] { std::rethrow_exception(handler[0].exception); }) == std::vector<std::string>{"unseen"});
}

TEST_CASE("wait_for around a task group times out, cancels the children and raises TimeoutError") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::vector<std::string> log;
    auto fetch_all = [&]() -> bulb::Task<> {
        bulb::TaskGroup group;
        group.create_task(logged(10s, &log, "a"));
        group.create_task(logged(20s, &log, "b"));
        co_await group.wait();
    };
    auto main_task = [&]() -> bulb::Task<> { co_await bulb::wait_for(fetch_all(), 5s); };
    CHECK_THROWS_AS(run(loop, main_task()), bulb::TimeoutError);
    CHECK(log == std::vector<std::string>{"a cancelled", "b cancelled"});
}

TEST_CASE("wait on an empty group returns at once") {
    // "At once": without going back to the loop. A callback queued before the wait must still
    // be pending after it, and the task must be done within the first loop iterations.
    bulb_test::AuditedLoop loop(virtual_clock());
    int loop_callbacks = 0;
    bool after_wait = false;
    auto main_task = [&]() -> bulb::Task<> {
        loop.call_soon([&] { ++loop_callbacks; });
        bulb::TaskGroup group;
        co_await group.wait();
        after_wait = true;
        CHECK(loop_callbacks == 0);
    };
    auto task = bulb::create_task(loop, main_task());
    run_iterations(loop, 3);
    CHECK(after_wait);
    CHECK(task.done());
    if (!task.done()) {  // a broken wait() suspended for ever: do not leave the task pending
        task.cancel();
        run_iterations(loop, 3);
    }
}

}  // TEST_SUITE
