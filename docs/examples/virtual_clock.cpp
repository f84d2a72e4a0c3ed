// Testing with the virtual clock: time jumps to the next timer when nothing is ready, so an
// hour of timers runs at once and in a deterministic order.
#include <bulb/coro.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

bulb::Task<int> heartbeat(int beats) {
    int seen = 0;
    for (int i = 0; i < beats; ++i) {
        co_await bulb::sleep(10min);
        ++seen;
    }
    co_return seen;
}

int main() {
    const auto wall_start = std::chrono::steady_clock::now();
    bulb::LoopOptions options;
    options.virtual_clock = true;
    const int seen = bulb::run(heartbeat(6), options);  // one virtual hour
    const auto wall = std::chrono::steady_clock::now() - wall_start;
    std::printf("beats: %d, wall time under a second: %s\n", seen, wall < 1s ? "yes" : "no");
    return seen == 6 && wall < 1s ? 0 : 1;
}
