// SPDX-License-Identifier: MIT
/// @file
/// An async generator: ticker() yields 0, 1, ..., count - 1 with a pause after each value, and
/// a task consumes it with `while (auto i = co_await gen.next())`.
///
///     ticker [--count N] [--delay-ms D]

#include <bulb/coro.hpp>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

bulb::AsyncGenerator<int> ticker(std::chrono::milliseconds delay, int to) {
    for (int i = 0; i < to; ++i) {
        co_yield i;
        co_await bulb::sleep(delay);
    }
}

bulb::Task<> main_task(std::chrono::milliseconds delay, int count) {
    auto gen = ticker(delay, count);
    while (auto i = co_await gen.next()) std::printf("%d\n", *i);
}

// --- command line ---------------------------------------------------------------------------

constexpr const char* usage = "usage: ticker [--count N] [--delay-ms D]  (defaults: 5 values, 100 ms)\n";

/// A non-negative integer, or exit with a usage error.
int parse_value(std::string_view flag, const char* text) {
    int value = -1;
    const char* end = text ? text + std::strlen(text) : nullptr;
    if (!text || std::from_chars(text, end, value).ptr != end || value < 0) {
        std::fprintf(stderr, "ticker: %.*s: missing or bad value\n%s", static_cast<int>(flag.size()),
                     flag.data(), usage);
        std::exit(2);
    }
    return value;
}

int main(int argc, char** argv) {
    int count = 5;
    int delay_ms = 100;
    for (int i = 1; i < argc; ++i) {
        std::string_view flag = argv[i];
        if (flag == "--help") {
            std::fputs(usage, stdout);
            return 0;
        } else if (flag == "--count") {
            count = parse_value(flag, argv[++i]);
        } else if (flag == "--delay-ms") {
            delay_ms = parse_value(flag, argv[++i]);
        } else {
            std::fprintf(stderr, "ticker: %s: unknown option\n%s", argv[i], usage);
            return 2;
        }
    }
    bulb::run(main_task(std::chrono::milliseconds(delay_ms), count));
}
