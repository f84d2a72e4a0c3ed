// SPDX-License-Identifier: MIT
/// @file
/// RespCodec: every RESP2/RESP3 type, limits, redis-server's request parsing (multibulk and
/// inline) with its error texts, encoding in both versions, and the any-split property.
#include "codec_support.hpp"

#include <bulb/protocols/resp_codec.hpp>

#include <cmath>

using namespace bulb::protocols;
using namespace bulb_test;
using V = RespValue;

namespace {

V decode_one(std::string_view wire, RespCodec::Options o = {}) {
    auto frames = decode_all(RespCodec(o), wire);
    REQUIRE(frames.size() == 1);
    return frames[0];
}

std::string error_of(std::string_view wire, RespCodec::Options o = {}) {
    RespCodec c(o);
    FrameBuffer b;
    b.append(wire);
    try {
        while (c.decode(b)) {
        }
        (void)c.decode_eof(b);
    } catch (const FrameError& e) {
        return e.what();
    }
    return "(no error)";
}

std::string encode(const V& v, int version) {
    RespCodec c(RespCodec::Options{.version = version});
    std::string out;
    c.encode(v, out);
    return out;
}

V with(RespType t, std::string text) {
    V v;
    v.type = t;
    v.text = std::move(text);
    return v;
}

V aggregate(RespType t, std::vector<V> e) {
    V v;
    v.type = t;
    v.elements = std::move(e);
    return v;
}

const RespCodec::Options requests{.requests = true};

}  // namespace

TEST_CASE("RESP: every RESP2 and RESP3 type decodes") {
    CHECK(decode_one("+OK\r\n") == V::simple_string("OK"));
    CHECK(decode_one("-ERR bad\r\n") == V::error("ERR bad"));
    CHECK(decode_one(":-42\r\n") == V::integer_value(-42));
    CHECK(decode_one("$5\r\nhe\r\no\r\n") == V::bulk("he\r\no"));
    CHECK(decode_one("$0\r\n\r\n") == V::bulk(""));
    CHECK(decode_one("$-1\r\n") == V::null_value());
    CHECK(decode_one("*-1\r\n") == V::null_value());
    CHECK(decode_one("*2\r\n$1\r\na\r\n:1\r\n") == V::array({V::bulk("a"), V::integer_value(1)}));
    CHECK(decode_one("_\r\n") == V::null_value());
    CHECK(decode_one("#t\r\n") == V::boolean(true));
    CHECK(decode_one("#f\r\n") == V::boolean(false));
    CHECK(decode_one(",3.25\r\n") == V::double_value(3.25));
    CHECK(decode_one(",-inf\r\n") == V::double_value(-HUGE_VAL));
    CHECK(std::isnan(decode_one(",nan\r\n").number));
    CHECK(decode_one(",1e3\r\n") == V::double_value(1000));
    CHECK(decode_one("(-3492890328409238509324850943850943825024385\r\n") ==
          with(RespType::big_number, "-3492890328409238509324850943850943825024385"));
    CHECK(decode_one("!21\r\nSYNTAX invalid syntax\r\n") == with(RespType::bulk_error, "SYNTAX invalid syntax"));
    CHECK(decode_one("=15\r\ntxt:Some string\r\n") == with(RespType::verbatim_string, "txt:Some string"));
    CHECK(decode_one("%1\r\n+k\r\n:1\r\n") == aggregate(RespType::map, {V::simple_string("k"), V::integer_value(1)}));
    CHECK(decode_one("~2\r\n:1\r\n:2\r\n") == aggregate(RespType::set, {V::integer_value(1), V::integer_value(2)}));
    CHECK(decode_one(">2\r\n+message\r\n+hi\r\n") ==
          aggregate(RespType::push, {V::simple_string("message"), V::simple_string("hi")}));
    V attributed = decode_one("|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n");
    CHECK(attributed.text == "v");
    CHECK(attributed.attributes == std::vector<V>{V::simple_string("ttl"), V::integer_value(3600)});
}

