// SPDX-License-Identifier: MIT
// http::Client against http::Server on 127.0.0.1: keep-alive reuse, bodies both ways (chunked
// answers included), HEAD, redirects not followed, a pooled connection the server closed,
// timeouts, bad URLs.
#include "../support/loop_fixture.hpp"

#include <bulb/coro/run.hpp>
#include <bulb/coro/sleep.hpp>
#include <bulb/http/coro/client.hpp>
#include <bulb/http/coro/server.hpp>

#include <doctest/doctest.h>

namespace {

using namespace bulb_test;
using bulb::Task;
using bulb::http::Client;
using bulb::http::ClientResponse;
using bulb::http::Exchange;

struct Counts {
    int connections = 0;
    int requests = 0;
};

}  // namespace

TEST_CASE("http::Client: keep-alive pool, bodies, HEAD, redirects returned as they are, a closed pooled connection") {
    bulb::EventLoop loop;
    Counts counts;
    std::string last_peer;
    auto server = loop.run_until_complete(bulb::http::Server::create(
        loop,
        [&](Exchange& ex) {
            ++counts.requests;
            std::string peer = ex.transport().get_peername().to_string();
            if (peer != last_peer) ++counts.connections;
            last_peer = peer;
            std::string path(ex.request().path());
            if (path == "/hello") return ex.respond(200, "Hello, world!");
            if (path == "/redirect") return ex.respond(302, "", "", {{"Location", "/hello"}});
            if (path == "/chunked") {
                ex.write_head(200);
                ex.write("part one, ");
                ex.write("part two");
                return ex.finish();
            }
            if (path == "/close") return ex.respond(200, "bye", "text/plain", {{"Connection", "close"}});
            if (path == "/echo") {
                auto body = std::make_shared<std::string>();
                auto keep = ex.shared_from_this();
                ex.on_body([body](std::string_view p) { *body += p; });
                ex.on_end([body, keep](const bulb::http::Fields&) { keep->respond(200, "echo:" + *body); });
                return;
            }
            ex.respond(404, "no");
        },
        "127.0.0.1", 0));
    std::string base = "http://127.0.0.1:" + std::to_string(server.sockets().at(0).port());
    Client client;
    auto run = [&]() -> Task<void> {
        ClientResponse a = co_await client.get(base + "/hello");
        CHECK(a.status() == 200);
        CHECK(a.body == "Hello, world!");
        CHECK(client.idle_connections() == 1);
        ClientResponse b = co_await client.get(base + "/chunked");
        CHECK(b.body == "part one, part two");
        std::string post = "POST";
        std::string url = base + "/echo";
        std::vector<bulb::http::Header> headers{{"X-Test", "1"}};
        std::string body = "payload";
        ClientResponse c = co_await client.request(post, url, headers, body);
        CHECK(c.body == "echo:payload");
        std::string head = "HEAD";
        std::string hello = base + "/hello";
        ClientResponse d = co_await client.request(head, hello);
        CHECK(d.status() == 200);
        CHECK(d.body.empty());
        CHECK(d.head.fields.get("content-length") == "13");
        ClientResponse e = co_await client.get(base + "/redirect");
        CHECK(e.status() == 302);
        CHECK(e.head.fields.get("location") == "/hello");
        CHECK(counts.connections == 1);  // all of them over one kept-alive connection
        ClientResponse f = co_await client.get(base + "/close");
        CHECK(f.body == "bye");
        CHECK(client.idle_connections() == 0);  // the server said close: not pooled
        co_await client.get(base + "/hello");
        CHECK(counts.connections == 2);
    };
    loop.run_until_complete(bulb::create_task(loop, run()));
    CHECK(counts.requests == 7);

    // A server that closes idle connections after 50 ms: the pooled connection is found
    // closed (or fails and is retried once) and the next GET still succeeds.
    auto server2 = loop.run_until_complete(bulb::http::Server::create(
        loop, [&](Exchange& ex) { ex.respond(200, "again"); }, "127.0.0.1", 0,
        bulb::http::ServerSettings{.idle_timeout = std::chrono::milliseconds(50)}));
    std::string base2 = "http://127.0.0.1:" + std::to_string(server2.sockets().at(0).port());
    auto again = [&]() -> Task<void> {
        ClientResponse first = co_await client.get(base2 + "/");
        CHECK(client.idle_connections() == 2);
        co_await bulb::sleep(std::chrono::milliseconds(150));
        ClientResponse second = co_await client.get(base2 + "/");
        CHECK(second.body == "again");
    };
    loop.run_until_complete(bulb::create_task(loop, again()));
    client.close();
    loop.run_until_complete(server2.shutdown(std::chrono::milliseconds(100)));
    loop.run_until_complete(server.shutdown(std::chrono::milliseconds(100)));
    for (int i = 0; i < 5; ++i) run_once(loop);
    loop.close();
}

TEST_CASE("http::Client: timeouts, bad URLs, a connection closed before the response") {
    bulb::EventLoop loop;
    std::vector<std::shared_ptr<Exchange>> never;
    auto server = loop.run_until_complete(bulb::http::Server::create(
        loop,
        [&](Exchange& ex) {
            if (ex.request().path() == "/drop") return ex.transport().abort();
            never.push_back(ex.shared_from_this());  // never answered
        },
        "127.0.0.1", 0));
    std::string base = "http://127.0.0.1:" + std::to_string(server.sockets().at(0).port());
    Client client(bulb::http::ClientOptions{.timeout = std::chrono::milliseconds(100)});
    auto run = [&]() -> Task<void> {
        bool timed_out = false;
        try {
            co_await client.get(base + "/never");
        } catch (const bulb::TimeoutError&) {
            timed_out = true;
        }
        CHECK(timed_out);
        bool dropped = false;
        try {
            co_await client.get(base + "/drop");
        } catch (const bulb::Error&) {
            dropped = true;
        }
        CHECK(dropped);
        for (std::string bad : {"ftp://x/", "http://", "http://h:99999/", "http://[::1/", "http://h/a b"}) {
            bool invalid = false;
            try {
                co_await client.get(bad);
            } catch (const std::invalid_argument&) {
                invalid = true;
            }
            CHECK(invalid);
        }
    };
    loop.run_until_complete(bulb::create_task(loop, run()));
    never.clear();
    client.close();
    loop.run_until_complete(server.shutdown(std::chrono::milliseconds(100)));
    for (int i = 0; i < 5; ++i) run_once(loop);
    loop.close();
}
