// SPDX-License-Identifier: MIT
/// @file
/// Tasks and futures (issue 17): gather(return_exceptions, ...), run_until_complete with a Task,
/// get_exception_handler. Each case names the CPython test it follows.
#include "support/loop_fixture.hpp"

#include <bulb/coro.hpp>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

using namespace bulb_test;

namespace {

bulb::Task<int> value_after(int v, std::chrono::milliseconds d) {
    co_await bulb::sleep(d);
    co_return v;
}

bulb::Task<std::string> fail_after(std::string what, std::chrono::milliseconds d) {
    co_await bulb::sleep(d);
    throw std::runtime_error(what);
}

bulb::Task<void> cancel_self() {
    co_await bulb::sleep(1ms);
    throw bulb::CancelledError("self");
}

}  // namespace

TEST_CASE("gather(return_exceptions): errors sit beside results, nobody is cancelled") {
    // test_tasks.BaseTaskTests.test_gather_return_exceptions (and test_return_exceptions in
    // GatherTests): a failing child does not cancel its siblings; all outcomes come back in order.
    bulb::EventLoop loop;
    auto main = []() -> bulb::Task<void> {
        // Named first: GCC 12 miscompiles temporaries with destructors inside co_await.
        auto ta = value_after(1, 20ms);
        auto tb = fail_after("boom", 1ms);
        auto tc = cancel_self();
        auto all = bulb::gather(bulb::return_exceptions, std::move(ta), std::move(tb), std::move(tc));
        auto [a, b, c] = co_await std::move(all);
        REQUIRE(a.has_value());
        CHECK(a.value() == 1);  // still ran to its end after b failed
        CHECK(b.has_exception());
        CHECK(b.holds<std::runtime_error>());
        CHECK_FALSE(b.holds<std::logic_error>());
        CHECK_THROWS_WITH_AS(b.value(), "boom", std::runtime_error);
        CHECK(c.cancelled());
    };
    loop.run_until_complete(main());
}

TEST_CASE("gather(return_exceptions) over a vector, futures included") {
    // test_tasks.GatherTests (test_one_exception with return_exceptions=True)
    bulb::EventLoop loop;
    auto main = [&]() -> bulb::Task<void> {
        std::vector<bulb::Task<int>> tasks;
        tasks.push_back(value_after(1, 5ms));
        tasks.push_back([]() -> bulb::Task<int> {
            co_await bulb::sleep(1ms);
            throw std::logic_error("second");
        }());
        tasks.push_back(value_after(3, 10ms));
        auto g1 = bulb::gather(bulb::return_exceptions, std::move(tasks));
        auto outcomes = co_await std::move(g1);
        REQUIRE(outcomes.size() == 3);
        CHECK(outcomes[0].value() == 1);
        CHECK(outcomes[1].holds<std::logic_error>());
        CHECK(outcomes[2].value() == 3);

        bulb::Future<int> ok(loop), bad(loop);
        loop.call_soon([ok, bad]() mutable {
            ok.set_result(5);
            bad.set_exception(std::make_exception_ptr(std::runtime_error("f")));
        });
        std::vector<bulb::Future<int>> futures{ok, bad};
        auto g2 = bulb::gather(bulb::return_exceptions, std::move(futures));
        auto fo = co_await std::move(g2);
        CHECK(fo[0].value() == 5);
        CHECK(fo[1].holds<std::runtime_error>());

        std::vector<bulb::Task<void>> voids;
        voids.push_back(cancel_self());
        auto g3 = bulb::gather(bulb::return_exceptions, std::move(voids));
        auto vo = co_await std::move(g3);
        CHECK(vo[0].cancelled());
    };
    loop.run_until_complete(main());
}

