// SPDX-License-Identifier: MIT
/// @file
/// The line, netstring and length-prefixed codecs: byte-exact cases, limits, and the any-split
/// property (tests/protocols/codec_support.hpp).
#include "codec_support.hpp"

#include <algorithm>

#include <bulb/protocols/length_prefixed_codec.hpp>
#include <bulb/protocols/line_codec.hpp>
#include <bulb/protocols/netstring_codec.hpp>

using namespace bulb::protocols;
using namespace bulb_test;
using Lines = std::vector<std::string>;

namespace {

// Decodes with `codec`, collecting frames and error messages in order (errors as "!message").
template <class C>
Lines decode_with_errors(C& codec, const std::vector<std::string>& chunks, bool eof = true) {
    Lines out;
    FrameBuffer buffer;
    bool failed = false;
    auto drain = [&](bool at_eof) {
        while (!failed) {
            try {
                auto f = codec.decode(buffer);
                if (!f && at_eof) f = codec.decode_eof(buffer);
                if (!f) return;
                out.push_back(*f);
            } catch (const FrameError& e) {
                out.push_back(std::string("!") + e.what());
                failed = !e.recoverable();
            }
        }
    };
    for (const auto& c : chunks) {
        buffer.append(std::string_view(c));
        drain(false);
    }
    if (eof) drain(true);
    return out;
}

}  // namespace

TEST_CASE("FrameBuffer: borrow, keep, consume and append") {
    FrameBuffer b;
    std::string data = "hello world";
    b.borrow(data);
    CHECK(b.view() == "hello world");
    b.consume(6);
    b.keep();
    data.assign("XXXXXXXXXXX");  // the borrowed memory is gone
    CHECK(b.view() == "world");
    b.append(std::string_view("!"));
    CHECK(b.view() == "world!");
    b.consume(6);
    CHECK(b.empty());
    b.append(std::string_view("abc"));
    b.consume(1);
    b.append(std::string_view("d"));
    CHECK(b.view() == "bcd");
}

TEST_CASE("FrameBuffer: consume moves no bytes; compaction only when it frees as much as it moves") {
    FrameBuffer b;
    b.append(std::string(200, 'a'));
    const std::size_t cap = b.capacity();
    REQUIRE(cap >= 200);
    const char* front = b.view().data();
    b.consume(150);
    CHECK(b.view().data() == front + 150);  // an offset, not a memmove
    b.append(std::string(cap - 200, 'b'));  // fills the block exactly
    CHECK(b.capacity() == cap);
    b.append(std::string_view("c"));  // 50 live bytes move to the front of the same block
    CHECK(b.capacity() == cap);
    CHECK(b.size() == 50 + (cap - 200) + 1);
    CHECK(b.view().substr(0, 50) == std::string(50, 'a'));
    CHECK(b.view().back() == 'c');
    FrameBuffer moved(std::move(b));
    CHECK(b.empty());
    CHECK(moved.size() == 50 + (cap - 200) + 1);
}

TEST_CASE("FrameBuffer: growth goes straight to the limit once doubling would pass half of it") {
    FrameBuffer b;
    const std::size_t limit = 100000;
    b.set_growth_limit(limit);
    std::size_t copies = 0, last = 0, biggest_copy = 0;
    for (std::size_t i = 0; b.size() < limit; ++i) {
        if (b.capacity() != last) {
            if (last) ++copies, biggest_copy = std::max(biggest_copy, b.size());
            last = b.capacity();
        }
        b.append(std::string_view("0123456789"));
    }
    CHECK(b.capacity() == limit);  // not a doubled 131,072 or more
    CHECK(biggest_copy <= limit / 2);  // the last copy held at most half the limit
    CHECK(copies < 12);
    b.append(std::string_view("past"));  // past the limit: still works, by doubling
    CHECK(b.size() == limit + 4);
    CHECK(b.capacity() >= limit + 4);
    b.consume(b.size());
    CHECK(b.capacity() == 0);  // an emptied big block is freed (idle connections keep none)
}

TEST_CASE("LineCodec: \\n and \\r\\n lines, the tail at EOF, encode") {
    LineCodec c;
    CHECK(decode_with_errors(c, {"one\ntwo\r\nthr", "ee\n\nlast"}) == Lines{"one", "two", "three", "", "last"});
    std::string out;
    c.encode("hi", out);
    CHECK(out == "hi\n");
    CHECK_THROWS_AS(c.encode("a\nb", out), std::invalid_argument);
    CHECK_THROWS_AS(LineCodec(LineCodec::Options{.delimiter = ""}), std::invalid_argument);
}

