// SPDX-License-Identifier: MIT
/// @file
/// The first example of every asyncio tutorial: one task awaits another that sleeps for a second.

#include <bulb/coro.hpp>
#include <cstdio>
#include <string_view>

bulb::Task<int> compute(int x, int y) {
    std::printf("Compute %d + %d ...\n", x, y);
    co_await bulb::sleep(std::chrono::seconds(1));
    co_return x + y;
}

bulb::Task<> print_sum(int x, int y) {
    int result = co_await compute(x, y);
    std::printf("%d + %d = %d\n", x, y, result);
}

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--help") {
            std::puts("usage: print_sum  (no options)");
            return 0;
        }
        std::fprintf(stderr, "print_sum: %s: unknown option\nusage: print_sum  (no options)\n", argv[i]);
        return 2;
    }
    bulb::run(print_sum(1, 2));
}
