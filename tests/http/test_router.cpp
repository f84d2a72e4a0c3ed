// SPDX-License-Identifier: MIT
// The routers: pattern parsing and matching (captures, {rest...}), the table's 404/405 with
// Allow, then http::Router on the callback server and http::CoroRouter on the coroutine
// server over 127.0.0.1.
#include "raw_peer.hpp"
#include "../support/loop_fixture.hpp"

#include <bulb/http/coro/router.hpp>
#include <bulb/http/parser.hpp>
#include <bulb/http/router.hpp>

#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace {

using namespace bulb_test;
using bulb::http::RouteMatch;
using bulb::http::RouteParams;
using bulb::http::RoutePattern;
using bulb::http::RouteTable;

/// "id=42 rest=a/b" for a match, "-" for a miss.
std::string match(std::string_view pattern, std::string_view path) {
    RoutePattern p(pattern);
    RouteParams params;
    if (!p.match(path, params)) return "-";
    std::string out = "ok";
    for (std::size_t i = 0; i < params.size(); ++i) {
        out += ' ';
        out += params.name(i);
        out += '=';
        out += params.value(i);
    }
    return out;
}

bulb::http::RequestHead head_of(const std::string& request) {
    bulb::http::RequestParser parser;
    bulb::protocols::FrameBuffer in;
    in.append(request);
    auto event = parser.decode(in);
    REQUIRE(event);
    return std::move(std::get<bulb::http::RequestHead>(*event));
}

}  // namespace

TEST_CASE("route patterns: literals, {name} captures one non-empty segment, {name...} the rest") {
    CHECK(match("/", "/") == "ok");
    CHECK(match("/", "/a") == "-");
    CHECK(match("/hello", "/hello") == "ok");
    CHECK(match("/hello", "/hello/") == "-");
    CHECK(match("/hello", "/hell") == "-");
    CHECK(match("/hello", "/helloo") == "-");
    CHECK(match("/hello/", "/hello/") == "ok");
    CHECK(match("/users/{id}", "/users/42") == "ok id=42");
    CHECK(match("/users/{id}", "/users/") == "-");
    CHECK(match("/users/{id}", "/users") == "-");
    CHECK(match("/users/{id}", "/users/42/x") == "-");
    CHECK(match("/users/{id}", "/users/%2F") == "ok id=%2F");  // as received, not decoded
    CHECK(match("/a/{x}/b/{y}", "/a/1/b/2") == "ok x=1 y=2");
    CHECK(match("/a/{x}/b/{y}", "/a/1/c/2") == "-");
    CHECK(match("/files/{path...}", "/files/a/b/c.txt") == "ok path=a/b/c.txt");
    CHECK(match("/files/{path...}", "/files/") == "ok path=");
    CHECK(match("/files/{path...}", "/files") == "-");
    CHECK(match("/{all...}", "/x//y") == "ok all=x//y");
    CHECK(match("/a//b", "/a//b") == "ok");
    CHECK(match("/hello", "") == "-");
    CHECK(match("/hello", "hello") == "-");

    // A miss leaves what an earlier match captured.
    RouteParams params;  // its names point into the patterns: they outlive it
    RoutePattern one("/u/{id}");
    RoutePattern two("/u/{id}/{more}");
    REQUIRE(one.match("/u/7", params));
    CHECK_FALSE(two.match("/u/8/", params));
    CHECK(params.size() == 1);
    CHECK(params.at("id") == "7");
    CHECK(!params.get("nope"));
    CHECK_THROWS_WITH_AS(params.at("nope"), doctest::Contains("\"nope\""), std::out_of_range);
}

TEST_CASE("bad route patterns are refused, naming the pattern and the rule") {
    auto refused = [](std::string_view pattern, const char* why) {
        CAPTURE(pattern);
        CHECK_THROWS_WITH_AS(RoutePattern{pattern}, doctest::Contains(why), std::invalid_argument);
        std::string quoted = "\"" + std::string(pattern) + "\"";
        CHECK_THROWS_WITH_AS(RoutePattern{pattern}, doctest::Contains(quoted.c_str()), std::invalid_argument);
    };
    refused("", "start with '/'");
    refused("users", "start with '/'");
    refused("/users/{id", "whole segment");
    refused("/users/x{id}", "whole segment");
    refused("/users/{id}x", "whole segment");
    refused("/users/{}", "whole segment");
    refused("/users/{i d}", "letters, digits");
    refused("/{a}/{a}", "repeated");
    refused("/{rest...}/x", "last segment");
    RouteTable t;
    CHECK_THROWS_AS(t.add("", "/x"), std::invalid_argument);
}

