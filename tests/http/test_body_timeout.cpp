// SPDX-License-Identifier: MIT
// ServerSettings::body_timeout over 127.0.0.1: a body trickled slower than the deadline gets
// 408 and a closed connection (callback and coroutine servers), time the handler holds the body
// paused does not count, and an answered request whose body stalls is just closed.
#include "raw_peer.hpp"
#include "../support/loop_fixture.hpp"

#include <bulb/coro/sleep.hpp>
#include <bulb/http/coro/server.hpp>
#include <bulb/http/server.hpp>

#include <doctest/doctest.h>

#include <memory>
#include <string>

namespace {

using namespace bulb_test;
using bulb::http::Exchange;

using bulb_http_test::connect;
using bulb_http_test::Peer;

void sleep_loop(bulb::EventLoop& loop, std::chrono::milliseconds d) {
    bulb::Future<void> f(loop);
    loop.call_later(d, [f]() mutable { f.set_result(); });
    loop.run_until_complete(f);
}

/// Sends a head announcing 100 body bytes, then one byte every 40 ms (faster than any idle or
/// head timeout would notice) until the server closes; returns what came back.
std::string trickle(bulb::EventLoop& loop, std::uint16_t port, std::string_view framing) {
    Peer peer = connect(loop, port);
    peer.transport->write("POST /up HTTP/1.1\r\nHost: a\r\n" + std::string(framing) + "\r\n");
    bool chunked = framing.find("chunked") != std::string_view::npos;
    for (int i = 0; i < 100 && !*peer.lost; ++i) {
        peer.transport->write(chunked ? "1\r\nx\r\n" : "x");
        sleep_loop(loop, std::chrono::milliseconds(40));
    }
    REQUIRE(run_until(loop, [&] { return *peer.lost; }));
    return *peer.got;
}

const bulb::http::ServerSettings slow_body_settings{
    .header_timeout = std::chrono::seconds(30),
    .body_timeout = std::chrono::milliseconds(300),
    .idle_timeout = std::chrono::seconds(30),
};

}  // namespace

TEST_CASE("body_timeout: a body trickled past the deadline gets 408 and the connection closes (callback server)") {
    bulb::EventLoop loop;
    std::size_t received = 0;
    bool ended = false;
    auto server = loop.run_until_complete(bulb::http::Server::create(
        loop,
        [&](Exchange& ex) {
            ex.on_body([&](std::string_view piece) { received += piece.size(); });
            ex.on_end([&, keep = ex.shared_from_this()](const bulb::http::Fields&) {
                ended = true;
                keep->respond(200, "ok");
            });
        },
        "127.0.0.1", 0, slow_body_settings));
    std::uint16_t port = server.sockets().at(0).port();
    for (std::string_view framing : {"Content-Length: 100\r\n", "Transfer-Encoding: chunked\r\n"}) {
        CAPTURE(framing);
        received = 0;
        std::string got = trickle(loop, port, framing);
        CHECK(got.rfind("HTTP/1.1 408 Request Timeout\r\n", 0) == 0);
        CHECK(got.find("Connection: close\r\n") != std::string::npos);
        CHECK(got.find("body_timeout") != std::string::npos);
        CHECK(received > 0);     // the bytes did arrive, just too slowly
        CHECK(received < 100);
        CHECK_FALSE(ended);
    }
    loop.run_until_complete(server.shutdown(std::chrono::milliseconds(100)));
    loop.close();
}

TEST_CASE("body_timeout: the coroutine server's handler sees the connection go; the client gets 408") {
    bulb::EventLoop loop;
    std::string outcome;
    auto server = loop.run_until_complete(bulb::http::serve(
        loop,
        [&](bulb::http::Request& request) -> bulb::Task<bulb::http::Response> {
            try {
                std::string body = co_await request.read_all();
                outcome = "read " + std::to_string(body.size());
            } catch (const bulb::Error& e) {
                outcome = e.what();
            }
            co_return bulb::http::Response::text(200, "ok");
        },
        "127.0.0.1", 0, slow_body_settings));
    std::string got = trickle(loop, server.sockets().at(0).port(), "Content-Length: 100\r\n");
    CHECK(got.rfind("HTTP/1.1 408 Request Timeout\r\n", 0) == 0);
    REQUIRE(run_until(loop, [&] { return !outcome.empty(); }));
    CHECK(outcome.find("went away") != std::string::npos);
    loop.run_until_complete(server.shutdown(std::chrono::milliseconds(100)));
    loop.close();
}

TEST_CASE("body_timeout: time the handler holds the body paused does not count") {
    bulb::EventLoop loop;
    std::shared_ptr<Exchange> current;
    std::size_t received = 0;
    auto server = loop.run_until_complete(bulb::http::Server::create(
        loop,
        [&](Exchange& ex) {
            current = ex.shared_from_this();
            ex.pause_body();  // the handler is busy; the body waits
            ex.on_body([&](std::string_view piece) { received += piece.size(); });
            ex.on_end([&](const bulb::http::Fields&) { current->respond(200, "got " + std::to_string(received)); });
        },
        "127.0.0.1", 0, slow_body_settings));
    Peer peer = connect(loop, server.sockets().at(0).port());
    peer.transport->write("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
    REQUIRE(run_until(loop, [&] { return current != nullptr; }));
    sleep_loop(loop, std::chrono::milliseconds(600));  // twice body_timeout, paused
    CHECK_FALSE(*peer.lost);
    CHECK(peer.got->empty());
    current->resume_body();
    REQUIRE(run_until(loop, [&] { return peer.got->find("got 5") != std::string::npos; }));
    CHECK(peer.got->rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    peer.transport->close();
    current.reset();
    loop.run_until_complete(server.shutdown(std::chrono::milliseconds(100)));
    loop.close();
}

TEST_CASE("body_timeout: a request answered before its body stalls is closed without a second answer") {
    bulb::EventLoop loop;
    auto server = loop.run_until_complete(bulb::http::Server::create(
        loop, [&](Exchange& ex) { ex.respond(413, "too big for me\n"); }, "127.0.0.1", 0, slow_body_settings));
    Peer peer = connect(loop, server.sockets().at(0).port());
    peer.transport->write("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\nabc");
    REQUIRE(run_until(loop, [&] { return *peer.lost; }));
    CHECK(peer.got->rfind("HTTP/1.1 413 ", 0) == 0);
    CHECK(peer.got->find("408") == std::string::npos);
    loop.run_until_complete(server.shutdown(std::chrono::milliseconds(100)));
    loop.close();
}
