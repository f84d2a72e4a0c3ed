// SPDX-License-Identifier: MIT
/// @file
/// The README's coroutine patterns that GCC 12 miscompiles (braced aggregates, capturing lambdas,
/// temporaries with destructors as arguments, co_await inside ?:), written the natural way. Built
/// only by clang (the compiler recommended for coroutine code); scripts/test.sh runs it in the
/// clang ASan+UBSan build, where a double destruction is a hard failure.
#include <bulb/coro.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>

using namespace std::chrono_literals;

namespace {

bulb::Task<std::size_t> length_later(std::string s) {
    co_await bulb::sleep(1ms);
    co_return s.size();
}

bulb::Task<std::string> echo_once(bulb::StreamReader reader, bulb::StreamWriter writer) {
    std::string line = co_await reader.readline();
    writer.write(line);
    co_await writer.drain();
    writer.close();
    co_return line;
}

}  // namespace

TEST_CASE("the README's GCC 12 patterns run clean with the recommended compiler") {
    std::size_t total = bulb::run([]() -> bulb::Task<std::size_t> {
        std::size_t sum = 0;
        for (int round = 0; round < 20; ++round) {
            // 1. A braced aggregate built inline in the co_await expression.
            auto server = co_await bulb::start_server(
                [](bulb::StreamReader r, bulb::StreamWriter w) -> bulb::Task<> { (void)co_await echo_once(r, w); },
                "127.0.0.1", 0, {.limit = 4096});
            auto port = server.sockets()[0].port();
            auto [reader, writer] = co_await bulb::open_connection("127.0.0.1", port, {.limit = 4096});
            writer.write("hello\n");
            // 2. A capturing lambda (a coroutine) called inside the co_await expression.
            auto shared = std::make_shared<std::string>(64, 'x');
            sum += co_await [shared, copy = std::string(200, 'y')]() -> bulb::Task<std::size_t> {
                co_await bulb::sleep(1ms);
                co_return shared->size() + copy.size();
            }();
            // 3. Temporaries with destructors as arguments.
            sum += co_await length_later(std::string(300, 'z'));
            sum += (co_await reader.readline()).size();
            // 4. co_await inside ?: operands.
            sum += round % 2 ? co_await length_later(std::string(10, 'a')) : co_await length_later(std::string(20, 'b'));
            writer.close();
            co_await writer.wait_closed();
            server.close();
            co_await server.wait_closed();
        }
        co_return sum;
    }());
    CHECK(total == 20 * (64 + 200 + 300 + 6) + 10 * 10 + 10 * 20);
}