TEST_CASE("route table: first match wins, GET answers HEAD, 404 vs 405 with Allow") {
    RouteTable t;
    CHECK(t.add("GET", "/users/{id}") == 0);
    CHECK(t.add("DELETE", "/users/{id}") == 1);
    CHECK(t.add("GET", "/users/me") == 2);  // after /users/{id}: never reached for GET
    CHECK(t.add("POST", "/users") == 3);
    CHECK(t.add("PUT", "/users/me") == 4);
    CHECK(t.add("HEAD", "/only-head") == 5);

    RouteMatch m = t.match("GET", "/users/42");
    CHECK(m.outcome == RouteMatch::Outcome::matched);
    CHECK(m.route == 0);
    CHECK(m.params.at("id") == "42");
    CHECK(t.match("GET", "/users/me").route == 0);
    CHECK(t.match("HEAD", "/users/42").route == 0);
    CHECK(t.match("DELETE", "/users/42").route == 1);
    CHECK(t.match("PUT", "/users/me").route == 4);
    CHECK(t.match("HEAD", "/only-head").route == 5);

    m = t.match("POST", "/users/42");
    CHECK(m.outcome == RouteMatch::Outcome::method_not_allowed);
    CHECK(m.allow == "GET, DELETE, HEAD");
    CHECK(m.params.size() == 0);
    m = t.match("POST", "/users/me");
    CHECK(m.outcome == RouteMatch::Outcome::method_not_allowed);
    CHECK(m.allow == "GET, DELETE, PUT, HEAD");
    CHECK(t.match("GET", "/only-head").allow == "HEAD");
    CHECK(t.match("get", "/users").allow == "POST");  // methods are case-sensitive
    CHECK(t.match("GET", "/nope").outcome == RouteMatch::Outcome::not_found);
    CHECK(t.match("GET", "/users/42/x").outcome == RouteMatch::Outcome::not_found);
}