TEST_CASE("LineCodec: a delimiter of several bytes split across chunks") {
    LineCodec c(LineCodec::Options{.delimiter = "\r\n", .strip_cr = false});
    CHECK(decode_with_errors(c, {"a\nb\r", "\nc\r", "\r", "\n"}) == Lines{"a\nb", "c\r"});
    LineCodec pipes(LineCodec::Options{.delimiter = "||"});
    CHECK(decode_with_errors(pipes, {"x|", "|y|z|", "|"}) == Lines{"x", "y|z"});
}

TEST_CASE("LineCodec: max_length, discard mode reports once and resumes") {
    LineCodec c(LineCodec::Options{.max_length = 4});
    // Exactly the limit passes; a \r before the \n does not count.
    CHECK(decode_with_errors(c, {"abcd\nabcd\r\n"}) == Lines{"abcd", "abcd"});
    // A complete overlong line: one error, then the next line.
    CHECK(decode_with_errors(c, {"abcdef\nok\n"}) ==
          Lines{"!line of 6 bytes exceeds max_length (4)", "ok"});
    // An overlong line arriving in pieces: reported once, as soon as it is known, then skipped.
    LineCodec d(LineCodec::Options{.max_length = 4});
    CHECK(decode_with_errors(d, {"abcdefg", "hijk", "lmn\nok\n"}) ==
          Lines{"!line of at least 7 bytes exceeds max_length (4)", "ok"});
    CHECK_FALSE(d.discarding());
    // At EOF while discarding: nothing more is reported.
    LineCodec e(LineCodec::Options{.max_length = 4});
    CHECK(decode_with_errors(e, {"abcdefghij"}) == Lines{"!line of at least 10 bytes exceeds max_length (4)"});
}

TEST_CASE("LineCodec: Overlong::error is fatal") {
    LineCodec c(LineCodec::Options{.max_length = 3, .overlong = LineCodec::Overlong::error});
    FrameBuffer b;
    b.append(std::string_view("abcd\nok\n"));
    try {
        (void)c.decode(b);
        FAIL("no error");
    } catch (const FrameError& e) {
        CHECK(e.kind() == FrameError::Kind::limit_exceeded);
        CHECK_FALSE(e.recoverable());
        CHECK(e.size() == 4);
        CHECK(std::string(e.what()) == "line of 4 bytes exceeds max_length (3)");
    }
}

TEST_CASE("LineCodec: any split gives the same lines (property)") {
    std::mt19937 rng(1);
    for (const char* delim : {"\n", "\r\n", "<>"}) {
        LineCodec c(LineCodec::Options{.delimiter = delim, .strip_cr = false, .max_length = 1 << 20});
        for (int round = 0; round < 10; ++round) {
            Lines lines;
            std::string stream;
            std::uniform_int_distribution<int> count(0, 30), letter('a', 'z');
            std::uniform_int_distribution<int> len(0, 300);
            for (int i = count(rng); i > 0; --i) {
                std::string line(static_cast<std::size_t>(len(rng)), 'x');
                for (char& ch : line) ch = static_cast<char>(letter(rng));
                c.encode(line, stream);
                lines.push_back(line);
            }
            check_any_split(c, stream, lines, rng);
        }
    }
}

TEST_CASE("NetstringCodec: frames, malformed input, limits, truncation") {
    NetstringCodec c;
    CHECK(decode_with_errors(c, {"5:hel", "lo,0:,3:a,b,"}) == Lines{"hello", "", "a,b"});
    std::string out;
    c.encode("hi", out);
    CHECK(out == "2:hi,");
    auto first_error = [](std::string input, std::size_t max = 1024) {
        NetstringCodec n(NetstringCodec::Options{.max_length = max});
        Lines r = decode_with_errors(n, {input});
        return r.empty() ? std::string() : r.back();
    };
    CHECK(first_error("x:") == "!netstring starts with byte 0x78, not a decimal length");
    CHECK(first_error(":") == "!netstring has an empty length");
    CHECK(first_error("05:hello,") == "!netstring length has a leading zero");
    CHECK(first_error("3:abc;") == "!netstring of 3 bytes ends with byte 0x3b, not ','");
    CHECK(first_error("3;abc,") == "!netstring length is followed by byte 0x3b, not ':'");
    CHECK(first_error("11:hello world,", 10) == "!netstring of 11 bytes exceeds max_length (10)");
    CHECK(first_error("00000", 10) == "!netstring length of more than 2 digits exceeds max_length (10)");
    CHECK(first_error("3:ab") == "!end of stream inside a netstring (4 bytes left over)");
    NetstringCodec small(NetstringCodec::Options{.max_length = 2});
    CHECK_THROWS_AS(small.encode("abc", out), FrameError);
}