TEST_CASE("gather(return_exceptions): cancelling the gather cancels the children and throws") {
    // test_tasks.GatherTests.test_cancel_gather_2 (return_exceptions=True): the outer cancel wins.
    bulb::EventLoop loop;
    auto done = std::make_shared<int>(0);
    auto child = [](std::shared_ptr<int> d) -> bulb::Task<int> {
        try {
            co_await bulb::sleep(60s);
        } catch (const bulb::CancelledError&) {
            ++*d;
            throw;
        }
        co_return 0;
    };
    auto outer = [&]() -> bulb::Task<void> {
        auto c1 = child(done);
        auto c2 = child(done);
        auto all = bulb::gather(bulb::return_exceptions, std::move(c1), std::move(c2));
        (void)co_await std::move(all);
    };
    auto f = bulb::create_task(loop, outer());
    loop.call_later(5ms, [f]() mutable { f.cancel(); });
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::CancelledError);
    CHECK(*done == 2);
}

TEST_CASE("run_until_complete takes a Task") {
    // test_base_events.BaseEventLoopTests.test_run_until_complete (with a coroutine)
    bulb::EventLoop loop;
    CHECK(loop.run_until_complete(value_after(9, 1ms)) == 9);
    CHECK_THROWS_AS(loop.run_until_complete(fail_after("x", 1ms)), std::runtime_error);
    loop.run_until_complete([]() -> bulb::Task<void> { co_return; }());
    loop.close();
    CHECK_THROWS_AS(loop.run_until_complete(value_after(1, 1ms)), bulb::InvalidStateError);
}

TEST_CASE("get_exception_handler returns what set_exception_handler installed") {
    // test_base_events.BaseEventLoopTests.test_set_exc_handler_custom / test_default_exc_handler_callback
    bulb::EventLoop loop;
    CHECK(loop.get_exception_handler() == nullptr);
    int calls = 0;
    loop.set_exception_handler([&calls](bulb::EventLoop&, const bulb::ExceptionContext&) { ++calls; });
    auto h = loop.get_exception_handler();
    REQUIRE(h != nullptr);
    (*h)(loop, bulb::ExceptionContext{"direct"});
    CHECK(calls == 1);
    loop.call_exception_handler({"through the loop"});
    CHECK(calls == 2);
    loop.set_exception_handler({});
    CHECK(loop.get_exception_handler() == nullptr);
}

TEST_CASE("current_task, all_tasks and task names") {
    // test_tasks.BaseTaskTests.test_current_task, test_task_set_name / test_task_default_name,
    // and test_tasks.test_all_tasks (asyncio.all_tasks lists only unfinished tasks)
    bulb::EventLoop loop;
    CHECK_FALSE(bulb::current_task());
    bulb::TaskRef seen_inside;
    auto named = [&]() -> bulb::Task<std::string> {
        bulb::TaskRef me = bulb::current_task();
        REQUIRE(me);
        CHECK(me == bulb::current_task(loop));
        seen_inside = me;
        const std::string before = me.get_name();
        CHECK(before.rfind("Task-", 0) == 0);
        CHECK(me.get_name() == before);  // stable once given
        me.set_name("worker");
        co_await bulb::sleep(1ms);
        co_return me.get_name();
    };
    auto sleeper = []() -> bulb::Task<void> { co_await bulb::sleep(60s); };
    auto lister = [&]() -> bulb::Task<std::size_t> {
        auto s = bulb::create_task(sleeper());
        co_await bulb::sleep(0ms);
        auto tasks = bulb::all_tasks();
        CHECK(std::find(tasks.begin(), tasks.end(), bulb::current_task()) != tasks.end());
        s.cancel();
        co_return tasks.size();
    };
    CHECK(loop.run_until_complete(named()) == "worker");
    CHECK(seen_inside.done());
    CHECK(seen_inside.get_name() == "worker");
    CHECK(loop.run_until_complete(lister()) == 2);
    CHECK(run_until(loop, [&] { return bulb::all_tasks(loop).empty(); }));  // the cancelled sleeper ends
}