TEST_CASE("routing path: origin-form path without query, absolute-form path, nothing for * and authority") {
    RouteTable t;
    t.add("GET", "/a/{x}");
    t.add("OPTIONS", "/");
    auto origin = head_of("GET /a/1?q=2 HTTP/1.1\r\nHost: h\r\n\r\n");  // the params point into it
    CHECK(t.match(origin).params.at("x") == "1");
    auto absolute = head_of("GET http://h:8080/a/2?q HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(t.match(absolute).params.at("x") == "2");
    CHECK(bulb::http::routing_path(head_of("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n")) == "/");
    CHECK(bulb::http::routing_path(head_of("GET http://h?x HTTP/1.1\r\nHost: h\r\n\r\n")) == "/");
    CHECK(t.match(head_of("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")).outcome == RouteMatch::Outcome::not_found);
    CHECK(t.match(head_of("CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n")).outcome == RouteMatch::Outcome::not_found);
}

namespace {

using bulb_http_test::connect;
using bulb_http_test::Peer;

/// Sends the requests on one connection (the last with Connection: close) and returns all
/// that came back.
std::string exchange(bulb::EventLoop& loop, std::uint16_t port, const std::string& requests) {
    Peer peer = connect(loop, port);
    peer.transport->write(requests);
    REQUIRE(run_until(loop, [&] { return *peer.lost; }));
    return *peer.got;
}

const char* requests =
    "GET /users/42 HTTP/1.1\r\nHost: a\r\n\r\n"
    "HEAD /users/7 HTTP/1.1\r\nHost: a\r\n\r\n"
    "POST /users/42 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
    "PUT /users/9 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n"
    "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n"
    "GET /files/a/b.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

/// The answers to `requests`, the same from both routers.
void check_answers(const std::string& got) {
    CAPTURE(got);
    std::size_t at = 0;
    auto next = [&](std::string_view what) {
        std::size_t found = got.find(what, at);
        CHECK_MESSAGE(found != std::string::npos, what);
        if (found != std::string::npos) at = found + what.size();
    };
    next("HTTP/1.1 200 OK\r\n");
    next("user 42");
    next("HTTP/1.1 200 OK\r\n");  // HEAD through the GET route: no body
    next("Content-Length: 6\r\n");
    next("HTTP/1.1 405 Method Not Allowed\r\n");
    next("Allow: GET, PUT, HEAD\r\n");
    next("HTTP/1.1 200 OK\r\n");
    next("put 9: body");
    next("HTTP/1.1 404 Not Found\r\n");
    next("fallback /nope");
    next("HTTP/1.1 200 OK\r\n");
    next("file a/b.txt");
    CHECK(got.find("user 7") == std::string::npos);
}

}  // namespace

TEST_CASE("http::Router on the callback server: captures, HEAD, 405 with Allow, body routes, fallback") {
    bulb::EventLoop loop;
    bulb::http::Router router;
    using bulb::http::Exchange;
    router
        .add("GET", "/users/{id}",
             [](Exchange& ex, const RouteParams& p) { ex.respond(200, "user " + std::string(p.at("id"))); })
        .add("PUT", "/users/{id}",
             [](Exchange& ex, const RouteParams& p) {
                 auto body = std::make_shared<std::string>("put " + std::string(p.at("id")) + ": ");
                 std::shared_ptr<Exchange> keep = ex.shared_from_this();
                 ex.on_body([body](std::string_view piece) { *body += piece; });
                 ex.on_end([body, keep](const bulb::http::Fields&) { keep->respond(200, *body); });
             })
        .add("GET", "/files/{path...}",
             [](Exchange& ex, const RouteParams& p) { ex.respond(200, "file " + std::string(p.at("path"))); })
        .fallback([](Exchange& ex) { ex.respond(404, "fallback " + std::string(ex.request().path())); });
    CHECK(router.table().size() == 3);
    auto server = loop.run_until_complete(bulb::http::Server::create(loop, std::move(router), "127.0.0.1", 0));
    check_answers(exchange(loop, server.sockets().at(0).port(), requests));

    // Without a fallback: 404 "not found".
    bulb::http::Router plain;
    plain.add("GET", "/x", [](Exchange& ex, const RouteParams&) { ex.respond(200, "x"); });
    auto second = loop.run_until_complete(bulb::http::Server::create(loop, std::move(plain), "127.0.0.1", 0));
    std::string got = exchange(loop, second.sockets().at(0).port(), "GET /y HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    CHECK(got.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
    CHECK(got.find("\r\n\r\nnot found\n") != std::string::npos);
    loop.run_until_complete(server.shutdown(std::chrono::milliseconds(100)));
    loop.run_until_complete(second.shutdown(std::chrono::milliseconds(100)));
    loop.close();
}

TEST_CASE("http::CoroRouter on the coroutine server: the same answers, captures kept across suspension") {
    bulb::EventLoop loop;
    bulb::http::CoroRouter router;
    using bulb::Task;
    using bulb::http::Request;
    using bulb::http::Response;
    router
        .add("GET", "/users/{id}",
             [](Request&, RouteParams p) -> Task<Response> {
                 co_return Response::text(200, "user " + std::string(p.at("id")));
             })
        .add("PUT", "/users/{id}",
             [](Request& request, RouteParams p) -> Task<Response> {
                 std::string body = co_await request.read_all();  // suspends: p lives in the frame
                 co_return Response::text(200, "put " + std::string(p.at("id")) + ": " + body);
             })
        .add("GET", "/files/{path...}",
             [](Request&, RouteParams p) -> Task<Response> {
                 co_return Response::text(200, "file " + std::string(p.at("path")));
             })
        .fallback([](Request& request) -> Task<Response> {
            co_return Response::text(404, "fallback " + std::string(request.head().path()));
        });
    auto server = loop.run_until_complete(bulb::http::serve(loop, std::move(router), "127.0.0.1", 0));
    check_answers(exchange(loop, server.sockets().at(0).port(), requests));
    loop.run_until_complete(server.shutdown(std::chrono::milliseconds(100)));
    loop.close();
}
