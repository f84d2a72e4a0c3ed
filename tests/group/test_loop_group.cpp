// SPDX-License-Identifier: MIT
/// @file
/// LoopGroup: threads, start/stop/close, per-loop exception reports, one signal handler for the
/// group, CPU pinning, run_on.
#include "group_support.hpp"

#include <csignal>
#include <mutex>
#include <set>
#include <thread>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

using namespace group_test;

TEST_CASE("a default LoopGroup has one loop per usable CPU") {
    cpu_set_t set;
    CPU_ZERO(&set);
    REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
    const auto cpus = static_cast<std::size_t>(CPU_COUNT(&set));
    CHECK(bulb::LoopGroup::usable_cpus() == cpus);
    bulb::LoopGroup group;
    CHECK(group.size() == cpus);
    CHECK_THROWS_AS(group.loop(cpus), std::out_of_range);
}

TEST_CASE("every loop runs on its own thread and knows its index; stop and close end them all") {
    bulb::LoopGroup group({.loops = 3});
    std::mutex m;
    std::set<std::thread::id> threads;
    std::vector<std::size_t> indices(3, 99);
    group.start();
    CHECK(group.is_running());
    for (std::size_t i = 0; i < 3; ++i)
        group.run_on(i, [&, i] {
            std::lock_guard lock(m);
            threads.insert(std::this_thread::get_id());
            indices[i] = group.current_index();
            CHECK(bulb::EventLoop::current() == &group.loop(i));
        });
    CHECK(threads.size() == 3);
    CHECK(threads.count(std::this_thread::get_id()) == 0);
    CHECK(indices == std::vector<std::size_t>{0, 1, 2});
    CHECK(group.current_index() == bulb::LoopGroup::npos);
    group.close();
    CHECK_FALSE(group.is_running());
    for (std::size_t i = 0; i < 3; ++i) CHECK(group.loop(i).is_closed());
    CHECK_THROWS_AS(group.start(), bulb::InvalidStateError);
    group.close();  // idempotent
}

TEST_CASE("run() blocks until stop(), which a message may send") {
    bulb::LoopGroup group({.loops = 2});
    std::atomic<int> ran{0};
    group.loop(1).call_soon([&] {
        ++ran;
        group.stop();
    });
    group.run();
    CHECK(ran == 1);
    CHECK_FALSE(group.is_running());
}

TEST_CASE("an exception in one loop is reported with its index; every loop keeps serving") {
    bulb::LoopGroup group({.loops = 2});
    std::mutex m;
    std::vector<std::pair<std::size_t, std::string>> reports;
    group.set_exception_handler([&](std::size_t i, bulb::EventLoop& l, const bulb::ExceptionContext& c) {
        CHECK(&l == &group.loop(i));
        std::lock_guard lock(m);
        reports.emplace_back(i, bulb::describe_exception(c.exception));
    });
    group.start();
    CHECK_THROWS_AS(group.set_exception_handler({}), bulb::InvalidStateError);
    group.post(1, [] { throw std::runtime_error("boom on 1"); });
    // Both loops still answer afterwards.
    CHECK(group.run_on(1, [] { return 41 + 1; }) == 42);
    CHECK(group.run_on(0, [] { return 7; }) == 7);
    {
        std::lock_guard lock(m);
        REQUIRE(reports.size() == 1);
        CHECK(reports[0].first == 1);
        CHECK(reports[0].second.find("boom on 1") != std::string::npos);
    }
    // run_on passes the exception back to the caller too.
    CHECK_THROWS_WITH_AS(group.run_on(0, []() -> int { throw std::runtime_error("from 0"); }), "from 0",
                         std::runtime_error);
    group.close();
}

TEST_CASE("a signal is handled once for the group, on loop 0") {
    bulb::LoopGroup group({.loops = 3});
    std::atomic<int> calls{0};
    std::atomic<std::size_t> on{99};
    group.add_signal_handler(SIGUSR1, [&] {
        on = group.current_index();
        ++calls;
    });
    group.start();
    // The handler is registered: a loop-0 round trip after start makes sure the thread runs.
    group.run_on(0, [] {});
    REQUIRE(::kill(::getpid(), SIGUSR1) == 0);
    CHECK(wait_for([&] { return calls.load() >= 1; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a second delivery would show now
    CHECK(calls == 1);
    CHECK(on == 0);
    group.run_on(0, [&] { group.loop(0).remove_signal_handler(SIGUSR1); });
    group.close();
}

namespace {
bool signal_blocked_here(int signum) {
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, nullptr, &now);
    return sigismember(&now, signum) == 1;
}
}  // namespace

TEST_CASE("a group signal sent while the making thread waits in run_on goes to loop 0") {
    // The waiting thread and loops 1..N-1 block the group's signals, so the kernel hands a
    // process-directed one to loop 0 (under TSan a handler deferred to a thread asleep in a
    // future's wait never ran, and `kill` left the server serving).
    bulb::LoopGroup group({.loops = 2});
    std::atomic<int> calls{0};
    group.add_signal_handler(SIGUSR2, [&] { ++calls; });
    REQUIRE_FALSE(signal_blocked_here(SIGUSR2));
    group.start();
    group.run_on(0, [] {});
    const bool blocked_on_1 = group.run_on(1, [&] {
        REQUIRE(::kill(::getpid(), SIGUSR2) == 0);
        wait_for([&] { return calls.load() >= 1; });  // the making thread is still in run_on
        return signal_blocked_here(SIGUSR2);
    });
    CHECK(calls == 1);
    CHECK(blocked_on_1);
    CHECK_FALSE(group.run_on(0, [] { return signal_blocked_here(SIGUSR2); }));
    CHECK_FALSE(signal_blocked_here(SIGUSR2));  // the wait's mask is undone
    // A signal the caller blocked itself stays blocked after a wait.
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, nullptr);
    group.run_on(1, [] {});
    CHECK(signal_blocked_here(SIGUSR2));
    pthread_sigmask(SIG_UNBLOCK, &usr2, nullptr);
    group.run_on(0, [&] { group.loop(0).remove_signal_handler(SIGUSR2); });
    group.close();
}

TEST_CASE("pinned loop threads each run on one CPU of the usable set") {
    const std::size_t n = std::min<std::size_t>(2, bulb::LoopGroup::usable_cpus());
    bulb::LoopGroup group({.loops = n, .pin_threads = true});
    group.start();
    for (std::size_t i = 0; i < n; ++i) {
        int count = group.run_on(i, [] {
            cpu_set_t set;
            CPU_ZERO(&set);
            pthread_getaffinity_np(pthread_self(), sizeof set, &set);
            return CPU_COUNT(&set);
        });
        CHECK(count == 1);
    }
    group.close();
}

TEST_CASE("run_on before start runs on the calling thread, a returned future included") {
    bulb::LoopGroup group({.loops = 2});
    CHECK(group.run_on(1, [] { return 5; }) == 5);
    int v = group.run_on(1, [&] {
        bulb::Future<int> f(group.loop(1));
        group.loop(1).call_later(std::chrono::milliseconds(1), [f]() mutable { f.set_result(9); });
        return f;
    });
    CHECK(v == 9);
}

TEST_CASE("blocking calls from a group thread are refused instead of deadlocking") {
    bulb::LoopGroup group({.loops = 2});
    group.start();
    std::string what = group.run_on(0, [&] {
        try {
            group.run_on(1, [] {});
        } catch (const bulb::InvalidStateError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    });
    CHECK(what.find("loop 0") != std::string::npos);
    group.close();
}
