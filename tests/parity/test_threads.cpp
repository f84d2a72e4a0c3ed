// SPDX-License-Identifier: MIT
/// @file
/// Threads and loops (issue 17): run_coroutine_threadsafe, to_thread, run_in_executor with a user
/// executor, set_default_executor, shutdown_default_executor, call_soon_threadsafe's handle.
/// Each case names the CPython test it follows (Lib/test/test_asyncio/...).
#include "support/loop_fixture.hpp"

#include <bulb/coro.hpp>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

using namespace bulb_test;

namespace {

/// Runs `loop` on a thread of its own until stop() (the loop owner for cross-thread tests).
class LoopThread {
public:
    LoopThread() : thread_([this] {
        loop_.call_soon([this] { started_.store(true); });
        loop_.run_forever();
    }) {
        while (!started_.load()) std::this_thread::yield();
    }
    ~LoopThread() { stop(); }
    void stop() {
        if (!thread_.joinable()) return;
        loop_.call_soon_threadsafe([this] { loop_.stop(); });
        thread_.join();
        bulb::cancel_all_tasks(loop_);
        loop_.close();
    }
    bulb::EventLoop& loop() { return loop_; }

private:
    bulb::EventLoop loop_;
    std::atomic<bool> started_{false};
    std::thread thread_;
};

bulb::Task<int> add(int a, int b) {
    co_await bulb::sleep(1ms);
    co_return a + b;
}

bulb::Task<int> fail_after_sleep() {
    co_await bulb::sleep(1ms);
    throw std::runtime_error("Fail!");
}

bulb::Task<int> sleep_long(std::atomic<bool>* cancelled) {
    try {
        co_await bulb::sleep(60s);
    } catch (const bulb::CancelledError&) {
        cancelled->store(true);
        throw;
    }
    co_return 0;
}

}  // namespace

TEST_CASE("run_coroutine_threadsafe returns the task's result to another thread") {
    // test_tasks.RunCoroutineThreadsafeTests.test_run_coroutine_threadsafe
    LoopThread lt;
    bulb::ConcurrentFuture<int> f = bulb::run_coroutine_threadsafe(add(1, 2), lt.loop());
    CHECK(f.result(5s) == 3);
    CHECK(f.done());
    CHECK_FALSE(f.cancelled());
}

TEST_CASE("run_coroutine_threadsafe passes the task's exception on") {
    // test_tasks.RunCoroutineThreadsafeTests.test_run_coroutine_threadsafe_with_exception
    LoopThread lt;
    auto f = bulb::run_coroutine_threadsafe(fail_after_sleep(), lt.loop());
    CHECK_THROWS_WITH_AS(f.result(5s), "Fail!", std::runtime_error);
    CHECK(f.exception() != nullptr);
}

TEST_CASE("run_coroutine_threadsafe: result(timeout) times out, cancel() cancels the task") {
    // test_tasks.RunCoroutineThreadsafeTests.test_run_coroutine_threadsafe_with_timeout: the
    // waiting thread gets TimeoutError; cancelling the future then cancels the task on the loop.
    LoopThread lt;
    std::atomic<bool> cancelled{false};
    auto f = bulb::run_coroutine_threadsafe(sleep_long(&cancelled), lt.loop());
    CHECK_THROWS_AS(f.result(20ms), bulb::TimeoutError);
    CHECK_FALSE(f.done());
    CHECK(f.cancel());
    CHECK(f.cancelled());
    CHECK_THROWS_AS(f.result(), bulb::CancelledError);
    for (int i = 0; i < 500 && !cancelled.load(); ++i) std::this_thread::sleep_for(1ms);
    CHECK(cancelled.load());
}

TEST_CASE("run_coroutine_threadsafe: a task cancelled on the loop cancels the future") {
    // test_tasks.RunCoroutineThreadsafeTests.test_run_coroutine_threadsafe_task_cancelled
    LoopThread lt;
    std::atomic<bool> cancelled{false};
    auto f = bulb::run_coroutine_threadsafe(sleep_long(&cancelled), lt.loop());
    std::this_thread::sleep_for(5ms);
    bulb::EventLoop* loop = &lt.loop();
    lt.loop().call_soon_threadsafe([loop] {
        bulb::detail::TaskRunner::for_each_pending(*loop, [](bulb::detail::TaskRunner& r) { r.cancel("stop"); });
    });
    CHECK_THROWS_AS(f.result(5s), bulb::CancelledError);
    CHECK(f.cancelled());
}