TEST_CASE("cancelling() and uncancel() on the public task handle") {
    // test_tasks.BaseTaskTests.test_cancelling / test_uncancel_basic
    bulb::EventLoop loop;
    auto body = []() -> bulb::Task<int> {
        bulb::TaskRef me = bulb::current_task();
        try {
            co_await bulb::sleep(60s);
        } catch (const bulb::CancelledError&) {
            CHECK(me.cancelling() == 1);
            CHECK(me.uncancel() == 0);  // handled: the task goes on
        }
        CHECK(me.cancelling() == 0);
        co_await bulb::sleep(1ms);  // no CancelledError left pending
        co_return 7;
    };
    auto f = bulb::create_task(loop, body());
    loop.call_later(1ms, [&loop] {
        auto tasks = bulb::all_tasks(loop);
        REQUIRE(tasks.size() == 1);
        CHECK(tasks[0].cancel("stop"));
    });
    CHECK(loop.run_until_complete(f) == 7);
}

TEST_CASE("create_eager_task runs up to the first suspension inside the call") {
    // test_eager_task_factory.EagerTaskFactoryLoopTests.test_eager_task_factory_set /
    // test_asyncio_task_eager_start: a task that never suspends is done on return
    bulb::EventLoop loop;
    auto main = [&]() -> bulb::Task<void> {
        std::vector<std::string> log;
        auto quick = [&log]() -> bulb::Task<int> {
            log.push_back("quick ran");
            co_return 1;
        };
        auto slow = [&log]() -> bulb::Task<int> {
            log.push_back("slow started");
            co_await bulb::sleep(1ms);
            log.push_back("slow resumed");
            co_return 2;
        };
        auto q = bulb::create_eager_task(quick());
        CHECK(q.done());
        CHECK(q.result() == 1);
        auto s = bulb::create_eager_task(slow());
        CHECK_FALSE(s.done());
        CHECK(log == std::vector<std::string>{"quick ran", "slow started"});
        auto lazy = bulb::create_task(quick());
        CHECK(log.size() == 2);  // create_task never runs anything inside the call
        int r = co_await s;
        CHECK(r == 2);
        co_await lazy;
    };
    loop.run_until_complete(main());
}

TEST_CASE("set_eager_tasks and set_task_factory apply to create_task") {
    // test_tasks.BaseTaskTests.test_task_factory (the hook sees every task) and
    // test_eager_task_factory (loop-wide eager mode)
    bulb::EventLoop loop;
    RecordingHandler handler(loop);
    std::vector<std::string> names;
    int n = 0;
    bulb::set_task_factory(loop, [&](bulb::TaskRef t) {
        t.set_name("made-" + std::to_string(++n));
        names.push_back(t.get_name());
    });
    auto named = []() -> bulb::Task<std::string> { co_return bulb::current_task().get_name(); };
    CHECK(loop.run_until_complete(named()) == "made-1");
    bulb::set_eager_tasks(loop, true);
    auto f = bulb::create_task(loop, named());
    CHECK(f.done());  // eager: finished inside create_task
    CHECK(f.result() == "made-2");
    bulb::set_eager_tasks(loop, false);
    bulb::set_task_factory(loop, [](bulb::TaskRef) { throw std::runtime_error("hook failed"); });
    CHECK(loop.run_until_complete(named()).rfind("Task-", 0) == 0);  // the task still ran
    REQUIRE(handler.size() == 1);
    CHECK(handler[0].what == "hook failed");
    bulb::set_task_factory(loop, {});
    CHECK(names == std::vector<std::string>{"made-1", "made-2"});
}

