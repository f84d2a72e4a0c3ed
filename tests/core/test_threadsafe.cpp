// SPDX-License-Identifier: MIT
/// @file
/// call_soon_threadsafe: exactly-once delivery under contention, per-thread order, wake-ups.
#include "support/loop_fixture.hpp"

#include <bulb/detail/pool.hpp>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

using namespace bulb_test;

namespace {

/// Writes to a pipe after `limit` unless disarmed: a loop blocked in poll with no timers can then
/// still be ended (the test fails instead of hanging).
class Watchdog {
public:
    Watchdog(bulb::EventLoop& loop, std::chrono::milliseconds limit) : loop_(loop) {
        REQUIRE(::pipe(fds_) == 0);
        loop_.add_reader(fds_[0], [this] {
            fired_ = true;
            loop_.stop();
        });
        thread_ = std::thread([this, limit] {
            std::unique_lock lock(mutex_);
            if (!cv_.wait_for(lock, limit, [this] { return disarmed_; })) {
                char c = 'x';
                [[maybe_unused]] auto r = ::write(fds_[1], &c, 1);
            }
        });
    }
    ~Watchdog() {
        {
            std::lock_guard lock(mutex_);
            disarmed_ = true;
        }
        cv_.notify_all();
        thread_.join();
        if (!loop_.is_closed()) loop_.remove_reader(fds_[0]);
        ::close(fds_[0]);
        ::close(fds_[1]);
    }
    bool fired() const { return fired_; }

private:
    bulb::EventLoop& loop_;
    int fds_[2];
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool disarmed_ = false;
    bool fired_ = false;
};

}  // namespace

TEST_SUITE("threadsafe") {

TEST_CASE("8 threads x 100000 call_soon_threadsafe calls each run exactly once, in per-thread order") {
    constexpr int threads = 8;
    constexpr int per_thread = 100'000;
    bulb_test::AuditedLoop loop;
    Watchdog watchdog(loop, 60s);
    std::vector<std::vector<int>> seen(threads);
    for (auto& v : seen) v.reserve(per_thread);
    std::thread::id loop_thread = std::this_thread::get_id();
    std::atomic<int> wrong_thread{0};
    int total = 0;
    std::atomic<bool> go{false};
    std::vector<std::thread> producers;
    for (int t = 0; t < threads; ++t) {
        producers.emplace_back([&, t] {
            while (!go.load()) std::this_thread::yield();
            for (int i = 0; i < per_thread; ++i) {
                loop.call_soon_threadsafe([&, t, i] {
                    if (std::this_thread::get_id() != loop_thread) ++wrong_thread;
                    seen[t].push_back(i);
                    if (++total == threads * per_thread) loop.stop();
                });
            }
        });
    }
    loop.call_soon([&] { go = true; });
    loop.run_forever();
    for (auto& p : producers) p.join();
    CHECK_FALSE(watchdog.fired());
    CHECK(wrong_thread == 0);
    CHECK(total == threads * per_thread);
    for (int t = 0; t < threads; ++t) {
        REQUIRE(seen[t].size() == per_thread);
        bool in_order = true;
        for (int i = 0; i < per_thread; ++i) in_order = in_order && seen[t][i] == i;
        CHECK_MESSAGE(in_order, "thread " << t);
    }
    run_once(loop);  // nothing ran twice
    CHECK(total == threads * per_thread);
}

TEST_CASE("a loop sleeping in poll with no timers is woken promptly by one call from another thread") {
    bulb_test::AuditedLoop loop;
    Watchdog watchdog(loop, 10s);
    std::chrono::steady_clock::time_point sent{}, ran{};
    std::thread other([&] {
        std::this_thread::sleep_for(100ms);  // let the loop block first
        sent = std::chrono::steady_clock::now();
        loop.call_soon_threadsafe([&] {
            ran = std::chrono::steady_clock::now();
            loop.stop();
        });
    });
    loop.run_forever();
    other.join();
    REQUIRE_FALSE(watchdog.fired());
    CHECK(ran >= sent);
    CHECK(ran - sent < 500ms);
}

TEST_CASE("repeated wake-ups from another thread are all delivered") {
    bulb_test::AuditedLoop loop;
    Watchdog watchdog(loop, 20s);
    int count = 0;
    std::mutex m;
    std::condition_variable cv;
    int acked = 0;
    std::thread other([&] {
        for (int i = 0; i < 50; ++i) {
            loop.call_soon_threadsafe([&] {
                ++count;
                {
                    std::lock_guard lock(m);
                    ++acked;
                }
                cv.notify_all();
                if (count == 50) loop.stop();
            });
            std::unique_lock lock(m);  // one call at a time, each into a sleeping loop
            cv.wait(lock, [&] { return acked == i + 1; });
        }
    });
    loop.run_forever();
    other.join();
    CHECK_FALSE(watchdog.fired());
    CHECK(count == 50);
}

TEST_CASE("call_soon_threadsafe from the loop thread runs on a later iteration, after call_soon") {
    bulb_test::AuditedLoop loop;
    std::vector<int> order;
    loop.call_soon([&] {
        loop.call_soon_threadsafe([&] { order.push_back(2); });
        order.push_back(1);
    });
    run_once(loop);
    CHECK(order == std::vector<int>{1});
    run_once(loop);
    CHECK(order == std::vector<int>{1, 2});
}

TEST_CASE("call_soon_threadsafe callbacks queued before any run keep their FIFO order") {
    bulb_test::AuditedLoop loop;
    std::vector<int> order;
    for (int i = 0; i < 100; ++i) loop.call_soon_threadsafe([&order, i] { order.push_back(i); });
    run_once(loop);
    REQUIRE(order.size() == 100);
    for (int i = 0; i < 100; ++i) CHECK(order[i] == i);
}

TEST_CASE("an exception from a thread-safe callback reaches the exception handler") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    std::thread other([&] { loop.call_soon_threadsafe([] { throw std::runtime_error("from afar"); }); });
    other.join();
    run_once(loop);
    REQUIRE(handler.size() == 1);
    CHECK(handler[0].what == "from afar");
}

