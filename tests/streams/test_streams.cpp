// SPDX-License-Identifier: MIT
/// @file
/// StreamReader / StreamWriter over real loopback connections: reads, limits, EOF, backpressure,
/// cancellation safety, server callbacks, writer lifetime and start_tls.
#include <bulb/coro.hpp>
#include <doctest/doctest.h>

#include "../tls/tls_support.hpp"  // the test PKI, for start_tls

#include <chrono>
#include <string>
#include <vector>

#include <unistd.h>

using namespace std::chrono_literals;

namespace {

/// A connected pair: `client` from open_connection, `server` handed over by start_server.
struct Pair {
    bulb::Server server;
    bulb::StreamReader client_reader, server_reader;
    bulb::StreamWriter client_writer, server_writer;
};

// Options by pointer: GCC 12 miscopies prvalue option structs into coroutine frames.
bulb::Task<Pair> connect_pair(const bulb::StreamOptions* given = nullptr) {
    bulb::StreamOptions options = given ? *given : bulb::StreamOptions{};
    auto& loop = bulb::get_running_loop();
    bulb::Future<bulb::StreamPair> accepted(loop);
    // Named first: GCC 12 relocates non-trivial temporaries of a co_await expression bitwise and
    // destroys them twice (lambdas with captures, braced aggregates).
    bulb::ClientConnected on_client = [accepted](bulb::StreamReader r, bulb::StreamWriter w) mutable -> bulb::Task<> {
        auto once = std::move(accepted);  // the server keeps this callback: keep no handles in it
        once.set_result({r, w});
        co_return;
    };
    auto server = co_await bulb::start_server(std::move(on_client), "127.0.0.1", 0, options);
    bulb::StreamPair mine = co_await bulb::open_connection("127.0.0.1", server.sockets()[0].port(), options);
    bulb::StreamPair theirs = co_await accepted;
    Pair pair{server, mine.first, theirs.first, mine.second, theirs.second};
    co_return pair;
}

/// Runs `body` in a fresh loop through bulb::run, failing on any exception-handler report.
template <class F>
void run_test(F body) {
    bulb::run([](F body) -> bulb::Task<> {
        auto& loop = bulb::get_running_loop();
        int reports = 0;
        loop.set_exception_handler([&](bulb::EventLoop&, const bulb::ExceptionContext& c) {
            ++reports;
            FAIL_CHECK("unexpected exception handler call: " << c.message);
        });
        co_await body();
        CHECK(reports == 0);
        loop.set_exception_handler({});
    }(std::move(body)));
}

}  // namespace