TEST_CASE("RESP: malformed values and limits name what failed") {
    CHECK(error_of("?x\r\n") == "Protocol error: unknown RESP type byte '?'");
    CHECK(error_of(":12a\r\n") == "Protocol error: invalid integer '12a'");
    CHECK(error_of(":01\r\n") == "Protocol error: invalid integer '01'");
    CHECK(error_of("$-2\r\n") == "Protocol error: invalid bulk length");
    CHECK(error_of("$3\r\nabcd\r\n") == "Protocol error: bulk string not followed by CRLF");
    CHECK(error_of("#x\r\n") == "Protocol error: invalid boolean 'x'");
    CHECK(error_of(",1.5x\r\n") == "Protocol error: invalid double '1.5x'");
    CHECK(error_of("=3\r\ntxt\r\n") == "Protocol error: verbatim string without a 3-letter format and ':'");
    CHECK(error_of("+a\rb\r\n") == "Protocol error: CR not followed by LF");
    CHECK(error_of("$?\r\n") == "Protocol error: streamed RESP3 strings are not supported");
    CHECK(error_of("$10\r\nabc") == "end of stream inside a RESP value (8 bytes left over)");
    CHECK(error_of("$11\r\nhello world\r\n", {.max_bulk_length = 10}) ==
          "Protocol error: invalid bulk length (max_bulk_length 10)");
    CHECK(error_of("*3\r\n", {.max_aggregate_length = 2}) ==
          "Protocol error: invalid multibulk length (max_aggregate_length 2)");
    CHECK(error_of("*1\r\n*1\r\n*1\r\n:1\r\n", {.max_depth = 2}) ==
          "Protocol error: aggregates nested deeper than max_depth (2)");
    CHECK(decode_one("*1\r\n*1\r\n:1\r\n", {.max_depth = 2}).elements.at(0).elements.at(0) == V::integer_value(1));
    CHECK(error_of("+" + std::string(100, 'a'), {.max_inline_length = 64}) ==
          "Protocol error: too big simple string line (max_inline_length 64)");
    // A huge count alone allocates nothing: it waits for the elements.
    RespCodec c;
    FrameBuffer b;
    b.append(std::string_view("*1048576\r\n"));
    CHECK_FALSE(c.decode(b).has_value());
}

TEST_CASE("RESP requests: multibulk and inline as redis-server reads them") {
    CHECK(decode_one("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", requests) == V::command({"GET", "k"}));
    CHECK(decode_one("PING\r\n", requests) == V::command({"PING"}));
    CHECK(decode_one("  SET  k   v \n", requests) == V::command({"SET", "k", "v"}));
    CHECK(decode_one("SET k \"hello world\\n\\x41\"\r\n", requests) == V::command({"SET", "k", "hello world\nA"}));
    CHECK(decode_one("SET k 'it\\'s' \"\"\r\n", requests) == V::command({"SET", "k", "it's", ""}));
    // Empty requests are skipped: blank lines, "*0", "*-1".
    CHECK(decode_all(RespCodec(requests), "\r\n\n*0\r\n*-1\r\nPING\r\n") == std::vector<V>{V::command({"PING"})});
    CHECK(error_of("SET k \"abc\r\n", requests) == "Protocol error: unbalanced quotes in request");
    CHECK(error_of("SET k \"abc\"x\r\n", requests) == "Protocol error: unbalanced quotes in request");
    CHECK(error_of("*1\r\n:1\r\n", requests) == "Protocol error: expected '$', got ':'");
    CHECK(error_of("*x\r\n", requests) == "Protocol error: invalid multibulk length");
    CHECK(error_of("*3000000000\r\n", requests) == "Protocol error: invalid multibulk length");
    CHECK(error_of("*1\r\n$-1\r\n", requests) == "Protocol error: invalid bulk length");
    CHECK(error_of(std::string(70000, 'a'), requests) ==
          "Protocol error: too big inline request (max_inline_length 65536)");
    CHECK(error_of("*" + std::string(70000, '1'), requests) ==
          "Protocol error: too big mbulk count string (max_inline_length 65536)");
    CHECK(error_of("*1\r\n$" + std::string(70000, '1'), requests) ==
          "Protocol error: too big bulk count string (max_inline_length 65536)");
}

