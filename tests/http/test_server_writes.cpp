// SPDX-License-Identifier: MIT
// http::Server's write path over 127.0.0.1: an answer given from inside on_body (the callback
// must survive its own exchange finishing), pipelined answers gathered, the Date field, and the
// response head ordered before a sendfile body.
#include "../support/loop_fixture.hpp"

#include "parse_support.hpp"

#include <bulb/http/server.hpp>

#include <doctest/doctest.h>

#include <memory>
#include <string>

namespace {

using namespace bulb_test;
using bulb::http::Exchange;

struct Client : bulb::Protocol {
    std::shared_ptr<std::string> got = std::make_shared<std::string>();
    std::shared_ptr<bool> lost = std::make_shared<bool>(false);
    std::shared_ptr<std::vector<std::size_t>> reads = std::make_shared<std::vector<std::size_t>>();
    void data_received(bulb::ByteView data) override {
        got->append(bulb::as_string_view(data));
        reads->push_back(data.size());
    }
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
        std::shared_ptr<std::vector<std::size_t>> reads;
    };
    Peer connect() {
        auto client = std::make_unique<Client>();
        Peer p{nullptr, client->got, client->lost, client->reads};
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

TEST_CASE("answering from inside on_body: the running callback is not destroyed under itself") {
    // The response finishes inside on_body; the server used to drop on_body (destroying the
    // running lambda and its captures) right there. The lambda uses its captures afterwards:
    // under ASan that was a heap-use-after-free.
    Harness h;
    int calls = 0;
    std::string after;
    h.start([&](Exchange& ex) {
        if (ex.request().path() != "/early") return ex.respond(200, "next");
        auto tag = std::make_shared<std::string>("captured");
        ex.on_body([&, keep = ex.shared_from_this(), tag](std::string_view) {
            ++calls;
            keep->respond(413, "too large\n");
            after = *tag + " " + std::to_string(keep->finished());  // the captures must still be alive
        });
    });
    auto peer = h.connect();
    // The body arrives in two writes: the second piece must be read and dropped, not delivered.
    peer.transport->write("POST /early HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabcde");
    REQUIRE(run_until(h.loop, [&] { return count(*peer.got, "HTTP/1.1 413") == 1; }));
    peer.transport->write("fghij");
    peer.transport->write("GET /after HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(run_until(h.loop, [&] { return peer.got->find("next") != std::string::npos; }));
    CHECK(calls == 1);
    CHECK(after == "captured 1");
    CHECK(!*peer.lost);
    peer.transport->close();
}

TEST_CASE("on_body replaced from inside itself: the new callback gets the following pieces") {
    Harness h;
    std::string first, second;
    std::shared_ptr<Exchange> current;
    h.start([&](Exchange& ex) {
        current = ex.shared_from_this();
        auto tag = std::make_shared<std::string>("1:");
        ex.on_body([&, tag](std::string_view piece) {
            current->on_body([&](std::string_view rest) { second += rest; });
            first = *tag + std::string(piece);  // the replaced lambda is still running here
        });
        ex.on_end([&](const bulb::http::Fields&) { current->respond(200, first + "|" + second); });
    });
    auto peer = h.connect();
    peer.transport->write("POST /r HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nabc");
    REQUIRE(run_until(h.loop, [&] { return !first.empty(); }));
    peer.transport->write("def");
    REQUIRE(run_until(h.loop, [&] { return peer.got->find("1:abc|def") != std::string::npos; }));
    current.reset();
    peer.transport->close();
}

TEST_CASE("pipelined answers given inside the read leave in one write") {
    Harness h;
    h.start([&](Exchange& ex) { ex.respond(200, std::string(ex.request().path())); });
    auto peer = h.connect();
    std::string batch;
    for (int i = 0; i < 5; ++i) batch += "GET /r" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n";
    peer.transport->write(batch);
    REQUIRE(run_until(h.loop, [&] { return count(*peer.got, "HTTP/1.1 200") == 5; }));
    // One send of the five answers: the first read has them all (five sends would arrive as
    // several reads whenever the client wakes up between them).
    REQUIRE(!peer.reads->empty());
    CHECK(peer.reads->front() == peer.got->size());
    CHECK(peer.got->find("/r0") < peer.got->find("/r4"));
    peer.transport->close();
}

TEST_CASE("responses carry a Date field (IMF-fixdate) unless the handler gives one") {
    Harness h;
    h.start([&](Exchange& ex) {
        if (ex.request().path() == "/own") return ex.respond(200, "own", "text/plain", {{"Date", "mine"}});
        ex.respond(200, "ok");
    });
    auto peer = h.connect();
    peer.transport->write("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /own HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(run_until(h.loop, [&] { return count(*peer.got, "HTTP/1.1 200") == 2; }));
    std::string first = peer.got->substr(0, peer.got->find("\r\n\r\n"));
    std::size_t at = first.find("\r\nDate: ");
    REQUIRE(at != std::string::npos);
    std::string date = first.substr(at + 8, first.find("\r\n", at + 2) - at - 8);
    CHECK(date.size() == 29);  // "Sun, 06 Nov 1994 08:49:37 GMT"
    std::tm tm{};
    const char* end = ::strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    CHECK((end != nullptr && *end == '\0'));
    std::string second = peer.got->substr(peer.got->find("HTTP/1.1 200", 1));
    CHECK(count(second, "Date:") == 1);
    CHECK(second.find("Date: mine\r\n") != std::string::npos);
    peer.transport->close();
}

TEST_CASE("a chunked answer mixing small and big pieces, inside the read and later, arrives in order") {
    Harness h;
    const std::string big(100000, 'b');
    h.start([&](Exchange& ex) {
        ex.write_head(200);
        ex.write("small1-");
        ex.write(big);
        ex.write("-small2");
        std::shared_ptr<Exchange> keep = ex.shared_from_this();
        h.loop.call_soon([keep, &big] {  // the rest outside the read: sent at once
            keep->write("-later");
            keep->write(big);
            keep->finish();
        });
    });
    auto peer = h.connect();
    peer.transport->write("GET /c HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(run_until(h.loop, [&] { return peer.got->find("\r\n0\r\n\r\n") != std::string::npos; }));
    auto log = bulb_test::parse_log(bulb::http::ResponseParser(), *peer.got, {}, false);
    REQUIRE(log.size() >= 3);
    CHECK(log[0].rfind("HEAD 200 OK 1.1", 0) == 0);
    CHECK(log[1] == "BODY small1-" + big + "-small2-later" + big);
    peer.transport->close();
}