TEST_SUITE("streams") {

TEST_CASE("readline, readexactly, readuntil and read return what was sent, then EOF") {
    run_test([]() -> bulb::Task<> {
        auto p = co_await connect_pair();
        p.client_writer.write("one\ntwo\r\nABCDEFxyz||rest");
        p.client_writer.write_eof();
        CHECK(co_await p.server_reader.readline() == "one\n");
        CHECK(co_await p.server_reader.readline() == "two\r\n");
        CHECK(co_await p.server_reader.readexactly(6) == "ABCDEF");
        CHECK(co_await p.server_reader.readuntil("||") == "xyz||");
        CHECK(co_await p.server_reader.read() == "rest");
        CHECK(co_await p.server_reader.read() == "");
        CHECK(p.server_reader.at_eof());
        CHECK(co_await p.server_reader.readline() == "");
        p.server.close();
    });
}

TEST_CASE("readexactly and readuntil at EOF raise IncompleteReadError with the partial data") {
    run_test([]() -> bulb::Task<> {
        auto p = co_await connect_pair();
        p.client_writer.write("abc");
        p.client_writer.write_eof();
        try {
            co_await p.server_reader.readexactly(5);
            FAIL("no exception");
        } catch (const bulb::IncompleteReadError& e) {
            CHECK(e.partial == "abc");
            CHECK(e.expected == 5);
            CHECK(e.code() == bulb::errc::incomplete_read);
        }
        auto q = co_await connect_pair();
        q.client_writer.write("no separator");
        q.client_writer.close();
        try {
            co_await q.server_reader.readuntil("\n");
            FAIL("no exception");
        } catch (const bulb::IncompleteReadError& e) {
            CHECK(e.partial == "no separator");
            CHECK_FALSE(e.expected.has_value());
        }
        p.server.close();
        q.server.close();
    });
}

TEST_CASE("a line over the limit: readuntil keeps the data buffered, readline discards it") {
    run_test([]() -> bulb::Task<> {
        bulb::StreamOptions options;
        options.limit = 16;
        auto p = co_await connect_pair(&options);
        p.client_writer.write(std::string(40, 'x') + "\nshort\n");
        while (p.server_reader.buffered() < 47) co_await bulb::sleep(1ms);
        try {
            co_await p.server_reader.readuntil("\n");
            FAIL("no exception");
        } catch (const bulb::LimitOverrunError& e) {
            CHECK(e.consumed == 40);
            CHECK(e.code() == bulb::errc::limit_overrun);
        }
        CHECK(p.server_reader.buffered() == 47);  // nothing consumed
        CHECK_THROWS_AS(co_await p.server_reader.readline(), bulb::LimitOverrunError);
        CHECK(co_await p.server_reader.readline() == "short\n");  // the long line was dropped
        p.server.close();
    });
}

TEST_CASE("a read cancelled while waiting loses no byte and the stream stays usable") {
    run_test([]() -> bulb::Task<> {
        auto p = co_await connect_pair();
        auto reader = p.server_reader;
        auto blocked = bulb::create_task([](bulb::StreamReader r) -> bulb::Task<std::string> {
            co_return co_await r.readexactly(10);
        }(reader));
        p.client_writer.write("12345");
        while (reader.buffered() < 5) co_await bulb::sleep(1ms);
        blocked.cancel();
        CHECK_THROWS_AS(co_await blocked, bulb::CancelledError);
        p.client_writer.write("67890");
        CHECK(co_await reader.readexactly(10) == "1234567890");
        p.server.close();
    });
}

TEST_CASE("two concurrent reads on one reader: the second raises InvalidStateError") {
    run_test([]() -> bulb::Task<> {
        auto p = co_await connect_pair();
        auto first = bulb::create_task(p.server_reader.readline());
        co_await bulb::sleep(0ms);
        CHECK_THROWS_AS(co_await p.server_reader.readline(), bulb::InvalidStateError);
        p.client_writer.write("x\n");
        CHECK(co_await first == "x\n");
        p.server.close();
    });
}

TEST_CASE("the reader pauses the transport past twice its limit and resumes when drained") {
    run_test([]() -> bulb::Task<> {
        bulb::StreamOptions options;
        options.limit = 1024;
        auto p = co_await connect_pair(&options);
        std::string chunk(4096, 'z');
        for (int i = 0; i < 64; ++i) p.client_writer.write(chunk);
        while (p.server_writer.transport().is_reading()) co_await bulb::sleep(1ms);
        CHECK(p.server_reader.buffered() > 2 * 1024);
        std::size_t total = 0;
        while (total < 64 * 4096) total += (co_await p.server_reader.read(8192)).size();
        CHECK(total == 64 * 4096);
        CHECK(p.server_writer.transport().is_reading());
        p.server.close();
    });
}

TEST_CASE("drain waits while the peer does not read; several tasks may wait; all wake when it reads") {
    run_test([]() -> bulb::Task<> {
        auto p = co_await connect_pair();
        std::string chunk(64 * 1024, 'd');
        while (p.server_writer.transport().get_write_buffer_size() <= 64 * 1024) p.server_writer.write(chunk);
        int woken = 0;
        auto waiter = [](bulb::StreamWriter w, int& n) -> bulb::Task<> {
            co_await w.drain();
            ++n;
        };
        auto a = bulb::create_task(waiter(p.server_writer, woken));
        auto b = bulb::create_task(waiter(p.server_writer, woken));
        co_await bulb::sleep(20ms);
        CHECK(woken == 0);
        std::size_t want = p.server_writer.transport().get_write_buffer_size();
        std::size_t got = 0;
        while (got < want) got += (co_await p.client_reader.read(1 << 20)).size();
        co_await bulb::gather(std::move(a), std::move(b));
        CHECK(woken == 2);
        p.server.close();
    });
}

TEST_CASE("a drain cancelled while waiting leaves the writer usable") {
    run_test([]() -> bulb::Task<> {
        auto p = co_await connect_pair();
        std::string chunk(64 * 1024, 'c');
        std::size_t sent = 0;
        while (p.server_writer.transport().get_write_buffer_size() <= 64 * 1024) {
            p.server_writer.write(chunk);
            sent += chunk.size();
        }
        auto d = bulb::create_task(p.server_writer.drain());
        co_await bulb::sleep(5ms);
        d.cancel();
        CHECK_THROWS_AS(co_await d, bulb::CancelledError);
        p.server_writer.write("end");
        sent += 3;
        p.server_writer.write_eof();
        std::string all = co_await p.client_reader.read();
        CHECK(all.size() == sent);
        CHECK(all.ends_with("end"));
        p.server.close();
    });
}

TEST_CASE("drain raises once the connection is lost") {
    run_test([]() -> bulb::Task<> {
        auto p = co_await connect_pair();
        p.client_writer.transport().abort();
        for (int i = 0; i < 50 && !p.server_writer.is_closing(); ++i) {
            p.server_writer.write("x");
            co_await bulb::sleep(2ms);
        }
        bool raised = false;
        try {
            co_await p.server_writer.drain();
        } catch (const bulb::Error&) {
            raised = true;
        }
        CHECK(raised);
        p.server.close();
    });
}

TEST_CASE("wait_closed cancelled, then awaited again, completes when the connection ends") {
    run_test([]() -> bulb::Task<> {
        auto p = co_await connect_pair();
        auto w = bulb::create_task(p.client_writer.wait_closed());
        co_await bulb::sleep(1ms);
        w.cancel();
        CHECK_THROWS_AS(co_await w, bulb::CancelledError);
        p.client_writer.close();
        co_await p.client_writer.wait_closed();
        CHECK(p.client_writer.is_closing());
        p.server.close();
    });
}

TEST_CASE("lines() yields every line until EOF") {
    run_test([]() -> bulb::Task<> {
        auto p = co_await connect_pair();
        p.client_writer.writelines({"a\n", "bb\n", "ccc"});
        p.client_writer.write_eof();
        std::vector<std::string> seen;
        auto lines = p.server_reader.lines();
        while (auto line = co_await lines.next()) seen.push_back(*line);
        CHECK(seen == std::vector<std::string>{"a\n", "bb\n", "ccc"});
        p.server.close();
    });
}

TEST_CASE("the last StreamWriter handle going away closes the connection") {
    run_test([]() -> bulb::Task<> {
        auto p = co_await connect_pair();
        p.server_writer.write("bye");
        p.server_writer = p.client_writer;  // drops the server side's last writer handle
        CHECK(co_await p.client_reader.read() == "bye");
        CHECK(co_await p.client_reader.read() == "");  // EOF: the server side closed
        p.server.close();
    });
}

TEST_CASE("an exception escaping the client callback is reported and the connection closed") {
    bulb::run([]() -> bulb::Task<> {
        auto& loop = bulb::get_running_loop();
        std::vector<std::string> reports;
        loop.set_exception_handler([&](bulb::EventLoop&, const bulb::ExceptionContext& c) { reports.push_back(c.message); });
        auto server = co_await bulb::start_server(
            [](bulb::StreamReader, bulb::StreamWriter) -> bulb::Task<> {
                throw std::runtime_error("handler failed");
                co_return;
            },
            "127.0.0.1", 0);
        auto [r, w] = co_await bulb::open_connection("127.0.0.1", server.sockets()[0].port());
        CHECK(co_await r.read() == "");  // closed by the server
        REQUIRE(reports.size() == 1);
        CHECK(reports[0].find("client_connected") != std::string::npos);
        server.close();
        co_await server.wait_closed();
        loop.set_exception_handler({});
    }());
}

// Writes made before StreamWriter::start_tls reach the peer before the client hello (asyncio's
// start_tls drains first; here they are queued ahead of it), and the writer that backlog paused
// is resumed through TLS: drain() returned never before the fix (cpython #109051).
TEST_CASE("start_tls: the writes before it arrive first, in order, and drain() works after it") {
    run_test([]() -> bulb::Task<> {
        const auto& pki = bulb_tls_test::Pki::get();
        auto p = co_await connect_pair();
        // 64 KiB chunks of 8-byte records, each its own offset, until the transport holds more
        // than its high-water mark (the kernel takes a few MiB first).
        std::string plain;
        char rec[16];
        while (plain.size() < (64u << 20) && p.client_writer.transport().get_write_buffer_size() <= 256 * 1024) {
            std::string chunk;
            for (int i = 0; i < 8192; ++i) {
                std::snprintf(rec, sizeof rec, "%07zx.", plain.size() + chunk.size());
                chunk.append(rec, 8);
            }
            p.client_writer.write(chunk);
            plain += chunk;
        }
        p.client_writer.write("STARTTLS\n");
        CHECK(p.client_writer.transport().get_write_buffer_size() > 64 * 1024);  // queued, not sent
        bulb::TlsClientOptions co;
        co.ca_file = pki.ca;
        // Named, not temporaries of a co_await expression (GCC 12 destroys those twice).
        bulb::TlsContext client_ctx = bulb::TlsContext::client(co);
        bulb::TlsContext server_ctx = bulb::TlsContext::server(pki.srv, pki.srv_key);
        auto client_tls = bulb::create_task(p.client_writer.start_tls(client_ctx, "localhost"));
        std::string got = co_await p.server_reader.readexactly(plain.size());
        CHECK(got == plain);
        CHECK(co_await p.server_reader.readline() == "STARTTLS\n");
        auto server_tls = p.server_writer.start_tls(server_ctx, std::string());
        co_await std::move(server_tls);
        co_await client_tls;
        auto drained = bulb::timeout(10s).run(p.client_writer.drain());
        co_await std::move(drained);
        p.client_writer.write("over tls\n");
        CHECK(co_await p.server_reader.readline() == "over tls\n");
        p.server_writer.write("and back\n");
        co_await p.server_writer.drain();
        CHECK(co_await p.client_reader.readline() == "and back\n");
        CHECK(p.client_writer.get_extra_info("version").value_or("").find("TLS") == 0);
        p.client_writer.close();
        CHECK(co_await p.server_reader.read() == "");  // close_notify: a clean EOF
        p.server_writer.close();
        co_await p.client_writer.wait_closed();
        co_await p.server_writer.wait_closed();
        p.server.close();
    });
}

TEST_CASE("Unix-socket streams carry data both ways") {
    run_test([]() -> bulb::Task<> {
        std::string path = std::string("\0bulb-streams-", 14) + std::to_string(::getpid());
        auto server = co_await bulb::start_unix_server(
            [](bulb::StreamReader r, bulb::StreamWriter w) -> bulb::Task<> {
                w.write(co_await r.readline());
                co_await w.drain();
            },
            path);
        auto [r, w] = co_await bulb::open_unix_connection(path);
        w.write("over unix\n");
        CHECK(co_await r.readline() == "over unix\n");
        server.close();
    });
}

}  // TEST_SUITE