TEST_CASE("run_coroutine_threadsafe: the loop closing fails the future instead of leaving it pending") {
    // No CPython counterpart (asyncio leaves the future pending forever); bulb fails it so a
    // waiting thread never hangs on a loop that is gone.
    std::atomic<bool> cancelled{false};
    bulb::ConcurrentFuture<int> started, never_started;
    {
        auto loop = std::make_unique<bulb::EventLoop>();
        started = bulb::run_coroutine_threadsafe(sleep_long(&cancelled), *loop);
        run_once(*loop);  // the task starts and sleeps
        never_started = bulb::run_coroutine_threadsafe(add(1, 1), *loop);  // queued, never run
        loop.reset();
    }
    REQUIRE(started.wait_for(1s));
    CHECK_THROWS_AS(started.result(), bulb::InvalidStateError);
    REQUIRE(never_started.wait_for(1s));
    CHECK_THROWS_AS(never_started.result(), bulb::InvalidStateError);
    bulb::EventLoop closed;
    closed.close();
    CHECK_THROWS_AS((void)bulb::run_coroutine_threadsafe(add(1, 1), closed), bulb::InvalidStateError);
}

TEST_CASE("to_thread runs the call off the loop thread and returns its result") {
    // test_threads.ToThreadTests.test_to_thread and test_to_thread_args_kwargs
    bulb::EventLoop loop;
    const auto loop_thread = std::this_thread::get_id();
    auto main = [&]() -> bulb::Task<int> {
        auto which = [] { return std::this_thread::get_id(); };
        auto where_f = bulb::to_thread(which);
        auto where = co_await where_f;
        CHECK(where != loop_thread);
        // Named first: GCC 12 miscompiles temporaries with destructors inside co_await.
        auto sum = [](int a, std::string s) { return a + static_cast<int>(s.size()); };
        std::string ab = "ab";
        auto pending = bulb::to_thread(sum, 40, ab);
        int r = co_await pending;
        co_return r;
    };
    CHECK(loop.run_until_complete(bulb::create_task(loop, main())) == 42);
}

TEST_CASE("to_thread passes exceptions and runs calls concurrently") {
    // test_threads.ToThreadTests.test_to_thread_exception and test_to_thread_concurrent
    bulb::EventLoop loop;
    auto main = [&]() -> bulb::Task<void> {
        auto thrower = [] { throw std::runtime_error("in thread"); };
        auto failing = bulb::to_thread(thrower);
        bool threw = false;
        try {
            co_await failing;
        } catch (const std::runtime_error& e) {
            threw = std::string(e.what()) == "in thread";
        }
        CHECK(threw);
        // Two calls that each wait for the other finish only if they run at the same time.
        std::atomic<int> arrived{0};
        auto meet = [&arrived] {
            arrived.fetch_add(1);
            for (int i = 0; i < 5000 && arrived.load() < 2; ++i) std::this_thread::sleep_for(1ms);
            return arrived.load();
        };
        auto a = bulb::to_thread(meet);
        auto b = bulb::to_thread(meet);
        int ra = co_await a;
        int rb = co_await b;
        CHECK(ra == 2);
        CHECK(rb == 2);
    };
    loop.run_until_complete(bulb::create_task(loop, main()));
}

TEST_CASE("run_in_executor with a user executor runs there") {
    // test_events.EventLoopTestsMixin.test_run_in_executor (with an explicit executor)
    bulb::EventLoop loop;
    bulb::ThreadPoolExecutor pool(2);
    std::thread::id ran_on;
    auto f = loop.run_in_executor(pool, [&] {
        ran_on = std::this_thread::get_id();
        return std::string("done");
    });
    CHECK(loop.run_until_complete(f) == "done");
    CHECK(ran_on != std::this_thread::get_id());
    auto g = loop.run_in_executor(pool, []() -> int { throw std::logic_error("bad"); });
    CHECK_THROWS_AS(loop.run_until_complete(g), std::logic_error);
}

