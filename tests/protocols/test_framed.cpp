// SPDX-License-Identifier: MIT
/// @file
/// The two adapters: FramedProtocol (callbacks) on one end of the in-memory transport pair
/// (tests/support/memory_transport.hpp) driven byte by byte from the other end, and
/// FramedReader / FramedWriter (streams) over 127.0.0.1. Both use the same codec objects as the
/// unit tests.
#include <bulb/bulb.hpp>
#include <bulb/coro.hpp>
#include <bulb/protocols/framed_protocol.hpp>
#include <bulb/protocols/coro/framed_stream.hpp>
#include <bulb/protocols/line.hpp>
#include <bulb/protocols/line_codec.hpp>
#include <bulb/protocols/netstring_codec.hpp>
#include <doctest/doctest.h>

#include "../support/loop_fixture.hpp"
#include "../support/memory_transport.hpp"

#include <chrono>
#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <tuple>

using namespace std::chrono_literals;
using namespace bulb::protocols;

namespace {

// What a protocol saw; outlives it (the transport destroys the protocol).
struct Log {
    std::vector<std::string> frames;
    std::vector<std::string> errors;
    bool lost = false;
};

template <class C>
struct Recorder : FramedProtocol<C> {
    Log& log;
    std::function<void(Recorder&, const std::string&)> on_frame;
    explicit Recorder(Log& l, C codec = C{}) : FramedProtocol<C>(std::move(codec)), log(l) {}
    void frame_received(std::string f) override {
        log.frames.push_back(f);
        if (on_frame) on_frame(*this, f);
    }
    void frame_error(const FrameError& e) override {
        log.errors.push_back(e.what());
        FramedProtocol<C>::frame_error(e);
    }
    void connection_lost(std::error_code) override { log.lost = true; }
};

using bulb_test::run_until;

// A few loop iterations: enough for bytes written on one end of the pair to be delivered.
void run_briefly(bulb::EventLoop& loop) { bulb_test::run_iterations(loop, 20); }

// The far end of the in-memory pair: keeps what the protocol under test wrote, and its EOF.
struct PeerLog {
    std::string data;
    bool eof = false;
    bool lost = false;
};

struct Peer : bulb::Protocol {
    std::shared_ptr<PeerLog> log;
    bulb::Transport* transport = nullptr;
    explicit Peer(std::shared_ptr<PeerLog> l) : log(std::move(l)) {}
    void connection_made(bulb::Transport& t) override { transport = &t; }
    void data_received(bulb::ByteView d) override { log->data.append(bulb::as_string_view(d)); }
    bool eof_received() override {
        log->eof = true;
        return true;  // the test decides when its side closes
    }
    void connection_lost(std::error_code) override { log->lost = true; }
};

// A protocol on one end of an in-memory transport pair (tests/support/memory_transport.hpp);
// the test writes and reads the other end. No socket: bytes cross from the loop's ready queue,
// in chunks of at most 64 KiB, with the callback chart of a socket transport. The loop is an
// AuditedLoop: when the test ends, no transport is open, the exception handler was called
// exactly as declared, and the descriptors are back to their count.
template <class P>
struct Wired {
    bulb_test::AuditedLoop loop;
    std::shared_ptr<PeerLog> peer = std::make_shared<PeerLog>();
    bulb::TransportPtr transport;  // the protocol's side
    bulb::TransportPtr far;        // the test's side
    P* protocol = nullptr;
    std::size_t taken = 0;  // bytes of peer->data already returned by received()

    template <class... A>
    explicit Wired(A&&... args) {
        auto made = std::make_unique<P>(std::forward<A>(args)...);
        protocol = made.get();
        std::tie(transport, far) = bulb_test::MemoryTransport::pair(loop, std::move(made), std::make_unique<Peer>(peer));
        REQUIRE(run_until(loop, [&] { return protocol->transport() != nullptr; }));
    }
    ~Wired() {
        if (transport) transport->abort();
        if (far) far->abort();
        bulb_test::run_iterations(loop, 2);
        transport = nullptr;
        far = nullptr;
        CHECK(bulb_test::MemoryTransport::live_count() == 0);
    }
    void send(std::string_view bytes) { far->write(bytes); }
    void send_eof() { far->write_eof(); }
    std::string received() {
        bulb_test::run_iterations(loop, 1);
        std::string out = peer->data.substr(taken);
        taken = peer->data.size();
        return out;
    }
    bool peer_sees_eof() {
        run_until(loop, [&] { return peer->eof; });
        return peer->eof;
    }
};

using Lines = std::vector<std::string>;

}  // namespace

