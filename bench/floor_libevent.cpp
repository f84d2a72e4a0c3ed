// SPDX-License-Identifier: MIT
/// @file
/// bench_floor_libevent: the C floor of bench_micro's loop benchmarks: the same operations written
/// directly against libevent's C API (no closures, no handles, no cancellation bookkeeping beyond
/// libevent's own), so bulb's figures can be quoted as a ratio to what the library under it costs.
///
///   (a) call_soon        N events activated with event_active from inside the running loop, then
///                        run (the events live in one array allocated once, reused by every run)
///   (b) call_later       N evtimers with random 0-100 ms delays (bench_micro's seed), every second
///                        one deleted right after all are added; process CPU time per timer
///   (extra) call_soon_chain  each callback activates the next and the loop goes round once per
///                        callback (EVLOOP_ONCE | EVLOOP_NONBLOCK: one poll per callback, as bulb)
///
/// Runs are warm: one event_base for every run of a benchmark, after one untimed run. Output:
/// `MICRO ... loop=libevent ...` lines, bench_micro's format, with page faults per run beside them.
#include <event2/event.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

namespace {

std::int64_t clock_ns(clockid_t id) noexcept {
    timespec ts;
    clock_gettime(id, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

long minor_faults() noexcept {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

struct Run {
    double ns_per_op;
    long faults;
};

[[noreturn]] void fail(const std::string& msg) {
    std::fprintf(stderr, "bench_floor_libevent: %s\n", msg.c_str());
    std::exit(1);
}

// --- (a) ------------------------------------------------------------------------------------
struct SoonState {
    event_base* base;
    long n;
    char* events;  // n events, allocated once for every run (the steady state: no fresh pages)
    long counter = 0;
};

void count_cb(evutil_socket_t, short, void* arg) { ++*static_cast<long*>(arg); }

void schedule_all_cb(evutil_socket_t, short, void* arg) {
    auto* s = static_cast<SoonState*>(arg);
    for (long i = 0; i < s->n; ++i) {
        auto* ev = reinterpret_cast<event*>(s->events + event_get_struct_event_size() * std::size_t(i));
        event_assign(ev, s->base, -1, 0, count_cb, &s->counter);
        event_active(ev, EV_TIMEOUT, 1);
    }
}

char* event_array(long n) {
    static char* events = nullptr;  // kept for the process: every run reuses it, as bulb's pools
    static long size = 0;
    if (size < n) {
        std::free(events);
        events = static_cast<char*>(std::calloc(std::size_t(n), event_get_struct_event_size()));
        if (!events) fail("out of memory");
        size = n;
    }
    return events;
}

Run call_soon(event_base* base, long n) {
    SoonState s{base, n, event_array(n)};
    event* start = event_new(base, -1, 0, schedule_all_cb, &s);
    const long f0 = minor_faults();
    const std::int64_t t0 = clock_ns(CLOCK_MONOTONIC);
    event_active(start, EV_TIMEOUT, 1);
    event_base_loop(base, EVLOOP_NONBLOCK);  // runs until nothing is active
    const std::int64_t t1 = clock_ns(CLOCK_MONOTONIC);
    const long f1 = minor_faults();
    if (s.counter != n) fail("call_soon: " + std::to_string(s.counter) + " of " + std::to_string(n) + " ran");
    event_free(start);
    return {double(t1 - t0) / n, f1 - f0};
}

// --- (b) ------------------------------------------------------------------------------------
Run call_later(event_base* base, long n) {
    std::mt19937_64 rng(12345);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<timeval> delays(static_cast<std::size_t>(n));
    for (auto& tv : delays) {
        const auto ns = std::int64_t(unit(rng) * 0.1 * 1e9);
        tv.tv_sec = ns / 1'000'000'000;
        tv.tv_usec = (ns % 1'000'000'000) / 1000;
    }
    long fired = 0;
    const std::size_t ev_size = event_get_struct_event_size();
    const long f0 = minor_faults();
    const std::int64_t c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    char* events = event_array(n);
    for (long i = 0; i < n; ++i) {
        auto* ev = reinterpret_cast<event*>(events + ev_size * i);
        evtimer_assign(ev, base, count_cb, &fired);
        evtimer_add(ev, &delays[std::size_t(i)]);
    }
    for (long i = 1; i < n; i += 2) evtimer_del(reinterpret_cast<event*>(events + ev_size * i));
    event_base_loop(base, 0);  // returns once no event is pending
    const std::int64_t c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    const long f1 = minor_faults();
    if (fired != n - n / 2) fail("call_later: " + std::to_string(fired) + " fired");
    return {double(c1 - c0) / n, f1 - f0};
}

// --- (extra) --------------------------------------------------------------------------------
struct ChainState {
    event_base* base;
    event* ev;
    long left;
};

// libevent runs an event activated from a callback in the same pass; breaking the loop makes
// every callback cost one pass with its poll, as in bulb (and asyncio).
void chain_cb(evutil_socket_t, short, void* arg) {
    auto* s = static_cast<ChainState*>(arg);
    if (--s->left) event_active(s->ev, EV_TIMEOUT, 1);
    event_base_loopbreak(s->base);
}

Run call_soon_chain(event_base* base, long n) {
    ChainState s{base, nullptr, n};
    s.ev = event_new(base, -1, 0, chain_cb, &s);
    const long f0 = minor_faults();
    const std::int64_t t0 = clock_ns(CLOCK_MONOTONIC);
    event_active(s.ev, EV_TIMEOUT, 1);
    while (s.left) event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    const std::int64_t t1 = clock_ns(CLOCK_MONOTONIC);
    const long f1 = minor_faults();
    event_free(s.ev);
    return {double(t1 - t0) / n, f1 - f0};
}

struct Bench {
    const char* name;
    long default_n;
    const char* metric;
    Run (*run)(event_base*, long);
};

const Bench benches[] = {
    {"call_soon", 1'000'000, "wall", call_soon},
    {"call_later", 200'000, "cpu", call_later},
    {"call_soon_chain", 200'000, "wall", call_soon_chain},
};

}  // namespace

int main(int argc, char** argv) {
    int repeat = 5;
    bool quick = false;
    std::string only;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--repeat" && i + 1 < argc)
            repeat = std::max(1, std::atoi(argv[++i]));
        else if (a == "--quick")
            quick = true;
        else if (a == "--bench" && i + 1 < argc)
            only = argv[++i];
        else {
            std::fprintf(stderr, "bench_floor_libevent: unknown option %s\nusage: bench_floor_libevent [--bench NAME[,NAME...]] [--repeat R] [--quick]\n", a.c_str());
            return 2;
        }
    }
    for (const Bench& b : benches) {
        if (!only.empty() && ("," + only + ",").find("," + std::string(b.name) + ",") == std::string::npos) continue;
        const long n = quick ? b.default_n / 10 : b.default_n;
        event_base* base = event_base_new();
        if (!base) fail("event_base_new failed");
        b.run(base, n);  // warm-up: not timed
        std::vector<Run> runs;
        for (int r = 0; r < repeat; ++r) runs.push_back(b.run(base, n));
        event_base_free(base);
        std::vector<double> per_op;
        std::vector<long> faults;
        for (auto& r : runs) {
            per_op.push_back(r.ns_per_op);
            faults.push_back(r.faults);
        }
        std::sort(per_op.begin(), per_op.end());
        std::sort(faults.begin(), faults.end());
        std::printf("MICRO bench=%s loop=libevent n=%ld metric=%s best_ns_per_op=%.1f median_ns_per_op=%.1f runs=%d "
                    "warm=1 faults_per_run=%ld\n",
                    b.name, n, b.metric, per_op.front(), per_op[per_op.size() / 2], repeat, faults[faults.size() / 2]);
    }
    return 0;
}