TEST_CASE("run_in_executor: a cancelled future skips a job that has not started") {
    // test_events.EventLoopTestsMixin.test_run_in_executor_cancel
    bulb::EventLoop loop;
    bulb::ThreadPoolExecutor pool(1);
    std::atomic<bool> release{false}, second_ran{false};
    auto first = loop.run_in_executor(pool, [&] {
        while (!release.load()) std::this_thread::sleep_for(1ms);
    });
    auto second = loop.run_in_executor(pool, [&] { second_ran.store(true); });
    CHECK(second.cancel());
    release.store(true);
    loop.run_until_complete(first);
    pool.shutdown(true);
    CHECK_FALSE(second_ran.load());
    CHECK(second.cancelled());
}

namespace {
/// An executor that drops every job unrun (a broken executor), to check futures still complete.
struct DroppingExecutor final : bulb::Executor {
    void submit(bulb::UniqueFunction<void()> job) override { job.reset(); }
    void shutdown(bool) override {}
};
/// Counts jobs and runs them inline on a thread of its own.
struct CountingExecutor final : bulb::Executor {
    std::atomic<int> jobs{0};
    std::atomic<bool> shut{false};
    bulb::ThreadPoolExecutor pool{1};
    void submit(bulb::UniqueFunction<void()> job) override {
        ++jobs;
        pool.submit(std::move(job));
    }
    void shutdown(bool wait) override {
        shut.store(true);
        pool.shutdown(wait);
    }
};
}  // namespace

TEST_CASE("run_in_executor: a job the executor drops fails its future") {
    bulb::EventLoop loop;
    DroppingExecutor dropper;
    auto f = loop.run_in_executor(dropper, [] { return 1; });
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::InvalidStateError);
}

TEST_CASE("set_default_executor routes run_in_executor and to_thread; close() shuts it down") {
    // test_base_events.BaseEventLoopTests.test_set_default_executor
    auto counting = std::make_shared<CountingExecutor>();
    {
        bulb::EventLoop loop;
        loop.set_default_executor(counting);
        CHECK(loop.default_executor() == counting.get());
        CHECK(loop.run_until_complete(loop.run_in_executor([] { return 7; })) == 7);
        auto main = []() -> bulb::Task<int> {
            auto eight = [] { return 8; };
            auto f = bulb::to_thread(eight);
            co_return co_await f;
        };
        CHECK(loop.run_until_complete(bulb::create_task(loop, main())) == 8);
        CHECK(counting->jobs.load() == 2);
        loop.close();
        CHECK(counting->shut.load());
    }
    bulb::EventLoop loop;
    loop.set_default_executor(nullptr);
    CHECK(loop.default_executor() == nullptr);
}

TEST_CASE("shutdown_default_executor joins the pool; run_in_executor refuses work afterwards") {
    // test_base_events.BaseEventLoopTests.test_shutdown_default_executor and
    // test_events.test_run_in_executor after shutdown ("Executor shutdown has been called")
    bulb::EventLoop loop;
    std::atomic<bool> job_done{false};
    auto job = loop.run_in_executor([&] {
        std::this_thread::sleep_for(20ms);
        job_done.store(true);
    });
    auto done = loop.shutdown_default_executor();
    CHECK(loop.shutdown_default_executor() == done);
    loop.run_until_complete(done);
    CHECK(job_done.load());  // shutdown waits for queued work
    CHECK_THROWS_WITH_AS((void)loop.run_in_executor([] {}), doctest::Contains("Executor shutdown has been called"),
                         bulb::InvalidStateError);
    CHECK_THROWS_AS(loop.set_default_executor(std::make_shared<bulb::ThreadPoolExecutor>(1)), bulb::InvalidStateError);
    loop.run_until_complete(job);
}

