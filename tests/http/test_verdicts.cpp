// SPDX-License-Identifier: MIT
// The differential table: requests, valid ones and smuggling attempts, with the verdict each
// must get (the status of the error, or how many requests are parsed). Every entry is also
// parsed under every cutting of its bytes (the any-split property), with the same result.
#include "parse_support.hpp"

#include <doctest/doctest.h>

namespace {

using bulb::http::ParserOptions;
using bulb::http::RequestParser;
using bulb_test::check_any_split;

struct Verdict {
    const char* name;
    std::string bytes;
    int status;        // 0: accepted; otherwise the status of the rejection
    int requests = 1;  // heads parsed before the verdict
};

const ParserOptions small_limits{.max_request_line = 64, .max_header_bytes = 128, .max_header_count = 5,
                                 .max_body_size = 32, .max_chunk_line = 40};

std::vector<Verdict> table() {
    return {
        // Valid requests.
        {"simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0},
        {"HTTP/1.0 without Host", "GET /x HTTP/1.0\r\n\r\n", 0},
        {"pipelined three", "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n", 0, 3},
        {"content-length body then next", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 2},
        {"chunked with extensions and trailers",
         "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c=\"q\\\"x\"\r\nhello\r\n3 ; d\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", 0},
        {"chunked upper-case hex", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", 0},
        {"leading empty line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0},
        {"absolute-form", "GET http://a/x?y HTTP/1.1\r\nHost: a\r\n\r\n", 0},
        {"CONNECT authority-form", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 0},
        {"OPTIONS asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 0},
        {"Expect 100-continue", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok", 0},
        {"obs-text in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n", 0},
        {"HTTP/1.2 read as 1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 0},
        {"close stops parsing", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 0},
        {"HTTP/1.0 closes after", "GET / HTTP/1.0\r\n\r\nGARBAGE\r\n\r\n", 0},
        // Smuggling attempts and bad framing: 400.
        {"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, 0},
        {"TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400, 0},
        {"duplicate CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400, 0},
        {"differing CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nhello", 400, 0},
        {"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", 400, 0},
        {"CL sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", 400, 0},
        {"CL negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, 0},
        {"CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello", 400, 0},
        {"CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400, 0},
        {"CL overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400, 0},
        {"TE last not chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400, 0},
        {"TE gzip only", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400, 0},
        {"TE twice chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, 0},
        {"TE chunked then other line", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n", 400, 0},
        {"TE xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400, 0},
        {"TE chunked with a parameter", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", 400, 0},
        {"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, 0},
        {"TE empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400, 0},
        {"TE space before colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400, 0},
        {"TE tab before colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n", 400, 0},
        {"TE obs-fold", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400, 0},
        {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400, 0},
        {"bare LF ends the head", "GET / HTTP/1.1\nHost: a\n\n", 400, 0},
        {"bare LF in a field line", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400, 0},
        {"bare CR in the request line", "GET / HTTP/1.1\rX\r\nHost: a\r\n\r\n", 400, 0},
        {"bare CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, 0},
        {"NUL in a value", std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 35), 400, 0},
        {"DEL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400, 0},
        {"empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400, 0},
        {"space inside a field name", "GET / HTTP/1.1\r\nHost: a\r\nX Y: x\r\n\r\n", 400, 0},
        {"field line without colon", "GET / HTTP/1.1\r\nHost: a\r\nXY\r\n\r\n", 400, 0},
        {"invalid name byte", "GET / HTTP/1.1\r\nHost: a\r\nX\"Y: x\r\n\r\n", 400, 0},
        {"no Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400, 0},
        {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, 0},
        {"Host with a comma", "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", 400, 0},
        {"chunk size overflow", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n", 400, 1},
        {"chunk size junk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n", 400, 1},
        {"chunk size 0x prefix", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400, 1},
        {"chunk size negative", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", 400, 1},
        {"chunk size with trailing space", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", 400, 1},
        {"chunk size missing", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n", 400, 1},
        {"chunk size bare LF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400, 1},
        {"chunk data too long", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", 400, 1},
        {"chunk data bare LF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", 400, 1},
        {"chunk extension junk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n", 400, 1},
        {"trailer obs-fold", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n", 400, 1},
        {"double space in request line", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0},
        {"space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, 0},
        {"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400, 0},
        {"method with a bad byte", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0},
        {"target with a control byte", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0},
        {"target neither form", "GET x HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0},
        {"asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0},
        {"CONNECT with a path", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0},
        {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, 0},
        {"HTTP/0.9 line", "GET /\r\n\r\n", 400, 0},
        {"gzip, chunked not implemented", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, 0},
        {"unknown expectation", "GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417, 0},
        // Limits (small_limits).
        {"request line too long", "GET /" + std::string(70, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414, 0},
        {"header section too large", "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(130, 'b') + "\r\n\r\n", 431, 0},
        {"long request line ending in a bare LF", "GET /" + std::string(70, 'a') + " HTTP/1.1\nHost: a\r\n\r\n", 414, 0},
        {"long field line ending in a bare LF", "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(130, 'b') + "\n\r\n", 431, 0},
        {"too many fields", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", 431, 0},
        {"body too large", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 33\r\n\r\n", 413, 0},
        {"chunked body too large", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n11\r\n", 413, 1},
        {"chunk line too long", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;" + std::string(50, 'x') + "\r\n", 400, 1},
        // Truncated at EOF: an error the server answers by closing (400 with Kind::truncated).
        {"EOF inside a head", "GET / HTTP/1.1\r\nHost: a\r\n", 400, 0},
        {"EOF inside a body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel", 400, 1},
    };
}

}  // namespace

TEST_CASE("verdict table: valid requests pass, smuggling attempts get their status, under any split") {
    for (const Verdict& v : table()) {
        INFO("case: ", std::string(v.name));
        auto log = check_any_split(RequestParser(small_limits), v.bytes, 10);
        int heads = 0;
        for (const auto& line : log) heads += line.rfind("HEAD ", 0) == 0 ? 1 : 0;
        std::string last = log.empty() ? std::string() : log.back();
        if (v.status == 0) {
            CHECK(last.rfind("ERROR", 0) != 0);
        } else {
            CHECK(last == "ERROR " + std::to_string(v.status));
        }
        CHECK(heads == v.requests);
    }
}

TEST_CASE("verdict table: the bytes after Connection: close and after an error are never parsed") {
    auto log = check_any_split(RequestParser(),
                               "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(log.size() == 3);
    CHECK(log[0].find("GET / 1.1 ka=0") != std::string::npos);
    auto bad = check_any_split(RequestParser(),
                               "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(bad == std::vector<std::string>{"ERROR 400"});
}
