// SPDX-License-Identifier: MIT
/// @file
/// run_in_executor: results and exceptions cross back to the loop; threads, limits, shutdown.
#include "support/loop_fixture.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace bulb_test;

namespace {

/// Counts jobs running at once and remembers the peak.
struct Concurrency {
    std::atomic<int> now{0};
    std::atomic<int> peak{0};
    void enter() {
        int n = ++now;
        int p = peak.load();
        while (n > p && !peak.compare_exchange_weak(p, n)) {
        }
    }
    void leave() { --now; }
};

}  // namespace

TEST_SUITE("executor") {

TEST_CASE("run_in_executor resolves the future with the job's result") {
    bulb_test::AuditedLoop loop;
    auto fut = loop.run_in_executor([] { return 6 * 7; });
    CHECK_FALSE(fut.done());
    CHECK(loop.run_until_complete(fut) == 42);
}

TEST_CASE("run_in_executor with a void job resolves a Future<void>") {
    bulb_test::AuditedLoop loop;
    std::atomic<bool> ran{false};
    bulb::Future<void> fut = loop.run_in_executor([&] { ran = true; });
    loop.run_until_complete(fut);
    CHECK(ran);
    CHECK(fut.done());
    CHECK_FALSE(fut.cancelled());
}

TEST_CASE("an exception thrown by the job comes out of result()") {
    bulb_test::AuditedLoop loop;
    auto fut = loop.run_in_executor([]() -> int { throw std::out_of_range("job failed"); });
    CHECK_THROWS_WITH_AS(loop.run_until_complete(fut), "job failed", std::out_of_range);
    CHECK_THROWS_AS(fut.result(), std::out_of_range);
}

TEST_CASE("the job runs on another thread and the future resolves on the loop thread") {
    bulb_test::AuditedLoop loop;
    auto loop_thread = std::this_thread::get_id();
    auto fut = loop.run_in_executor([] { return std::this_thread::get_id(); });
    std::thread::id callback_thread;
    fut.add_done_callback([&] { callback_thread = std::this_thread::get_id(); });
    auto job_thread = loop.run_until_complete(fut);
    run_once(loop);  // the done callback was scheduled after the stop callback
    CHECK(job_thread != loop_thread);
    CHECK(callback_thread == loop_thread);
}

TEST_CASE("a job sees no running loop on its worker thread") {
    bulb_test::AuditedLoop loop;
    auto fut = loop.run_in_executor([] { return bulb::EventLoop::current() == nullptr; });
    CHECK(loop.run_until_complete(fut));
}

TEST_CASE("a move-only result is moved out of the job") {
    bulb_test::AuditedLoop loop;
    auto fut = loop.run_in_executor([] { return std::make_unique<int>(5); });
    std::unique_ptr<int> p = loop.run_until_complete(fut);
    REQUIRE(p);
    CHECK(*p == 5);
}

TEST_CASE("cancelling the future drops the job's result") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    std::mutex m;
    std::condition_variable cv;
    bool release = false;
    std::atomic<bool> finished{false};
    auto fut = loop.run_in_executor([&] {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return release; });
        finished = true;
        return 1;
    });
    CHECK(fut.cancel("not needed"));
    {
        std::lock_guard lock(m);
        release = true;
    }
    cv.notify_all();
    CHECK(run_until(loop, [&] { return finished.load(); }));
    for (int i = 0; i < 5; ++i) run_once(loop);  // let the result arrive and be dropped
    CHECK(fut.cancelled());
    CHECK_THROWS_AS(fut.result(), bulb::CancelledError);
    CHECK(handler.size() == 0);  // no "set_result on a done future" report
}

TEST_CASE("executor_threads limits how many jobs run at once") {
    bulb_test::AuditedLoop loop(bulb::LoopOptions{.executor_threads = 2});
    Concurrency c;
    std::vector<bulb::Future<void>> futs;
    for (int i = 0; i < 6; ++i) {
        futs.push_back(loop.run_in_executor([&c] {
            c.enter();
            std::this_thread::sleep_for(30ms);
            c.leave();
        }));
    }
    for (auto& f : futs) loop.run_until_complete(f);
    CHECK(c.peak == 2);
}

TEST_CASE("one thread means strictly sequential jobs, in submission order") {
    bulb_test::AuditedLoop loop(bulb::LoopOptions{.executor_threads = 1});
    Concurrency c;
    std::mutex m;
    std::vector<int> order;
    std::vector<bulb::Future<void>> futs;
    for (int i = 0; i < 5; ++i) {
        futs.push_back(loop.run_in_executor([&, i] {
            c.enter();
            std::this_thread::sleep_for(5ms);
            {
                std::lock_guard lock(m);
                order.push_back(i);
            }
            c.leave();
        }));
    }
    for (auto& f : futs) loop.run_until_complete(f);
    CHECK(c.peak == 1);
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("jobs submitted while a worker is idle still get the pool's full concurrency") {
    bulb_test::AuditedLoop loop(bulb::LoopOptions{.executor_threads = 2});
    loop.run_until_complete(loop.run_in_executor([] {}));  // one worker exists, then idles
    std::this_thread::sleep_for(20ms);                       // ... and is surely waiting
    // Two jobs that can only finish together: they need two threads.
    std::mutex m;
    std::condition_variable cv;
    int arrived = 0;
    auto meet = [&] {
        std::unique_lock lock(m);
        ++arrived;
        cv.notify_all();
        return cv.wait_for(lock, 3s, [&] { return arrived == 2; });
    };
    auto a = loop.run_in_executor(meet);
    auto b = loop.run_in_executor(meet);
    CHECK(loop.run_until_complete(a));
    CHECK(loop.run_until_complete(b));
}

TEST_CASE("close() lets queued jobs finish and joins the pool") {
    std::atomic<int> done{0};
    bulb_test::AuditedLoop loop(bulb::LoopOptions{.executor_threads = 1});
    for (int i = 0; i < 4; ++i) {
        loop.submit_to_executor([&done] {
            std::this_thread::sleep_for(10ms);
            ++done;
        });
    }
    loop.close();
    CHECK(done == 4);
    CHECK_THROWS_AS(loop.run_in_executor([] { return 1; }), bulb::InvalidStateError);
}

TEST_CASE("close() with executor results still pending does not report or leak them") {
    bulb_test::AuditedLoop loop(bulb::LoopOptions{.executor_threads = 2});
    RecordingHandler handler(loop);
    std::atomic<int> done{0};
    auto ok = loop.run_in_executor([&] {
        std::this_thread::sleep_for(10ms);
        ++done;
        return std::make_unique<int>(1);
    });
    auto failed = loop.run_in_executor([&]() -> int {
        ++done;
        throw std::runtime_error("late failure");
    });
    loop.close();
    CHECK(done == 2);
    CHECK_FALSE(ok.done());  // the results were dropped with the loop's queues
    CHECK_FALSE(failed.done());
    CHECK(handler.size() == 0);
}

TEST_CASE("many small jobs all complete with their own results") {
    bulb_test::AuditedLoop loop(bulb::LoopOptions{.executor_threads = 4});
    std::vector<bulb::Future<int>> futs;
    for (int i = 0; i < 500; ++i) futs.push_back(loop.run_in_executor([i] { return i * i; }));
    long sum = 0;
    for (auto& f : futs) sum += loop.run_until_complete(f);
    long expected = 0;
    for (long i = 0; i < 500; ++i) expected += i * i;
    CHECK(sum == expected);
}

}  // TEST_SUITE
