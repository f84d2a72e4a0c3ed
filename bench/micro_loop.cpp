// SPDX-License-Identifier: MIT
/// @file
/// bench_micro: bulb's event-loop micro-benchmarks, the same measurements as the asyncio/uvloop
/// scripts in ../shared/bench/micro/ (call_soon.py, call_later.py, tasks.py, call_soon_chain.py),
/// so the figures can be put side by side:
///
///   (a) call_soon        N callbacks scheduled from inside the running loop, then run (wall)
///   (b) call_later       N timers with random 0-100 ms delays, every second one cancelled (CPU)
///   (c) tasks            N tasks each awaiting sleep(0) twice, all gathered (wall)
///   (extra) call_soon_chain  N callbacks each scheduling the next: one per loop iteration (wall)
///
/// By default every run uses a fresh EventLoop (made and closed outside the timed part, as the
/// Python scripts do); with --warm every run of a benchmark uses one loop, after one untimed run
/// (the steady state: pools, queues and pages already there). Best and median over --repeat runs;
/// minor page faults of each run are counted (faults_per_run: the median). Output: one `MICRO ...` line per benchmark
/// (the format of _common.py, loop=bulb) followed by a readable table.
#include <bulb/coro/await.hpp>
#include <bulb/coro/sleep.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/future.hpp>
#include <bulb/loop.hpp>

// (c) gathers with bulb::gather, as tasks.py does with asyncio.gather; -DBULB_BENCH_GATHER=0 instead
// creates every task with create_task and awaits their futures one by one.
#ifndef BULB_BENCH_GATHER
#define BULB_BENCH_GATHER 1
#endif
#if BULB_BENCH_GATHER
#include <bulb/coro/gather.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <sys/resource.h>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

// Set by --debug: every benchmark loop runs in debug mode (EventLoop::set_debug), which adds the
// wrong-thread checks and slow-callback timing -- the cost issue 10 asks to measure.
static bool debug_loops = false;

// --- clocks --------------------------------------------------------------------------------

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

struct Clocks {
    std::int64_t wall, cpu;
    static Clocks now() noexcept { return {clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_PROCESS_CPUTIME_ID)}; }
};

/// One run's figures. `ns_per_op` is the reported metric; `extra` are printed for the best run.
struct Result {
    double ns_per_op = 0;
    std::vector<std::pair<std::string, double>> extra;
};

[[noreturn]] void fail(const std::string& msg) {
    std::fprintf(stderr, "bench_micro: %s\n", msg.c_str());
    std::exit(1);
}

// --- (a) call_soon -------------------------------------------------------------------------
// call_soon.py: from inside the running loop one callback schedules all N callbacks (a trivial
// callable) plus loop.stop; the loop then runs them. Wall time per callback, split into
// scheduling and running.

Result bench_call_soon(bulb::EventLoop& loop, long n) {
    long counter = 0;
    std::int64_t scheduled = 0;
    const Clocks c0 = Clocks::now();
    loop.call_soon([&] {
        long* cnt = &counter;
        for (long i = 0; i < n; ++i) loop.call_soon([cnt] { ++*cnt; });
        loop.call_soon([&loop] { loop.stop(); });
        scheduled = clock_ns(CLOCK_MONOTONIC);
    });
    loop.run_forever();
    const Clocks c1 = Clocks::now();
    if (counter != n) fail("call_soon: " + std::to_string(counter) + " of " + std::to_string(n) + " callbacks ran");
    return {double(c1.wall - c0.wall) / n,
            {{"schedule_ns_per_op", double(scheduled - c0.wall) / n},
             {"run_ns_per_op", double(c1.wall - scheduled) / n},
             {"cpu_ns_per_op", double(c1.cpu - c0.cpu) / n}}};
}

// --- (b) call_later ------------------------------------------------------------------------
// call_later.py: N timers with random delays in [0, 100) ms (fixed seed); every second one is
// cancelled right after all are scheduled; the loop runs until the rest have fired. The run
// lasts ~100 ms of mostly waiting, so the metric is process CPU time per timer.

constexpr auto max_delay = 100ms;