TEST_CASE("shutdown_default_executor with a timeout resolves at the deadline and reports it") {
    // test_base_events.BaseEventLoopTests.test_shutdown_default_executor_timeout
    bulb::EventLoop loop;
    RecordingHandler handler(loop);
    std::atomic<bool> release{false};
    auto job = loop.run_in_executor([&] {
        while (!release.load()) std::this_thread::sleep_for(1ms);
    });
    auto t0 = std::chrono::steady_clock::now();
    loop.run_until_complete(loop.shutdown_default_executor(30ms));
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    REQUIRE(handler.size() == 1);
    CHECK(handler[0].message.find("did not finish joining") != std::string::npos);
    release.store(true);
    loop.run_until_complete(job);
    loop.close();  // joins the helper thread
}

TEST_CASE("call_soon_threadsafe returns a handle that cancels from any thread") {
    // test_events.EventLoopTestsMixin.test_call_soon_threadsafe with the returned handle cancelled
    // (asyncio.Handle.cancel)
    bulb::EventLoop loop;
    std::atomic<int> ran{0};
    bulb::ThreadsafeHandle kept, cancelled;
    std::thread t([&] {
        kept = loop.call_soon_threadsafe([&] { ran += 1; });
        cancelled = loop.call_soon_threadsafe([&] { ran += 10; });
        cancelled.cancel();
    });
    t.join();
    CHECK(cancelled.cancelled());
    CHECK_FALSE(kept.cancelled());
    CHECK(run_until(loop, [&] { return ran.load() != 0; }));
    run_once(loop);
    CHECK(ran.load() == 1);
    kept.cancel();  // after it ran: no effect, but reported as cancelled like asyncio's Handle
    CHECK(kept.cancelled());
    CHECK_FALSE(bulb::ThreadsafeHandle{});
}

TEST_CASE("ConcurrentFuture: callbacks, set twice, wait from several threads") {
    // Lib/test/test_concurrent_futures/test_future.py: test_done_callback_with_result,
    // test_done_callback_already_successful, test_result_with_timeout
    bulb::ConcurrentFuture<int> f;
    std::atomic<int> seen{0};
    f.add_done_callback([&] { seen.store(f.result()); });
    std::vector<std::thread> waiters;
    std::atomic<int> sum{0};
    for (int i = 0; i < 4; ++i) waiters.emplace_back([&, f]() mutable { sum += f.result(); });
    std::thread setter([f]() mutable { f.set_result(5); });
    setter.join();
    for (auto& w : waiters) w.join();
    CHECK(sum.load() == 20);
    CHECK(seen.load() == 5);
    CHECK_THROWS_AS(f.set_result(6), bulb::InvalidStateError);
    CHECK_FALSE(f.try_set_exception(std::make_exception_ptr(std::runtime_error("x"))));
    CHECK_FALSE(f.cancel());
    bool late = false;
    f.add_done_callback([&] { late = true; });
    CHECK(late);
    bulb::ConcurrentFuture<void> v;
    CHECK_THROWS_AS(v.result(1ms), bulb::TimeoutError);
    v.set_result();
    v.result();
}

TEST_CASE("wrap_future follows a ConcurrentFuture completed by another thread") {
    // test_futures.BaseFutureTests.test_wrap_future and test_wrap_future_cancel
    bulb::EventLoop loop;
    bulb::ConcurrentFuture<std::string> source;
    auto wrapped = bulb::wrap_future(source, loop);
    std::thread t([source]() mutable {
        std::this_thread::sleep_for(5ms);
        source.set_result("hi");
    });
    CHECK(loop.run_until_complete(wrapped) == "hi");
    t.join();
    bulb::ConcurrentFuture<int> other;
    auto w2 = bulb::wrap_future(other, loop);
    CHECK(w2.cancel());
    CHECK(run_until(loop, [&] { return other.cancelled(); }));  // done callbacks run from the loop
    bulb::ConcurrentFuture<int> third;
    auto w3 = bulb::wrap_future(third, loop);
    third.cancel();
    CHECK(run_until(loop, [&] { return w3.done(); }));
    CHECK(w3.cancelled());
}
