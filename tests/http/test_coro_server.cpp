// SPDX-License-Identifier: MIT
// The coroutine server over 127.0.0.1: Task<Response> handlers, request bodies read as they
// come (with the connection paused while the handler does not read), streamed responses,
// handler exceptions.
#include "raw_peer.hpp"
#include "../support/loop_fixture.hpp"

#include <bulb/coro/sleep.hpp>
#include <bulb/http/coro/server.hpp>

#include <doctest/doctest.h>

#include <memory>
#include <string>

namespace {

using namespace bulb_test;
using bulb::Task;
using bulb::http::Request;
using bulb::http::Response;

using bulb_http_test::connect;
using bulb_http_test::Peer;

bulb::AsyncGenerator<std::string> count_to(int n) {
    for (int i = 1; i <= n; ++i) {
        co_await bulb::sleep(std::chrono::milliseconds(1));
        std::string piece = std::to_string(i) + "\n";
        co_yield std::move(piece);
    }
}

Task<Response> handle(Request& request) {
    std::string path(request.head().path());
    if (path == "/echo") {
        std::string body = co_await request.read_all();
        std::string text = "got " + std::to_string(body.size()) + " " + body.substr(0, 5);
        co_return Response::text(200, text);
    }
    if (path == "/stream") {
        Response r;
        r.stream.emplace(count_to(5));
        co_return r;
    }
    if (path == "/slow-reader") {
        co_await bulb::sleep(std::chrono::milliseconds(100));  // 8 MiB arrive meanwhile: paused at ~64 KiB
        std::size_t n = 0;
        while (auto piece = co_await request.read_some()) n += piece->size();
        co_return Response::text(200, "read " + std::to_string(n));
    }
    if (path == "/throw") throw std::runtime_error("coroutine handler bug");
    co_return Response::text(404, "no\n");
}

}  // namespace

TEST_CASE("coroutine server: bodies read whole (content-length and chunked), streamed answers, 500 on throw") {
    bulb::EventLoop loop;
    RecordingHandler reports(loop);
    auto server = loop.run_until_complete(bulb::http::serve(loop, handle, "127.0.0.1", 0));
    std::uint16_t port = server.sockets().at(0).port();
    auto peer = connect(loop, port);
    peer.transport->write("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"
                          "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                          "GET /stream HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(run_until(loop, [&] { return peer.got->find("0\r\n\r\n") != std::string::npos; }));
    CHECK(peer.got->find("got 11 hello") != std::string::npos);
    CHECK(peer.got->find("got 5 abcde") < peer.got->find("Transfer-Encoding: chunked"));
    CHECK(peer.got->find("2\r\n1\n\r\n2\r\n2\n\r\n") != std::string::npos);
    CHECK(peer.got->find("2\r\n5\n\r\n0\r\n\r\n") != std::string::npos);

    auto bad = connect(loop, port);
    bad.transport->write("GET /throw HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(run_until(loop, [&] { return *bad.lost; }));
    CHECK(bad.got->rfind("HTTP/1.1 500 ", 0) == 0);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].what.find("coroutine handler bug") != std::string::npos);

    peer.transport->close();
    loop.run_until_complete(server.shutdown(std::chrono::milliseconds(200)));
    loop.close();
}

TEST_CASE("coroutine server: a handler that reads late gets every byte; the connection waited (paused)") {
    bulb::EventLoop loop;
    auto server = loop.run_until_complete(bulb::http::serve(loop, handle, "127.0.0.1", 0));
    auto peer = connect(loop, server.sockets().at(0).port());
    const std::size_t total = 8 << 20;
    peer.transport->write("PUT /slow-reader HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n");
    peer.transport->write(std::string(total, 'y'));
    for (int i = 0; i < 30; ++i) run_once(loop);
    CHECK(peer.transport->get_write_buffer_size() > 0);  // the server stopped reading
    REQUIRE(run_until(loop, [&] { return peer.got->find("read " + std::to_string(total)) != std::string::npos; }));
    peer.transport->close();
    loop.run_until_complete(server.shutdown(std::chrono::milliseconds(200)));
    loop.close();
}