TEST_CASE("thread-safe callbacks never run are destroyed by close()") {
    bulb_test::AuditedLoop loop;
    int destroyed = 0;
    bool ran = false;
    std::thread other([&] { loop.call_soon_threadsafe([&ran, c = DestroyCounter(&destroyed)] { ran = true; }); });
    other.join();
    loop.close();
    CHECK(destroyed == 1);
    CHECK_FALSE(ran);
}

TEST_CASE("call_soon_threadsafe racing close() either is accepted or throws InvalidStateError") {
    for (int round = 0; round < 20; ++round) {
        bulb_test::AuditedLoop loop;
        std::atomic<int> accepted{0}, refused{0};
        std::atomic<bool> go{false};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&] {
                while (!go.load()) std::this_thread::yield();
                for (;;) {
                    try {
                        loop.call_soon_threadsafe([] {});
                        ++accepted;
                    } catch (const bulb::InvalidStateError&) {
                        ++refused;
                        return;
                    }
                }
            });
        }
        go = true;
        while (accepted.load() < 100) std::this_thread::yield();
        loop.close();
        for (auto& t : threads) t.join();
        CHECK(refused == 4);
    }
}

}  // TEST_SUITE

TEST_CASE("pooled blocks freed on another thread, and after their thread exited, are taken back") {
    // Sizes from four size classes, the callback node's (64) among them.
    const std::size_t sizes[] = {40, 64, 300, 512};
    std::vector<void*> handed;  // blocks the worker hands to this thread (under `m` / by join)
    std::mutex m;
    std::condition_variable cv;
    int phase = 0;
    auto fill = [](void* p, std::size_t n) { std::memset(p, 0xab, n); };
    std::thread worker([&] {
        std::vector<void*> mine;
        for (int i = 0; i < 3000; ++i)
            for (auto n : sizes) {
                void* p = bulb::detail::pool_allocate(n);
                fill(p, n);
                (i % 2 ? mine : handed).push_back(p);
            }
        {
            std::unique_lock lock(m);
            phase = 1;
            cv.notify_all();
            cv.wait(lock, [&] { return phase == 2; });  // the main thread freed `handed`
        }
        for (int i = 0; i < 3000; ++i)  // takes the remote frees back, carves new slabs
            for (auto n : sizes) {
                void* p = bulb::detail::pool_allocate(n);
                fill(p, n);
                mine.push_back(p);
            }
        std::vector<void*> rest;
        for (std::size_t i = 0; i < mine.size(); ++i) {
            if (i % 2)
                rest.push_back(mine[i]);
            else
                bulb::detail::pool_deallocate(mine[i]);
        }
        std::lock_guard lock(m);
        handed = std::move(rest);  // freed once this thread has exited (orphan slabs)
    });
    {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return phase == 1; });
        for (void* p : handed) {
            CHECK(*static_cast<unsigned char*>(p) == 0xab);
            bulb::detail::pool_deallocate(p);
        }
        handed.clear();
        phase = 2;
        cv.notify_all();
    }
    worker.join();
    CHECK(handed.size() == 9000);  // half of the 6,000 + 12,000 the worker kept
    for (void* p : handed) bulb::detail::pool_deallocate(p);
    for (auto n : sizes) {  // this thread's own pools still work
        void* p = bulb::detail::pool_allocate(n);
        fill(p, n);
        bulb::detail::pool_deallocate(p);
    }
}
