// SPDX-License-Identifier: MIT
// The HTTP/1.1 parsers event by event: heads and their fields, framing, pipelining, upgrades,
// responses (HEAD, 1xx, 204/304, read until close, 101), and the encoders' round trip.
#include "parse_support.hpp"

#include <doctest/doctest.h>

#include <vector>

namespace {

using namespace bulb::http;
using bulb::protocols::FrameBuffer;
using bulb_test::check_any_split;

template <class Parser>
std::vector<typename Parser::Frame> decode_all(Parser& p, std::string_view bytes) {
    FrameBuffer in;
    in.append(bytes);
    std::vector<typename Parser::Frame> events;
    while (auto e = p.decode(in)) events.push_back(std::move(*e));
    return events;
}

}  // namespace

TEST_CASE("a request head: line, target forms, fields with whitespace trimmed, views valid after moves") {
    RequestParser p;
    auto events = decode_all(p, "GET /a/b?x=1&y HTTP/1.1\r\nHost: example\r\nX-Long:   v a l  \t\r\nEmpty:\r\n\r\n");
    REQUIRE(events.size() == 2);
    std::vector<RequestHead> heads;
    heads.push_back(std::move(std::get<RequestHead>(events[0])));
    for (int i = 0; i < 20; ++i) heads.emplace_back();  // reallocations move the head around
    const RequestHead& h = heads[0];
    CHECK(h.method == "GET");
    CHECK(h.target == "/a/b?x=1&y");
    CHECK(h.path() == "/a/b");
    CHECK(h.query() == "x=1&y");
    CHECK(h.form == TargetForm::origin);
    CHECK(h.version_minor == 1);
    CHECK(h.fields.size() == 3);
    CHECK(h.fields.get("host") == "example");
    CHECK(h.fields.get("x-long") == "v a l");
    CHECK(h.fields.get("EMPTY") == "");
    CHECK(!h.fields.get("missing"));
    CHECK(h.framing.body == BodyFraming::none);
    CHECK(h.framing.keep_alive);
    CHECK(std::holds_alternative<MessageEnd>(events[1]));
}

TEST_CASE("keep-alive rules: HTTP/1.1 default, Connection: close, HTTP/1.0 with and without keep-alive") {
    auto keep = [](std::string_view bytes) {
        RequestParser p;
        auto events = decode_all(p, bytes);
        return std::get<RequestHead>(events.at(0)).framing.keep_alive;
    };
    CHECK(keep("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    CHECK(!keep("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n"));
    CHECK(!keep("GET / HTTP/1.0\r\n\r\n"));
    CHECK(keep("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
}

TEST_CASE("a chunked body: parts, extensions ignored, trailers in MessageEnd, any split") {
    std::string req = "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\nX: y\r\n\r\n";
    auto log = check_any_split(RequestParser(), req);
    REQUIRE(log.size() == 3);
    CHECK(log[1] == "BODY Wikipedia in\r\n\r\nchunks.");
    CHECK(log[2] == "END [Expires=never] [X=y]");
}

TEST_CASE("Expect: 100-continue is reported for HTTP/1.1 and ignored for HTTP/1.0") {
    RequestParser p;
    auto e = decode_all(p, "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n");
    CHECK(std::get<RequestHead>(e.at(0)).framing.expect_continue);
    CHECK(e.size() == 1);  // the body has not come yet: no event until it does
    RequestParser p10;
    auto e10 = decode_all(p10, "PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n");
    CHECK(!std::get<RequestHead>(e10.at(0)).framing.expect_continue);
}

TEST_CASE("Upgrade stops the parser until the answer: accepted, the rest is tunnel data; refused, the next request") {
    std::string bytes = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                        "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
    {
        RequestParser p;
        FrameBuffer in;
        in.append(bytes);
        auto head = p.decode(in);
        CHECK(std::get<RequestHead>(*head).framing.upgrade);
        CHECK(std::holds_alternative<MessageEnd>(*p.decode(in)));
        CHECK(p.upgrade_pending());
        CHECK(!p.decode(in));  // stopped: nothing more is parsed
        p.accept_upgrade();
        auto t = p.decode(in);
        REQUIRE(t);
        CHECK(std::get<TunnelData>(*t).data == "GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
    }
    {
        RequestParser p;
        FrameBuffer in;
        in.append(bytes);
        p.decode(in);
        p.decode(in);
        p.refuse_upgrade();
        auto next = p.decode(in);
        CHECK(std::get<RequestHead>(*next).target == "/next");
    }
    RequestParser c;
    auto e = decode_all(c, "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n");
    CHECK(std::get<RequestHead>(e.at(0)).form == TargetForm::authority);
    CHECK(c.upgrade_pending());
}

TEST_CASE("error messages name what failed and the limit") {
    RequestParser p(ParserOptions{.max_header_bytes = 100});
    FrameBuffer in;
    in.append("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(200, 'x'));
    try {
        p.decode(in);
        FAIL("no error");
    } catch (const ParseError& e) {
        CHECK(e.status() == 431);
        CHECK(std::string(e.what()).find("max_header_bytes (100)") != std::string::npos);
        CHECK(e.kind() == bulb::protocols::FrameError::Kind::limit_exceeded);
    }
}

TEST_CASE("responses: content-length, chunked, HEAD, 204/304, 1xx, read until close, any split") {
    ResponseParser p;
    p.push_request_method("GET");
    p.push_request_method("HEAD");
    p.push_request_method("GET");
    p.push_request_method("GET");
    p.push_request_method("GET");
    std::string bytes = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
                        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"  // HEAD: no body
                        "HTTP/1.1 100 Continue\r\n\r\n"
                        "HTTP/1.1 204 No Content\r\n\r\n"
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
                        "HTTP/1.0 200\r\n\r\nto the end";
    auto log = check_any_split(p, bytes);
    INFO(bulb_test::join(log));
    REQUIRE(log.size() == 18);
    CHECK(log[0] == "HEAD 200 OK 1.1 ka=1 [Content-Length=3]");
    CHECK(log[1] == "BODY abc");
    CHECK(log[4] == "BODY ");
    CHECK(log[6] == "HEAD 100 Continue 1.1 ka=1");
    CHECK(log[13] == "BODY hi");
    CHECK(log[15] == "HEAD 200  1.0 ka=0");
    CHECK(log[16] == "BODY to the end");
}

TEST_CASE("responses: 101 and CONNECT 2xx turn into tunnels; bad framing is an error") {
    ResponseParser p;
    auto log = check_any_split(p, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello");
    REQUIRE(log.size() >= 4);
    CHECK(log[2] == "END");
    ResponseParser bad;
    auto err = check_any_split(bad, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
    CHECK(err == std::vector<std::string>{"ERROR 400"});
    auto err2 = check_any_split(ResponseParser(), "HTTP/1.1 2000 OK\r\n\r\n");
    CHECK(err2 == std::vector<std::string>{"ERROR 400"});
}

TEST_CASE("encode gives back a message that parses to the same events (requests and responses)") {
    std::string req = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n"
                      "PUT /y HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok";
    RequestParser p;
    std::string out;
    for (auto& e : decode_all(p, req)) p.encode(e, out);
    CHECK(bulb_test::parse_log(RequestParser(), out, {}) == bulb_test::parse_log(RequestParser(), req, {}));
    std::string resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n";
    ResponseParser r;
    std::string rout;
    for (auto& e : decode_all(r, resp)) r.encode(e, rout);
    CHECK(rout == resp);
}