TEST_CASE("RESP: encoding in RESP3 and RESP2") {
    V map = aggregate(RespType::map, {V::bulk("a"), V::boolean(true)});
    CHECK(encode(map, 3) == "%1\r\n$1\r\na\r\n#t\r\n");
    CHECK(encode(map, 2) == "*2\r\n$1\r\na\r\n:1\r\n");
    CHECK(encode(V::null_value(), 3) == "_\r\n");
    CHECK(encode(V::null_value(), 2) == "$-1\r\n");
    CHECK(encode(V::double_value(1.5), 3) == ",1.5\r\n");
    CHECK(encode(V::double_value(1.5), 2) == "$3\r\n1.5\r\n");
    CHECK(encode(with(RespType::verbatim_string, "txt:hi"), 3) == "=6\r\ntxt:hi\r\n");
    CHECK(encode(with(RespType::verbatim_string, "txt:hi"), 2) == "$2\r\nhi\r\n");
    CHECK(encode(with(RespType::bulk_error, "ERR a\nb"), 2) == "-ERR a b\r\n");
    CHECK(encode(aggregate(RespType::set, {V::integer_value(7)}), 3) == "~1\r\n:7\r\n");
    CHECK_THROWS_AS(encode(V::simple_string("a\r\nb"), 2), std::invalid_argument);
    RespCodec c;
    CHECK_THROWS_AS(c.set_version(4), std::invalid_argument);
    std::string out;
    resp::append_map_header(out, 2, 2);
    resp::append_null(out, 3);
    CHECK(out == "*4\r\n_\r\n");
}

namespace {

V random_value(std::mt19937& rng, int depth) {
    std::uniform_int_distribution<int> pick(0, depth > 0 ? 13 : 9);
    switch (pick(rng)) {
    case 0: return V::simple_string("simple " + std::to_string(rng() % 1000));
    case 1: return V::error("ERR number " + std::to_string(rng() % 1000));
    case 2: return V::integer_value(static_cast<std::int64_t>(rng()) - (1ll << 31));
    case 3: return V::bulk(random_bytes(rng, rng() % 8 == 0 ? 5000 : 30));
    case 4: return V::null_value();
    case 5: return V::boolean(rng() % 2);
    case 6: return V::double_value(std::ldexp(static_cast<double>(rng()), static_cast<int>(rng() % 80) - 40));
    case 7: return with(RespType::big_number, "-" + std::to_string(rng()) + std::to_string(rng()));
    case 8: return with(RespType::bulk_error, "ERR " + random_bytes(rng, 20));
    case 9: return with(RespType::verbatim_string, "txt:" + random_bytes(rng, 20));
    default: {
        static const RespType types[] = {RespType::array, RespType::map, RespType::set, RespType::push};
        V v = aggregate(types[rng() % 4], {});
        std::size_t n = rng() % 5;
        if (v.type == RespType::map) n *= 2;
        for (std::size_t i = 0; i < n; ++i) v.elements.push_back(random_value(rng, depth - 1));
        if (rng() % 5 == 0) v.attributes = {V::simple_string("key"), random_value(rng, 0)};
        return v;
    }
    }
}

}  // namespace

TEST_CASE("RESP: any split gives the same values (property, RESP3 round trip and RESP2)") {
    std::mt19937 rng(4);
    for (int round = 0; round < 30; ++round) {
        std::vector<V> values;
        std::string resp3, resp2;
        RespCodec v3(RespCodec::Options{.version = 3}), v2;
        for (int i = 0; i < 12; ++i) {
            values.push_back(random_value(rng, 3));
            v3.encode(values.back(), resp3);
            v2.encode(values.back(), resp2);
        }
        check_any_split(RespCodec(), resp3, values, rng, 15);  // RESP3 keeps every value as it was
        check_any_split(RespCodec(), resp2, decode_all(RespCodec(), resp2), rng, 15);
    }
}

TEST_CASE("RESP requests: any split gives the same commands (property, multibulk and inline)") {
    std::mt19937 rng(5);
    std::vector<V> commands;
    std::string stream;
    for (int i = 0; i < 200; ++i) {
        if (i % 3 == 0) {
            std::string word = "w" + std::to_string(i);
            stream += "SET " + word + " \"a b\\x41\"\r\n";
            commands.push_back(V::command({"SET", word, "a bA"}));
        } else {
            V c = V::command({"SET", random_bytes(rng, 40), random_bytes(rng, i % 10 == 0 ? 20000 : 100)});
            RespCodec().encode(c, stream);
            commands.push_back(c);
        }
    }
    check_any_split(RespCodec(requests), stream, commands, rng, 20);
}

TEST_CASE("RESP: a long chain of attributes neither recurses nor passes its limit unnoticed") {
    std::string chain;
    for (int i = 0; i < 100000; ++i) chain += "|1\r\n+k\r\n:1\r\n";
    CHECK(error_of(chain + "+v\r\n", {.max_aggregate_length = 1000}) ==
          "Protocol error: too many attributes (max_aggregate_length 1000)");
    std::string empty_chain;
    for (int i = 0; i < 100000; ++i) empty_chain += "|0\r\n";
    CHECK(decode_one(empty_chain + "+v\r\n") == V::simple_string("v"));
}
