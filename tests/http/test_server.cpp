// SPDX-License-Identifier: MIT
// http::Server over 127.0.0.1 driven by a bulb client connection: async answers and pipelining,
// body backpressure, Upgrade hand-over, timeouts (slowloris), the connection limit, graceful
// shutdown and a throwing handler.
#include "../support/loop_fixture.hpp"

#include <bulb/http/server.hpp>

#include <doctest/doctest.h>

#include <memory>
#include <string>

namespace {

using namespace bulb_test;
using bulb::http::Exchange;

/// A client connection that keeps everything it receives.
struct Client : bulb::Protocol {
    std::shared_ptr<std::string> got = std::make_shared<std::string>();
    std::shared_ptr<bool> lost = std::make_shared<bool>(false);
    void data_received(bulb::ByteView data) override { got->append(bulb::as_string_view(data)); }
    void connection_lost(std::error_code) override { *lost = true; }
};

struct Harness {
    bulb::EventLoop loop;
    std::optional<bulb::http::Server> server;
    std::uint16_t port = 0;

    void start(bulb::http::Handler handler, bulb::http::ServerSettings settings = {}) {
        server.emplace(loop.run_until_complete(
            bulb::http::Server::create(loop, std::move(handler), "127.0.0.1", 0, settings)));
        port = server->sockets().at(0).port();
    }
    struct Peer {
        bulb::TransportPtr transport;
        std::shared_ptr<std::string> got;
        std::shared_ptr<bool> lost;
    };
    Peer connect() {
        auto client = std::make_unique<Client>();
        Peer p{nullptr, client->got, client->lost};
        auto c = loop.run_until_complete(loop.create_connection(
            [&client]() -> std::unique_ptr<bulb::Protocol> { return std::move(client); }, "127.0.0.1", port));
        p.transport = c.transport;
        return p;
    }
    ~Harness() {
        if (server) loop.run_until_complete(server->shutdown(std::chrono::milliseconds(100)));
        loop.close();
    }
};

std::size_t count(const std::string& s, std::string_view what) {
    std::size_t n = 0;
    for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("an answer given later holds back the next pipelined request; answers come in order") {
    Harness h;
    int seen = 0;
    h.start([&](Exchange& ex) {
        ++seen;
        std::shared_ptr<Exchange> keep = ex.shared_from_this();
        std::string body = std::string(ex.request().path());
        if (body == "/slow") {
            h.loop.call_later(std::chrono::milliseconds(50), [keep, body] { keep->respond(200, body); });
        } else {
            keep->respond(200, body);
        }
    });
    auto peer = h.connect();
    peer.transport->write("GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(run_until(h.loop, [&] { return count(*peer.got, "HTTP/1.1 200") == 2; }));
    CHECK(peer.got->find("/slow") < peer.got->find("/fast"));
    CHECK(seen == 2);
    peer.transport->close();
}

TEST_CASE("pause_body stops body pieces (and reading) until resume_body; nothing is lost") {
    Harness h;
    std::size_t received = 0;
    bool ended = false;
    std::shared_ptr<Exchange> current;
    h.start([&](Exchange& ex) {
        current = ex.shared_from_this();
        ex.on_body([&](std::string_view piece) {
            received += piece.size();
            current->pause_body();
        });
        ex.on_end([&](const bulb::http::Fields&) {
            ended = true;
            current->respond(200, std::to_string(received));
        });
    });
    auto peer = h.connect();
    const std::size_t total = 4 << 20;
    peer.transport->write("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n");
    peer.transport->write(std::string(total, 'x'));
    REQUIRE(run_until(h.loop, [&] { return received > 0; }));
    std::size_t at_pause = received;
    for (int i = 0; i < 20; ++i) run_once(h.loop);
    CHECK(received == at_pause);  // paused: no piece while paused
    CHECK(received < total);
    while (!ended) {
        std::size_t before = received;
        current->resume_body();
        REQUIRE(run_until(h.loop, [&] { return received > before || ended; }));
    }
    CHECK(received == total);
    REQUIRE(run_until(h.loop, [&] { return peer.got->find(std::to_string(total)) != std::string::npos; }));
    peer.transport->close();
}

namespace {
struct Echo : bulb::Protocol {
    bulb::Transport* t = nullptr;
    void connection_made(bulb::Transport& transport) override { t = &transport; }
    void data_received(bulb::ByteView data) override { t->write(data); }
};
}  // namespace

TEST_CASE("Upgrade: after 101 the connection belongs to the new protocol, bytes sent with the request included") {
    Harness h;
    h.start([&](Exchange& ex) {
        ex.write_head(101, {{"Upgrade", "echo"}, {"Connection", "Upgrade"}});
        ex.accept_upgrade(std::make_unique<Echo>());
    });
    auto peer = h.connect();
    peer.transport->write("GET /e HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly bytes");
    REQUIRE(run_until(h.loop, [&] { return peer.got->find("early bytes") != std::string::npos; }));
    CHECK(peer.got->rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0);
    peer.transport->write("GET / HTTP/1.1\r\n");  // not HTTP any more: echoed
    REQUIRE(run_until(h.loop, [&] { return peer.got->find("GET / HTTP/1.1") != std::string::npos; }));
    peer.transport->close();
    REQUIRE(run_until(h.loop, [&] { return *peer.lost; }));
}

TEST_CASE("a refused Upgrade leaves the connection in HTTP") {
    Harness h;
    h.start([&](Exchange& ex) { ex.respond(200, "no upgrade"); });
    auto peer = h.connect();
    peer.transport->write("GET /e HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n"
                          "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(run_until(h.loop, [&] { return count(*peer.got, "no upgrade") == 2; }));
    peer.transport->close();
}

TEST_CASE("slowloris: a head not complete within header_timeout gets 408 and the connection closes") {
    Harness h;
    h.start([&](Exchange& ex) { ex.respond(200, "ok"); },
            {.header_timeout = std::chrono::milliseconds(150), .idle_timeout = std::chrono::seconds(30)});
    auto peer = h.connect();
    peer.transport->write("GET / HTTP/1.1\r\nHo");
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) {  // trickling bytes does not extend the deadline
        h.loop.run_until_complete(bulb::Future<void>([&] {
            bulb::Future<void> f(h.loop);
            h.loop.call_later(std::chrono::milliseconds(40), [f]() mutable { f.set_result(); });
            return f;
        }()));
        if (!*peer.lost) peer.transport->write("x");
    }
    REQUIRE(run_until(h.loop, [&] { return *peer.lost; }));
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
    CHECK(peer.got->rfind("HTTP/1.1 408 ", 0) == 0);
}

TEST_CASE("an idle keep-alive connection is closed after idle_timeout") {
    Harness h;
    h.start([&](Exchange& ex) { ex.respond(200, "ok"); },
            {.header_timeout = std::chrono::seconds(30), .idle_timeout = std::chrono::milliseconds(150)});
    auto peer = h.connect();
    peer.transport->write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(run_until(h.loop, [&] { return *peer.lost; }));
    CHECK(count(*peer.got, "HTTP/1.1 200") == 1);
}

TEST_CASE("max_connections: the connection beyond the limit gets 503 and is closed") {
    Harness h;
    h.start([&](Exchange& ex) { ex.respond(200, "ok"); }, {.max_connections = 1});
    auto first = h.connect();
    REQUIRE(run_until(h.loop, [&] { return h.server->connection_count() == 1; }));
    auto second = h.connect();
    REQUIRE(run_until(h.loop, [&] { return *second.lost; }));
    CHECK(second.got->rfind("HTTP/1.1 503 ", 0) == 0);
    first.transport->write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(run_until(h.loop, [&] { return count(*first.got, "HTTP/1.1 200") == 1; }));
    first.transport->close();
}

TEST_CASE("graceful shutdown: idle connections close now, a request in progress is answered with Connection: close") {
    Harness h;
    h.start([&](Exchange& ex) {
        std::shared_ptr<Exchange> keep = ex.shared_from_this();
        h.loop.call_later(std::chrono::milliseconds(100), [keep] { keep->respond(200, "late"); });
    });
    auto idle = h.connect();
    auto busy = h.connect();
    busy.transport->write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(run_until(h.loop, [&] { return h.server->connection_count() == 2; }));
    for (int i = 0; i < 5; ++i) run_once(h.loop);
    auto done = h.server->shutdown(std::chrono::seconds(2));
    REQUIRE(run_until(h.loop, [&] { return *idle.lost; }, std::chrono::milliseconds(80)));
    CHECK(!*busy.lost);
    REQUIRE(run_until(h.loop, [&] { return done.done(); }));
    CHECK(busy.got->find("Connection: close") != std::string::npos);
    CHECK(busy.got->find("late") != std::string::npos);
    REQUIRE(run_until(h.loop, [&] { return *busy.lost; }));
    h.server.reset();
}

TEST_CASE("a throwing handler gets 500 and a closed connection; the loop reports it and goes on") {
    Harness h;
    RecordingHandler reports(h.loop);
    h.start([&](Exchange& ex) {
        if (ex.request().path() == "/throw") throw std::runtime_error("handler bug");
        ex.respond(200, "fine");
    });
    auto bad = h.connect();
    bad.transport->write("GET /throw HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(run_until(h.loop, [&] { return *bad.lost; }));
    CHECK(bad.got->rfind("HTTP/1.1 500 ", 0) == 0);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].what.find("handler bug") != std::string::npos);
    auto good = h.connect();
    good.transport->write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(run_until(h.loop, [&] { return good.got->find("fine") != std::string::npos; }));
    good.transport->close();
}