Result bench_call_later(bulb::EventLoop& loop, long n) {
    std::mt19937_64 rng(12345);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<bulb::Duration> delays(static_cast<std::size_t>(n));
    for (auto& d : delays)
        d = std::chrono::duration_cast<bulb::Duration>(std::chrono::duration<double>(unit(rng) * 0.1));

    long fired = 0;
    const Clocks c0 = Clocks::now();
    loop.call_soon([&] {
        long* cnt = &fired;
        std::vector<bulb::TimerHandle> handles;
        handles.reserve(delays.size());
        for (auto d : delays) handles.push_back(loop.call_later(d, [cnt] { ++*cnt; }));
        for (std::size_t i = 1; i < handles.size(); i += 2) handles[i].cancel();
        // every timer above is due at most max_delay after its own (earlier) scheduling time
        loop.call_later(max_delay + 2ms, [&loop] { loop.stop(); });
    });
    loop.run_forever();
    const Clocks c1 = Clocks::now();
    const long want = n - n / 2;
    if (fired != want)
        fail("call_later: " + std::to_string(fired) + " timers fired, expected " + std::to_string(want));
    return {double(c1.cpu - c0.cpu) / n, {{"wall_ms", double(c1.wall - c0.wall) / 1e6}}};
}

// --- (c) tasks -----------------------------------------------------------------------------
// tasks.py: N tasks, each doing `await asyncio.sleep(0)` twice, all gathered (asyncio.gather
// wraps each coroutine in a task). Wall time per task: creation, three steps each, gathering.

bulb::Task<void> worker() {
    co_await bulb::sleep(0s);
    co_await bulb::sleep(0s);
}

bulb::Task<void> gather_all(long n) {
#if BULB_BENCH_GATHER
    std::vector<bulb::Task<void>> tasks;
    tasks.reserve(static_cast<std::size_t>(n));
    for (long i = 0; i < n; ++i) tasks.push_back(worker());
    co_await bulb::gather(std::move(tasks));
#else
    // Without gather: schedule every task, then await them one by one.
    std::vector<bulb::Future<void>> futures;
    futures.reserve(static_cast<std::size_t>(n));
    for (long i = 0; i < n; ++i) futures.push_back(bulb::create_task(worker()));
    for (auto& f : futures) co_await f;
#endif
}

Result bench_tasks(bulb::EventLoop& loop, long n) {
    const Clocks c0 = Clocks::now();
    loop.run_until_complete(bulb::create_task(loop, gather_all(n)));
    const Clocks c1 = Clocks::now();
    return {double(c1.wall - c0.wall) / n, {{"cpu_ns_per_op", double(c1.cpu - c0.cpu) / n}}};
}

// --- (extra) call_soon_chain ---------------------------------------------------------------
// call_soon_chain.py: each callback schedules the next, so each costs a full loop iteration
// (including the poll for I/O every iteration makes). Wall time per callback.

struct Chain {
    bulb::EventLoop* loop;
    long left;
    void step() {
        if (--left)
            loop->call_soon([this] { step(); });
        else
            loop->stop();
    }
};

Result bench_call_soon_chain(bulb::EventLoop& loop, long n) {
    Chain chain{&loop, n};
    const Clocks c0 = Clocks::now();
    loop.call_soon([&chain] { chain.step(); });
    loop.run_forever();
    const Clocks c1 = Clocks::now();
    if (chain.left) fail("call_soon_chain: " + std::to_string(chain.left) + " steps did not run");
    return {double(c1.wall - c0.wall) / n, {{"cpu_ns_per_op", double(c1.cpu - c0.cpu) / n}}};
}

// --- driver --------------------------------------------------------------------------------

struct Bench {
    const char* name;
    const char* what;
    long default_n;
    const char* metric;
    Result (*run)(bulb::EventLoop&, long);
};