TEST_CASE("FramedProtocol: frames cut anywhere by the peer arrive whole and in order") {
    Log log;
    Wired<Recorder<LineCodec>> w(log);
    w.send("a\nb");
    run_briefly(w.loop);
    w.send("c\nd\r");
    run_briefly(w.loop);
    w.send("\n");
    REQUIRE(run_until(w.loop, [&] { return log.frames.size() == 3; }));
    CHECK(log.frames == Lines{"a", "bc", "d"});
    CHECK(w.protocol->buffered() == 0);
}

TEST_CASE("FramedProtocol: pause_reading takes effect between frames; resume_reading delivers the rest") {
    Log log;
    Wired<Recorder<LineCodec>> w(log);
    w.protocol->on_frame = [](auto& p, const std::string& f) {
        if (f == "1") p.pause_reading();
    };
    w.send("1\n2\n3\n");
    REQUIRE(run_until(w.loop, [&] { return !log.frames.empty(); }));
    run_briefly(w.loop);
    CHECK(log.frames == Lines{"1"});
    CHECK(w.protocol->buffered() == 4);
    w.protocol->resume_reading();
    CHECK(log.frames == Lines{"1"});  // never from inside the call
    REQUIRE(run_until(w.loop, [&] { return log.frames.size() == 3; }));
    CHECK(log.frames == Lines{"1", "2", "3"});
}

TEST_CASE("FramedProtocol: no frame after close(), even from the same read") {
    Log log;
    Wired<Recorder<LineCodec>> w(log);
    w.protocol->on_frame = [](auto& p, const std::string& f) {
        if (f == "stop") p.close();
    };
    w.send("a\nstop\nb\nc\n");
    REQUIRE(run_until(w.loop, [&] { return log.lost; }));
    CHECK(log.frames == Lines{"a", "stop"});
}

TEST_CASE("FramedProtocol: at EOF the tail is a frame (lines) or a truncation error (netstrings)") {
    {
        Log log;
        Wired<Recorder<LineCodec>> w(log);
        w.send("x\ny");
        w.send_eof();
        REQUIRE(run_until(w.loop, [&] { return log.lost; }));
        CHECK(log.frames == Lines{"x", "y"});
        CHECK(log.errors.empty());
    }
    {
        Log log;
        Wired<Recorder<NetstringCodec>> w(log);
        w.send("1:x,5:ab");
        w.send_eof();
        REQUIRE(run_until(w.loop, [&] { return log.lost; }));
        CHECK(log.frames == Lines{"x"});
        CHECK(log.errors == Lines{"end of stream inside a netstring (4 bytes left over)"});
    }
}

TEST_CASE("FramedProtocol: a fatal FrameError goes to frame_error, then the connection closes") {
    Log log;
    Wired<Recorder<NetstringCodec>> w(log);
    w.send("2:ok,3:abc;2:no,");
    REQUIRE(run_until(w.loop, [&] { return log.lost; }));
    CHECK(log.frames == Lines{"ok"});
    CHECK(log.errors == Lines{"netstring of 3 bytes ends with byte 0x3b, not ','"});
    CHECK(w.peer_sees_eof());
}

TEST_CASE("FramedProtocol: replies gathered during a batch go out in order, one write") {
    Log log;
    Wired<Recorder<LineCodec>> w(log);
    w.protocol->set_gather_writes(true);
    w.protocol->on_frame = [](auto& p, const std::string& f) {
        p.send("re:" + f);
        CHECK(p.gathered_size() > 0);  // not written yet: waits for the end of the batch
    };
    w.send("a\nb\nc\n");
    REQUIRE(run_until(w.loop, [&] { return log.frames.size() == 3; }));
    std::string got;
    REQUIRE(run_until(w.loop, [&] {
        got += w.received();
        return got.size() >= 15;
    }));
    CHECK(got == "re:a\nre:b\nre:c\n");
    CHECK(w.protocol->gathered_size() == 0);
}

TEST_CASE("FramedProtocol: a throwing frame_received aborts that connection; the loop goes on") {
    Log log;
    Wired<Recorder<LineCodec>> w(log);
    w.loop.expect_reports(1);
    w.protocol->on_frame = [](auto&, const std::string& f) {
        if (f == "boom") throw std::runtime_error("boom");
    };
    w.send("a\nboom\nb\n");
    REQUIRE(run_until(w.loop, [&] { return log.lost; }));
    CHECK(log.frames == Lines{"a", "boom"});
    REQUIRE(w.loop.reports().size() == 1);
    CHECK(w.loop.reports()[0].what == "boom");
    CHECK(w.loop.reports()[0].message.find("data_received") != std::string::npos);
    CHECK(w.loop.reports()[0].transport == w.transport.get());
}

