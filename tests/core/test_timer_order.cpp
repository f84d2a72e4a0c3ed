// SPDX-License-Identifier: MIT
/// @file
/// Timer order under load, checked against a model (an ordered set of pending deadlines):
/// deadlines in the past, within the current millisecond, within the next second (the wheel)
/// and far beyond it, many equal ones, timers scheduled and cancelled by running timers.
#include "support/loop_fixture.hpp"

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace bulb_test;

namespace {

/// Schedules timers on `loop` and checks that each one that fires is the earliest pending one
/// (by deadline, then scheduling order), and that cancelled ones never fire.
class TimerModel {
public:
    TimerModel(bulb::EventLoop& loop, std::uint64_t seed) : loop_(loop), rng_(seed) {}

    /// A deadline relative to now, from a mix of ranges; a few repeat earlier deadlines exactly.
    bulb::Duration random_delay() {
        if (short_delays) return std::chrono::microseconds(long(pick(35000)) - 5000);
        switch (pick(10)) {
            case 0: return -std::chrono::microseconds(pick(5000));  // already due
            case 1: return std::chrono::microseconds(pick(1500));    // this tick or the next
            case 2: return std::chrono::seconds(1) + std::chrono::microseconds(pick(3'000'000));  // past the wheel
            case 3: return std::chrono::seconds(20 + pick(100));     // far
            default: return std::chrono::microseconds(pick(1'100'000));  // the wheel
        }
    }

    /// Schedules `initial` timers, cancels `cancels` at random, lets the firing ones schedule
    /// `budget` more rounds, runs the loop until none is pending, and checks the outcome.
    void run(int initial, int cancels, std::size_t rounds) {
        for (int i = 0; i < initial; ++i) schedule();
        for (int i = 0; i < cancels; ++i) cancel_random();
        budget = rounds;
        loop_.run_forever();
        CHECK(done());
        CHECK(errors == 0);
        CHECK(fired_count + cancelled_ == scheduled());
    }

    /// From a running timer, deadlines are not before now: timers already taken for this loop
    /// iteration run first, whatever the new deadline (as in asyncio), which this model does
    /// not describe.
    void schedule(bool from_timer = false) {
        const bulb::TimePoint now = loop_.time();
        bulb::TimePoint when = now + random_delay();
        if (!pending_.empty() && pick(8) == 0) {  // an equal deadline: runs after the earlier ones
            auto it = std::next(pending_.begin(), long(pick(std::min<std::size_t>(pending_.size(), 50))));
            when = bulb::TimePoint(bulb::Duration(it->first));
        }
        if (from_timer) when = std::max(when, now);
        const std::uint64_t id = handles_.size();
        const std::int64_t key = when.time_since_epoch().count();
        handles_.push_back(loop_.call_at(when, [this, id, key] { fired(id, key); }));
        pending_.insert({key, id});
        keys_.push_back(key);
    }

    void cancel_random() {
        if (handles_.empty()) return;
        const std::uint64_t id = pick(handles_.size());
        if (pending_.erase({keys_[id], id})) ++cancelled_;
        handles_[id].cancel();  // harmless when it already ran or was cancelled
    }

    /// Deadlines only in [-5 ms, 30 ms) from now (for tests on the real clock).
    bool short_delays = false;
    /// While running: each firing schedules and cancels a few more, `budget` times in all.
    std::size_t budget = 0;
    std::size_t fired_count = 0, errors = 0;
    std::size_t scheduled() const { return handles_.size(); }
    bool done() const { return pending_.empty(); }

    std::uint64_t pick(std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_); }

private:
    void fired(std::uint64_t id, std::int64_t key) {
        ++fired_count;
        if (pending_.empty() || *pending_.begin() != std::pair{key, id} ||
            loop_.time().time_since_epoch().count() < key)
            ++errors;
        pending_.erase({key, id});
        if (budget > 0) {
            --budget;
            for (int i = int(pick(3)); i > 0; --i) schedule(true);
            if (pick(3) == 0) cancel_random();
        }
        if (pending_.empty()) loop_.stop();
    }

    bulb::EventLoop& loop_;
    std::mt19937_64 rng_;
    std::set<std::pair<std::int64_t, std::uint64_t>> pending_;
    std::vector<bulb::TimerHandle> handles_;
    std::vector<std::int64_t> keys_;
    std::size_t cancelled_ = 0;
};

bulb::LoopOptions virtual_clock() {
    bulb::LoopOptions o;
    o.virtual_clock = true;
    return o;
}

}  // namespace

TEST_SUITE("timers") {

TEST_CASE("20,000 timers over two minutes of virtual time fire in deadline order, cancelled ones never") {
    for (std::uint64_t seed : {1, 2, 3}) {
        CAPTURE(seed);
        bulb_test::AuditedLoop loop(virtual_clock());
        TimerModel model(loop, seed);
        model.run(10000, 3000, 10000);
        CHECK(model.scheduled() > 15000);
    }
}

TEST_CASE("timers on the real clock fire in deadline order across many loop iterations") {
    bulb_test::AuditedLoop loop;
    TimerModel model(loop, 7);
    model.short_delays = true;
    // Within 30 ms the wheel's slots open one after another while timers are added and cancelled.
    model.run(3000, 1000, 3000);
}

TEST_CASE("equal deadlines keep their scheduling order whether far, in the wheel or late") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::vector<char> order;
    const auto deadline = loop.time() + 1500ms;
    loop.call_at(deadline, [&] { order.push_back('a'); });  // beyond the wheel's second
    loop.call_at(deadline - 900ms, [&] { loop.call_at(deadline, [&] { order.push_back('b'); }); });
    // Runs in the deadline's own millisecond, already opened: the new timer is a late one.
    loop.call_at(deadline - 1us, [&] { loop.call_at(deadline, [&] { order.push_back('c'); }); });
    loop.call_at(deadline + 1ms, [&] { loop.stop(); });
    loop.run_forever();
    CHECK(std::string(order.begin(), order.end()) == "abc");
}

TEST_CASE("deadlines beyond the wheel's second, and a clock that passes all of it at once") {
    bulb_test::AuditedLoop loop(virtual_clock());
    std::vector<int> order;
    auto base = loop.time();
    // 1.5 s and 3 s are beyond the wheel when scheduled; 900 ms is in it.
    loop.call_at(base + 3s, [&] { order.push_back(3); });
    loop.call_at(base + 1500ms, [&] { order.push_back(2); });
    loop.call_at(base + 900ms, [&] { order.push_back(1); });
    loop.call_at(base + 3s, [&] {
        order.push_back(4);
        loop.stop();
    });
    loop.run_forever();
    CHECK(order == std::vector<int>{1, 2, 3, 4});

    // Real clock: a callback blocks the loop for longer than the wheel spans (~1.07 s), so every
    // slot and some far timers are due at the next iteration, together.
    bulb_test::AuditedLoop real;
    order.clear();
    base = real.time();
    for (int i = 999; i >= 0; --i) real.call_at(base + std::chrono::milliseconds(i + 1), [&order, i] { order.push_back(i); });
    real.call_at(base + 1100ms, [&order] { order.push_back(1000); });  // beyond the wheel
    real.call_soon([] { std::this_thread::sleep_for(1200ms); });
    real.call_at(base + 1150ms, [&] { real.stop(); });
    real.run_forever();
    REQUIRE(order.size() == 1001);
    for (int i = 0; i <= 1000; ++i) CHECK(order[std::size_t(i)] == i);
}

}  // TEST_SUITE
