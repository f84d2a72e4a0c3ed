// SPDX-License-Identifier: MIT
/// @file
/// The first example of every asyncio tutorial: one task awaits another that sleeps for a second.

#include <bulb/coro.hpp>
#include <cstdio>

bulb::Task<int> compute(int x, int y) {
    std::printf("Compute %d + %d ...\n", x, y);
    co_await bulb::sleep(std::chrono::seconds(1));
    co_return x + y;
}

bulb::Task<> print_sum(int x, int y) {
    int result = co_await compute(x, y);
    std::printf("%d + %d = %d\n", x, y, result);
}

int main() { bulb::run(print_sum(1, 2)); }
