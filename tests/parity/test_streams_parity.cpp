// SPDX-License-Identifier: MIT
/// @file
/// Streams (issue 17): readuntil with several separators (asyncio 3.13) and
/// StreamWriter::writelines over any range, on real loopback connections. Each case names the
/// CPython test it follows.
#include "support/loop_fixture.hpp"

#include <bulb/coro.hpp>

#include <cstddef>
#include <list>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace bulb_test;

namespace {

struct Pair {
    bulb::Server server;
    bulb::StreamReader reader;       // the server's side: what the client wrote arrives here
    bulb::StreamWriter writer;       // the client's side
    bulb::StreamWriter server_writer;
};

// Options by pointer: GCC 12 miscopies prvalue option structs into coroutine frames.
bulb::Task<Pair> connect_pair(const bulb::StreamOptions* given = nullptr) {
    bulb::StreamOptions options = given ? *given : bulb::StreamOptions{};
    auto& loop = bulb::get_running_loop();
    bulb::Future<bulb::StreamPair> accepted(loop);
    // Named first: GCC 12 mishandles capturing lambdas inside a co_await expression.
    bulb::ClientConnected on_client = [accepted](bulb::StreamReader r, bulb::StreamWriter w) mutable -> bulb::Task<> {
        auto once = std::move(accepted);  // the server keeps this callback: keep no handles in it
        once.set_result({r, w});
        co_return;
    };
    auto server = co_await bulb::start_server(std::move(on_client), "127.0.0.1", 0, options);
    bulb::StreamPair mine = co_await bulb::open_connection("127.0.0.1", server.sockets()[0].port(), options);
    bulb::StreamPair theirs = co_await accepted;
    Pair pair{server, theirs.first, mine.second, theirs.second};
    co_return pair;
}

// Waits until `n` bytes are buffered (data crosses a real socket).
bulb::Task<void> wait_buffered(bulb::StreamReader& r, std::size_t n) {
    while (r.buffered() < n) co_await bulb::sleep(1ms);
}

}  // namespace

TEST_CASE("readuntil with several separators: the earliest end wins") {
    // test_streams.StreamTests.test_readuntil_multi_separator
    bulb::EventLoop loop;
    auto main = []() -> bulb::Task<void> {
        auto p = co_await connect_pair();
        p.writer.write("line 1\nline 2\r");
        co_await wait_buffered(p.reader, 14);
        // Braced lists are named outside co_await: g++ 12 rejects them inside ("array used as
        // initializer"); a vector of separators can be reused.
        auto first = p.reader.readuntil({"\r", "\n"});
        CHECK(co_await std::move(first) == "line 1\n");
        const std::vector<std::string> cr_or_lf{"\r", "\n"};
        CHECK(co_await p.reader.readuntil(cr_or_lf) == "line 2\r");
        CHECK(p.reader.buffered() == 0);

        // The first end position matches, even when that is the longer separator.
        p.writer.write("ABCDEFG");
        co_await wait_buffered(p.reader, 7);
        auto longer_first = p.reader.readuntil({"DEF", "BCDE"});
        CHECK(co_await std::move(longer_first) == "ABCDE");
        CHECK(p.reader.buffered() == 2);
        CHECK(co_await p.reader.readexactly(2) == "FG");

        // A separator split across two arrivals; a vector of owned separators.
        p.writer.write("head\r");
        co_await wait_buffered(p.reader, 5);
        auto pending = bulb::create_task(p.reader.readuntil(std::vector<std::string>{"\r\n", "||"}));
        co_await bulb::sleep(1ms);
        CHECK_FALSE(pending.done());
        p.writer.write("\nrest");
        CHECK(co_await pending == "head\r\n");
        CHECK(co_await p.reader.readexactly(4) == "rest");
        p.server.close();
    };
    loop.run_until_complete(main());
}

TEST_CASE("readuntil with several separators: limit, EOF and bad arguments") {
    // test_streams.StreamTests.test_readuntil_multi_separator_limit,
    // test_readuntil_multi_separator_negative_offset and test_readuntil_eof.
    bulb::EventLoop loop;
    auto main = []() -> bulb::Task<void> {
        bulb::StreamOptions options;
        options.limit = 3;
        auto p = co_await connect_pair(&options);
        p.writer.write("some dataA");
        co_await wait_buffered(p.reader, 10);
        try {
            auto both_end_last = p.reader.readuntil({"A", "ome dataA"});  // both end at the last byte
            co_await std::move(both_end_last);
            FAIL("no exception");
        } catch (const bulb::LimitOverrunError& e) {
            CHECK(e.consumed == 9);  // measured at the shorter separator, "A"
            CHECK(std::string(e.what()).find("is found") != std::string::npos);
        }
        CHECK(p.reader.buffered() == 10);  // nothing consumed

        // Enough data for the short separator, not for the long one: the search offset must
        // not go negative, and the long one may still complete.
        auto q = co_await connect_pair();
        q.writer.write("data");
        co_await wait_buffered(q.reader, 4);
        auto pending = bulb::create_task(q.reader.readuntil({"A", "long sep"}));
        co_await bulb::sleep(1ms);
        CHECK_FALSE(pending.done());
        q.writer.write("Z long sep");
        CHECK(co_await pending == "dataZ long sep");

        // EOF before a separator: IncompleteReadError with everything buffered.
        q.writer.write("tail");
        q.writer.write_eof();
        try {
            auto absent = q.reader.readuntil({"X", "YY"});
            co_await std::move(absent);
            FAIL("no exception");
        } catch (const bulb::IncompleteReadError& e) {
            CHECK(e.partial == "tail");
            CHECK_FALSE(e.expected.has_value());
        }

        // test_readuntil_separator (ValueError): no separators, or an empty one.
        CHECK_THROWS_AS(co_await q.reader.readuntil(std::vector<std::string>{}), std::invalid_argument);
        auto empty_one = q.reader.readuntil({"\n", ""});
        CHECK_THROWS_AS(co_await std::move(empty_one), std::invalid_argument);
        p.server.close();
        q.server.close();
    };
    loop.run_until_complete(main());
}

TEST_CASE("writelines takes any range of text or bytes") {
    // test_selector_events.SelectorSocketTransportTests.test_writelines_sendmsg_full (the
    // buffers go out together) and test_io's test_writelines_userlist (any iterable).
    bulb::EventLoop loop;
    auto main = []() -> bulb::Task<void> {
        auto p = co_await connect_pair();
        std::vector<std::string> owned{"alpha ", "beta "};
        p.writer.writelines(owned);
        std::list<std::string_view> views{"gamma ", "delta "};
        p.writer.writelines(views);
        const char* literals[] = {"eps ", "zeta "};
        p.writer.writelines(literals);
        std::vector<std::byte> raw{std::byte{'e'}, std::byte{'t'}, std::byte{'a'}, std::byte{' '}};
        std::vector<std::vector<std::byte>> byte_lines{raw};
        p.writer.writelines(byte_lines);
        // A view whose elements are made on the fly (owned strings, joined before writing).
        auto numbered = std::views::iota(1, 4) | std::views::transform([](int i) { return std::to_string(i) + ","; });
        p.writer.writelines(numbered);
        p.writer.writelines(std::vector<std::string>{});  // nothing at all
        p.writer.write_eof();
        CHECK(co_await p.reader.read() == "alpha beta gamma delta eps zeta eta 1,2,3,");
        p.server.close();
    };
    loop.run_until_complete(main());
}