TEST_CASE("Runner: several top-level calls share one loop; close cancels what is left") {
    // test_runners.RunnerTests.test_run / test_explicit_close / test_double_close /
    // test_run_keeps_context (the loop, not a context, carries over between calls)
    auto cancelled = std::make_shared<bool>(false);
    bulb::EventLoop* first_loop = nullptr;
    {
        bulb::Runner runner;
        auto first = [&]() -> bulb::Task<int> {
            first_loop = &bulb::get_running_loop();
            // Left running on purpose: the next run() call sees it progress.
            auto bg = [](std::shared_ptr<bool> c) -> bulb::Task<void> {
                try {
                    co_await bulb::sleep(60s);
                } catch (const bulb::CancelledError&) {
                    *c = true;
                    throw;
                }
            };
            (void)bulb::create_task(bg(cancelled));
            co_return 1;
        };
        CHECK(runner.run(first()) == 1);
        auto second = [&]() -> bulb::Task<std::size_t> {
            CHECK(&bulb::get_running_loop() == first_loop);
            co_return bulb::all_tasks().size();  // this task and the one left by first()
        };
        CHECK(runner.run(second()) == 2);
        CHECK(&runner.get_loop() == first_loop);
        CHECK_FALSE(*cancelled);
        runner.close();
        CHECK(*cancelled);
        runner.close();  // idempotent
        CHECK_THROWS_AS(runner.run(value_after(1, 1ms)), bulb::InvalidStateError);
        CHECK_THROWS_AS(runner.get_loop(), bulb::InvalidStateError);
    }
    bulb::Runner nested;
    auto inner = [&]() -> bulb::Task<void> {
        CHECK_THROWS_AS(nested.run(value_after(1, 1ms)), bulb::InvalidStateError);
        co_return;
    };
    bulb::EventLoop other;
    other.run_until_complete(inner());
}

TEST_CASE("wait and as_completed over futures of different result types") {
    // test_tasks.BaseTaskTests.test_wait_first_completed / test_as_completed (mixed futures,
    // through completion_of). The order is made by hand, not by timers: a loaded host may run
    // all timers before the first wait looks.
    bulb::EventLoop loop;
    auto main = [&]() -> bulb::Task<void> {
        bulb::Future<int> fi(loop);
        auto fs = bulb::create_task(fail_after("text failed", 1ms));
        bulb::Future<void> fv(loop);
        auto ci = bulb::completion_of(fi);
        auto cs = bulb::completion_of(fs);
        auto cv = bulb::completion_of(fv);
        auto first = bulb::wait(std::vector<bulb::Future<void>>{ci, cs, cv}, bulb::ReturnWhen::first_completed);
        auto [done, pending] = co_await std::move(first);
        REQUIRE(done.size() == 1);
        CHECK(done[0] == cs);
        CHECK(pending.size() == 2);
        CHECK_THROWS_WITH_AS(fs.result(), "text failed", std::runtime_error);

        // fs is done; fv completes next, then fi
        loop.call_soon([fv]() mutable { fv.set_result(); });
        loop.call_soon([fi]() mutable { fi.set_result(1); });
        std::vector<bulb::Future<void>> order;
        auto gen = bulb::as_completed(bulb::completions(fi, fs, fv));
        while (auto f = co_await gen.next()) order.push_back(*f);
        REQUIRE(order.size() == 3);
        CHECK(fi.result() == 1);
        CHECK(order[0].exception() != nullptr);
        CHECK(order[1].exception() == nullptr);
        CHECK(order[2].exception() == nullptr);
    };
    loop.run_until_complete(main());
}

TEST_CASE("completion_of mirrors cancellation and is independent of the source") {
    bulb::EventLoop loop;
    bulb::Future<int> src(loop);
    auto c = bulb::completion_of(src);
    src.cancel();
    CHECK(run_until(loop, [&] { return c.done(); }));
    CHECK(c.cancelled());
    bulb::Future<int> src2(loop);
    auto c2 = bulb::completion_of(src2);
    CHECK(c2.cancel());
    CHECK_FALSE(src2.cancelled());
    src2.set_result(3);
    run_once(loop);
    run_once(loop);
    CHECK(src2.result() == 3);
}