TEST_CASE("LineProtocol: line_too_long once per overlong line, then the next line") {
    struct Short : LineProtocol {
        Log& log;
        explicit Short(Log& l) : LineProtocol(4), log(l) {}
        void line_received(std::string_view line) override { log.frames.emplace_back(line); }
        void line_too_long(std::size_t n) override { log.errors.push_back(std::to_string(n)); }
        void connection_lost(std::error_code) override { log.lost = true; }
    };
    Log log;
    Wired<Short> w(log);
    w.send("toolongline\nok\nabcdefgh");
    run_briefly(w.loop);
    w.send("ij\nlast\n");
    REQUIRE(run_until(w.loop, [&] { return log.frames.size() == 2; }));
    CHECK(log.frames == Lines{"ok", "last"});
    CHECK(log.errors == Lines{"11", "8"});
}

TEST_CASE("LineProtocol: an overlong line is rejected before the buffer holds more than the limit") {
    struct Measured : LineProtocol {
        Log& log;
        std::size_t most_buffered = 0;
        explicit Measured(Log& l) : LineProtocol(1000), log(l) {}
        void line_received(std::string_view line) override { log.frames.emplace_back(line); }
        void line_too_long(std::size_t n) override {
            log.errors.push_back(std::to_string(n));
            most_buffered = std::max(most_buffered, buffered());
        }
    };
    Log log;
    Wired<Measured> w(log);
    const std::size_t limit = w.protocol->codec().buffer_limit();
    CHECK(limit == 1000 + 1 + 2);
    w.send("head");  // a partial line first: the next read is appended, not borrowed
    run_briefly(w.loop);
    CHECK(w.protocol->buffered() == 4);
    w.send(std::string(20000, 'x') + "\nafter\n");  // one data_received of 20,011 bytes
    REQUIRE(run_until(w.loop, [&] { return log.frames.size() == 1; }));
    CHECK(log.frames == Lines{"after"});
    REQUIRE(log.errors.size() == 1);
    CHECK(w.protocol->most_buffered <= limit);  // it was 20,004 when the whole read was appended
    CHECK(w.protocol->buffered() == 0);
}

// --- the coroutine adapters ---------------------------------------------------------------

namespace {

bulb::Task<> netstring_echo(bulb::StreamReader r, bulb::StreamWriter w) {
    FramedReader<NetstringCodec> in(r);
    FramedWriter<NetstringCodec> out(w);
    auto frames = in.frames();
    while (auto f = co_await frames.next()) {
        std::string reply = *f + "!";
        co_await out.send(reply);
    }
    w.close();
}

}  // namespace

TEST_CASE("FramedReader / FramedWriter: an echo of netstrings over 127.0.0.1") {
    bulb::run([]() -> bulb::Task<> {
        bulb::ClientConnected handler = netstring_echo;
        auto server = co_await bulb::start_server(std::move(handler), "127.0.0.1", 0);
        auto [reader, writer] = co_await bulb::open_connection("127.0.0.1", server.sockets()[0].port());
        FramedReader<NetstringCodec> in(reader);
        FramedWriter<NetstringCodec> out(writer);
        writer.write("3:a");  // cut inside a frame
        co_await writer.drain();
        co_await bulb::sleep(10ms);
        writer.write("bc,0:,");
        std::string big(200000, 'z');
        co_await out.send(big);
        writer.write_eof();
        std::vector<std::string> got;
        while (auto f = co_await in.read()) got.push_back(*f);
        CHECK(got == std::vector<std::string>{"abc!", "!", big + "!"});
        server.close();
        co_await server.wait_closed();
    }());
}

TEST_CASE("FramedReader: a read() cancelled mid-frame loses nothing; bad input throws FrameError") {
    bulb::run([]() -> bulb::Task<> {
        bulb::ClientConnected handler = [](bulb::StreamReader r, bulb::StreamWriter w) -> bulb::Task<> {
            w.write("5:he");
            std::string go = co_await r.read(10);  // the client has timed out once
            w.write("llo,3:abc,xx");
            w.close();
        };
        auto server = co_await bulb::start_server(std::move(handler), "127.0.0.1", 0);
        auto [reader, writer] = co_await bulb::open_connection("127.0.0.1", server.sockets()[0].port());
        FramedReader<NetstringCodec> in(reader);
        bool timed_out = false;
        try {
            auto first = in.read();
            (void)co_await bulb::wait_for(std::move(first), 50ms);
        } catch (const bulb::TimeoutError&) {
            timed_out = true;
        }
        CHECK(timed_out);
        CHECK(in.buffered() == 4);
        writer.write("go");
        auto a = co_await in.read();
        auto b = co_await in.read();
        CHECK(a == std::optional<std::string>("hello"));
        CHECK(b == std::optional<std::string>("abc"));
        std::string error;
        try {
            (void)co_await in.read();
        } catch (const FrameError& e) {
            error = e.what();
        }
        CHECK(error == "netstring starts with byte 0x78, not a decimal length");
        server.close();
        co_await server.wait_closed();
    }());
}