const Bench benches[] = {
    {"call_soon", "(a) call_soon callbacks, scheduled then run", 1'000'000, "wall", bench_call_soon},
    {"call_later", "(b) call_later timers 0-100 ms, half cancelled", 200'000, "cpu", bench_call_later},
    {"tasks", BULB_BENCH_GATHER ? "(c) tasks, 2x sleep(0) each, gathered"
                                : "(c) tasks, 2x sleep(0) each, awaited one by one",
     200'000, "wall", bench_tasks},
    {"call_soon_chain", "(extra) chained call_soon, 1 per loop iteration", 200'000, "wall", bench_call_soon_chain},
};

void usage(FILE* out) {
    std::fprintf(out,
                 "usage: bench_micro [--bench NAME[,NAME...]] [--repeat R] [-n N] [--quick] [--warm] [--no-table]\n"
                 "  --bench    benchmarks to run (default all): call_soon, call_later, tasks, call_soon_chain\n"
                 "  --repeat   runs per benchmark, each on a new loop (default 3); best and median reported\n"
                 "  -n         operations per run for every selected benchmark (default: each one's own,\n"
                 "             1000000 for call_soon, 200000 for the others, as the Python scripts)\n"
                 "  --warm     every run on one loop, after an untimed warm-up run (steady state)\n"
                 "  --quick    a tenth of the default operations (as run_micro.sh QUICK=1)\n"
                 "  --no-table print only the MICRO lines\n"
                 "  --debug    run every loop in debug mode (set_debug(true): wrong-thread checks)\n");
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> selected;
    int repeat = 3;
    long n_override = 0;
    bool quick = false, table = true, warm = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                usage(stderr);
                std::exit(64);
            }
            return argv[++i];
        };
        if (a == "--bench") {
            std::string list = value();
            for (std::size_t p = 0; p <= list.size();) {
                std::size_t q = list.find(',', p);
                if (q == std::string::npos) q = list.size();
                if (q > p) selected.push_back(list.substr(p, q - p));
                p = q + 1;
            }
        } else if (a == "--repeat") {
            repeat = std::max(1, std::atoi(value().c_str()));
        } else if (a == "-n") {
            n_override = std::atol(value().c_str());
            if (n_override <= 0) fail("-n must be positive");
        } else if (a == "--quick") {
            quick = true;
        } else if (a == "--warm") {
            warm = true;
        } else if (a == "--no-table") {
            table = false;
        } else if (a == "--debug") {
            debug_loops = true;
        } else if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 64;
        }
    }
    for (auto& s : selected) {
        if (std::none_of(std::begin(benches), std::end(benches), [&](const Bench& b) { return s == b.name; }))
            fail("unknown benchmark: " + s);
    }

    struct Row {
        const Bench* bench;
        long n;
        double best, med;
        Result best_run;
    };
    std::vector<Row> rows;
    for (const Bench& b : benches) {
        if (!selected.empty() && std::find(selected.begin(), selected.end(), b.name) == selected.end()) continue;
        long n = n_override ? n_override : quick ? b.default_n / 10 : b.default_n;
        std::vector<Result> runs;
        std::vector<double> faults;
        std::optional<bulb::EventLoop> shared;
        if (warm) {
            shared.emplace();
            shared->set_debug(debug_loops);
            b.run(*shared, n);  // warm-up: not reported
        }
        for (int r = 0; r < repeat; ++r) {
            std::optional<bulb::EventLoop> fresh;
            if (!warm) fresh.emplace();
            if (!warm) fresh->set_debug(debug_loops);
            bulb::EventLoop& loop = warm ? *shared : *fresh;
            const long f0 = minor_faults();
            runs.push_back(b.run(loop, n));
            faults.push_back(double(minor_faults() - f0));
            if (!warm) loop.close();
        }
        std::vector<double> per_op;
        for (auto& r : runs) per_op.push_back(r.ns_per_op);
        const Result& best =
            *std::min_element(runs.begin(), runs.end(), [](auto& x, auto& y) { return x.ns_per_op < y.ns_per_op; });
        std::string extra;
        for (auto& [k, v] : best.extra) {
            char buf[64];
            std::snprintf(buf, sizeof buf, " %s=%.1f", k.c_str(), v);
            extra += buf;
        }
        std::printf("MICRO bench=%s loop=bulb n=%ld metric=%s best_ns_per_op=%.1f median_ns_per_op=%.1f runs=%d warm=%d "
                    "faults_per_run=%.0f%s\n",
                    b.name, n, b.metric, best.ns_per_op, median(per_op), repeat, warm ? 1 : 0, median(faults),
                    extra.c_str());
        std::fflush(stdout);
        rows.push_back({&b, n, best.ns_per_op, median(per_op), best});
    }

    if (table) {
        std::printf("\n%-50s %9s %6s %12s %12s  %s\n", "benchmark (bulb)", "n", "metric", "best ns/op", "median ns/op",
                    "notes (best run)");
        for (auto& r : rows) {
            std::string notes;
            for (auto& [k, v] : r.best_run.extra) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "%s%s=%.1f", notes.empty() ? "" : " ", k.c_str(), v);
                notes += buf;
            }
            std::printf("%-50s %9ld %6s %12.1f %12.1f  %s\n", r.bench->what, r.n, r.bench->metric, r.best, r.med,
                        notes.c_str());
        }
    }
    return 0;
}
