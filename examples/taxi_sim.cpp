// SPDX-License-Identifier: MIT
/// @file
/// Taxi fleet simulation (Fluent Python's taxi_sim.py), one task per taxi.
///
/// Taxi i leaves the garage at i * 5 minutes, then alternately picks up and drops off passengers
/// for random (exponential) durations, then goes home. The loop's timers decide the order of the
/// events; `--virtual` runs the same story on a virtual clock, instantly. (On a real clock,
/// events can change places only if the loop falls more than a simulated minute behind.)
///
///     taxi_sim [--taxis N] [--trips N] [--seed S] [--virtual] [--time-scale F]

#include <bulb/coro.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string_view>
#include <vector>

namespace {

using namespace std::chrono_literals;

/// Simulated time in whole tenths of a minute: equal times stay exactly equal.
using SimTime = std::chrono::duration<long long, std::ratio<6>>;

constexpr SimTime departure_interval = 5min;
constexpr double search_minutes = 5;  // mean time to find a passenger
constexpr double trip_minutes = 20;   // mean duration of a trip

double minutes(SimTime t) { return std::chrono::duration<double, std::ratio<60>>(t).count(); }

/// An exponentially distributed duration of at least one minute. Hand-rolled rather than
/// std::exponential_distribution, so a seed tells the same story with every standard library.
SimTime random_duration(std::mt19937& rng, double mean_minutes) {
    double u = (rng() + 0.5) / 4294967296.0;  // uniform in (0, 1)
    return 1min + SimTime(static_cast<long long>(-mean_minutes * std::log(u) * 10));
}

/// Maps simulated time onto the loop clock.
struct SimClock {
    bulb::TimePoint start;
    double time_scale;  // real seconds per simulated minute
};

/// Sleeps until simulated time `t`. An absolute deadline (call_at) keeps equal times in FIFO
/// order, so the story is the same on a real and on a virtual clock.
bulb::Task<> sleep_until(SimClock clock, SimTime t) {
    auto when = clock.start + std::chrono::duration_cast<bulb::Duration>(
                                  std::chrono::duration<double>(minutes(t) * clock.time_scale));
    bulb::Future<void> woken;
    bulb::get_running_loop().call_at(when, [woken]() mutable {
        if (!woken.done()) woken.set_result();  // done: cancelled along with the waiting task
    });
    co_await woken;
}

bulb::Task<> event(SimClock clock, int taxi, SimTime time, const char* action) {
    co_await sleep_until(clock, time);
    std::printf("%*staxi: %d  time:%8.2f  %s\n", 4 * taxi, "", taxi, minutes(time), action);
}

/// One taxi's day; returns the time it got home.
bulb::Task<SimTime> taxi(SimClock clock, int id, int trips, unsigned seed) {
    std::seed_seq seeds{seed, static_cast<unsigned>(id)};
    std::mt19937 rng(seeds);  // one generator per taxi: draws never depend on scheduling
    SimTime time = id * departure_interval;
    co_await event(clock, id, time, "leave garage");
    for (int i = 0; i < trips; ++i) {
        time += random_duration(rng, search_minutes);
        co_await event(clock, id, time, "pick up passenger");
        time += random_duration(rng, trip_minutes);
        co_await event(clock, id, time, "drop off passenger");
    }
    time += random_duration(rng, search_minutes);
    co_await event(clock, id, time, "going home");
    co_return time;
}

struct Options {
    int taxis = 3;
    int trips = 2;
    unsigned seed = 0;
    bool virtual_clock = false;
    double time_scale = 0.05;
};

bulb::Task<> simulate(Options opt) {
    SimClock clock{bulb::get_running_loop().time(), opt.time_scale};
    std::vector<bulb::Task<SimTime>> taxis;
    for (int id = 0; id < opt.taxis; ++id) taxis.push_back(taxi(clock, id, opt.trips, opt.seed));
    std::vector<SimTime> home = co_await bulb::gather(std::move(taxis));  // runs them all at once
    std::printf("*** end of simulation: %.2f minutes ***\n", minutes(*std::ranges::max_element(home)));
}

// --- command line ---------------------------------------------------------------------------

constexpr const char* usage =
    "usage: taxi_sim [--taxis N] [--trips N] [--seed S] [--virtual] [--time-scale F]\n"
    "  --taxis N       number of taxis (default 3)\n"
    "  --trips N       trips per taxi (default 2)\n"
    "  --seed S        random seed (default 0): same seed, same story\n"
    "  --virtual       run on a virtual clock: the same story, instantly\n"
    "  --time-scale F  real seconds per simulated minute (default 0.05)\n";

[[noreturn]] void usage_error(std::string_view flag, const char* problem) {
    std::fprintf(stderr, "taxi_sim: %.*s: %s\n%s", static_cast<int>(flag.size()), flag.data(), problem, usage);
    std::exit(2);
}

template <class T>
T parse_number(std::string_view flag, const char* text, T min, T max) {
    if (!text) usage_error(flag, "missing value");
    std::string_view s(text);
    T value{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    bool ok = ec == std::errc() && end == s.data() + s.size() && value >= min && value <= max;
    if (!ok) usage_error(flag, "bad value");
    return value;
}

Options parse_options(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; ++i) {
        std::string_view flag = argv[i];
        if (flag == "--help") {
            std::fputs(usage, stdout);
            std::exit(0);
        } else if (flag == "--virtual") {
            opt.virtual_clock = true;
        } else if (flag == "--taxis") {
            opt.taxis = parse_number(flag, argv[++i], 1, 1000);
        } else if (flag == "--trips") {
            opt.trips = parse_number(flag, argv[++i], 0, 1000000);
        } else if (flag == "--seed") {
            opt.seed = parse_number(flag, argv[++i], 0u, ~0u);
        } else if (flag == "--time-scale") {
            opt.time_scale = parse_number(flag, argv[++i], 1e-9, 60.0);
        } else {
            usage_error(flag, "unknown option");
        }
    }
    return opt;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt = parse_options(argc, argv);
    bulb::run(simulate(opt), bulb::LoopOptions{.virtual_clock = opt.virtual_clock});
}
