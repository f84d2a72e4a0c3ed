// SPDX-License-Identifier: MIT
// Server::shutdown's deadline over 127.0.0.1: a request still unanswered when it passes is
// aborted (callback and coroutine servers), its handler learns the connection went, and the
// shutdown future resolves.
#include "raw_peer.hpp"
#include "../support/loop_fixture.hpp"

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

}  // namespace

TEST_CASE("graceful shutdown: a request not answered by the deadline is aborted; the future resolves") {
    bulb::EventLoop loop;
    std::shared_ptr<Exchange> stuck;
    bool handler_saw_close = false;
    auto server = loop.run_until_complete(bulb::http::Server::create(
        loop,
        [&](Exchange& ex) {
            stuck = ex.shared_from_this();  // never answered
            ex.on_close([&] { handler_saw_close = true; });
        },
        "127.0.0.1", 0));
    std::uint16_t port = server.sockets().at(0).port();
    Peer peer = connect(loop, port);
    peer.transport->write("GET /stuck HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(run_until(loop, [&] { return stuck != nullptr; }));
    auto done = server.shutdown(std::chrono::milliseconds(200));
    REQUIRE(run_until(loop, [&] { return done.done(); }));
    done.result();
    REQUIRE(run_until(loop, [&] { return *peer.lost; }));
    CHECK(peer.got->empty());
    CHECK(handler_saw_close);
    CHECK(stuck->connection_gone());
    CHECK(server.connection_count() == 0);
    stuck->respond(200, "too late");  // dropped, no crash
    loop.close();
}

TEST_CASE("graceful shutdown of the coroutine server: a handler waiting on the body is woken with an error") {
    bulb::EventLoop loop;
    std::string outcome;
    auto server = loop.run_until_complete(bulb::http::serve(
        loop,
        [&](bulb::http::Request& request) -> bulb::Task<bulb::http::Response> {
            try {
                co_await request.read_all();  // the body never comes
                outcome = "read";
            } catch (const bulb::Error& e) {
                outcome = e.what();
            }
            co_return bulb::http::Response::text(200, "late");
        },
        "127.0.0.1", 0));
    Peer peer = connect(loop, server.sockets().at(0).port());
    peer.transport->write("POST /wait HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab");
    REQUIRE(run_until(loop, [&] { return server.connection_count() == 1; }));
    for (int i = 0; i < 5; ++i) run_once(loop);
    auto done = server.shutdown(std::chrono::milliseconds(200));
    REQUIRE(run_until(loop, [&] { return done.done() && !outcome.empty(); }));
    CHECK(outcome.find("went away") != std::string::npos);
    REQUIRE(run_until(loop, [&] { return *peer.lost; }));
    CHECK(peer.got->find("late") == std::string::npos);
    loop.close();
}