TEST_CASE("NetstringCodec: any split gives the same frames (property)") {
    std::mt19937 rng(2);
    NetstringCodec c;
    for (int round = 0; round < 20; ++round) {
        Lines frames;
        std::string stream;
        for (int i = 0; i < 20; ++i) {
            frames.push_back(random_bytes(rng, i % 5 == 0 ? 3000 : 20));
            c.encode(frames.back(), stream);
        }
        check_any_split(c, stream, frames, rng);
    }
}

TEST_CASE("LengthPrefixedCodec: widths, byte order, header included, limits") {
    using E = LengthPrefixedCodec::Endian;
    struct Case {
        unsigned width;
        E endian;
        bool includes;
        std::string header;  // for a 3-byte payload
    };
    const Case cases[] = {
        {1, E::big, false, std::string("\x03", 1)},
        {2, E::big, false, std::string("\x00\x03", 2)},
        {2, E::little, false, std::string("\x03\x00", 2)},
        {4, E::big, false, std::string("\x00\x00\x00\x03", 4)},
        {4, E::little, true, std::string("\x07\x00\x00\x00", 4)},
        {8, E::big, true, std::string("\0\0\0\0\0\0\0\x0b", 8)},
        {8, E::little, false, std::string("\x03\0\0\0\0\0\0\0", 8)},
    };
    for (const Case& k : cases) {
        CAPTURE(k.width);
        CAPTURE(k.includes);
        LengthPrefixedCodec c(
            LengthPrefixedCodec::Options{.width = k.width, .endian = k.endian, .length_includes_header = k.includes});
        std::string out;
        c.encode("abc", out);
        CHECK(out == k.header + "abc");
        CHECK(decode_with_errors(c, {out + out}) == Lines{"abc", "abc"});
    }
    CHECK_THROWS_AS(LengthPrefixedCodec(LengthPrefixedCodec::Options{.width = 3}), std::invalid_argument);

    LengthPrefixedCodec one(LengthPrefixedCodec::Options{.width = 1});
    std::string out;
    try {
        one.encode(std::string(256, 'x'), out);
        FAIL("no error");
    } catch (const FrameError& e) {
        CHECK(std::string(e.what()) == "frame of 256 bytes exceeds the 1-byte length field's range (255)");
    }
    LengthPrefixedCodec small(LengthPrefixedCodec::Options{.width = 2, .max_frame = 10});
    CHECK(decode_with_errors(small, {std::string("\x00\x0b", 2)}) == Lines{"!frame of 11 bytes exceeds max_frame (10)"});
    CHECK(decode_with_errors(small, {std::string("\x00\x05" "ab", 4)}) ==
          Lines{"!end of stream inside a length-prefixed frame (4 bytes left over)"});
    LengthPrefixedCodec inc(LengthPrefixedCodec::Options{.width = 4, .length_includes_header = true});
    CHECK(decode_with_errors(inc, {std::string("\0\0\0\x02", 4)}) ==
          Lines{"!length field 2 is smaller than the 4-byte header it includes"});
}

TEST_CASE("LengthPrefixedCodec: any split gives the same frames (property)") {
    std::mt19937 rng(3);
    for (unsigned width : {1u, 2u, 4u, 8u}) {
        for (bool includes : {false, true}) {
            LengthPrefixedCodec c(LengthPrefixedCodec::Options{
                .width = width, .endian = width % 4 ? LengthPrefixedCodec::Endian::little : LengthPrefixedCodec::Endian::big,
                .length_includes_header = includes});
            Lines frames;
            std::string stream;
            for (int i = 0; i < 30; ++i) {
                frames.push_back(random_bytes(rng, width == 1 ? 200 : 2000));
                c.encode(frames.back(), stream);
            }
            check_any_split(c, stream, frames, rng, 20);
        }
    }
}
