// SPDX-License-Identifier: MIT
/// @file
/// How TLS connections end: close_notify, truncation, hostile or vanishing peers, handshake and shutdown timeouts, cancelling, closing the loop.
#include "tls_support.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

using namespace bulb_tls_test;

TEST_SUITE("tls") {

TEST_CASE_FIXTURE(Fixture, "peer close_notify -> clean connection_lost; EOF without it -> tls_unexpected_eof") {
    const auto& pki = Pki::get();
    SUBCASE("s_client closes with close_notify") {
        auto sr = std::make_shared<Record>();
        auto server = tls_server(sr, server_ctx());
        // Without -quiet, s_client answers EOF on stdin with SSL_shutdown (close_notify).
        Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.sockets().at(0).port()),
                      "-CAfile", pki.ca});
        client.send("to server\n");
        CHECK(run_until([&] { return sr->data == "to server\n"; }));
        CHECK(run_until([&] {
            client.drain();
            return client.output.find("to server") != std::string::npos;
        }));
        client.close_stdin();
        CHECK(run_until([&] { return sr->lost; }));
        CHECK_MESSAGE(!sr->ec, sr->ec.message());
        CHECK(sr->eof);
    }
    SUBCASE("s_client killed after the handshake") {
        auto sr = std::make_shared<Record>();
        auto server = tls_server(sr, server_ctx());
        Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.sockets().at(0).port()),
                      "-CAfile", pki.ca, "-quiet"});
        client.send("x\n");
        CHECK(run_until([&] { return sr->data == "x\n"; }));
        // Kill only once the echo was read (unread data would make the kernel send a reset).
        CHECK(run_until([&] {
            client.drain();
            return client.output.find("x\n") != std::string::npos;
        }));
        run_for(100ms);
        client.kill9();
        CHECK(run_until([&] { return sr->lost; }));
        CHECK(sr->ec == bulb::errc::tls_unexpected_eof);
        CHECK(!sr->eof);
    }
    SUBCASE("s_server killed: the bulb client sees tls_unexpected_eof") {
        auto port = free_port();
        Child server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert", pki.srv,
                      "-key", pki.srv_key, "-naccept", "1"});
        REQUIRE_MESSAGE(server.wait_for("ACCEPT"), server.output);
        auto r = std::make_shared<Record>();
        auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx())));
        conn.transport->write(std::string_view("to server\n"));
        CHECK(server.wait_for("to server"));
        server.kill9();
        CHECK(run_until([&] { return r->lost; }));
        CHECK_MESSAGE(r->ec == bulb::errc::tls_unexpected_eof, r->ec.message());
        CHECK(!r->eof);
    }
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
}

TEST_CASE_FIXTURE(Fixture, "a peer that vanishes mid-handshake is an error and leaks nothing") {
    SUBCASE("server side: half a client hello, then close") {
        auto sr = std::make_shared<Record>();
        auto server = tls_server(sr, server_ctx());
        auto port = server.sockets().at(0).port();
        std::jthread peer([port] {
            int fd = raw_connect(port);
            // A TLS record header announcing 512 bytes of ClientHello, and only part of it.
            std::string hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
            hello += random_bytes(40);
            ::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            ::close(fd);
        });
        REQUIRE(run_until([&] { return server.connection_count() == 1; }, 5s));
        CHECK(run_until([&] { return server.connection_count() == 0 && loop.transport_count() == 0; }, 5s));
        run_for(50ms);
        CHECK(server.connection_count() == 0);
        CHECK(!sr->made);
        for (auto& e : exceptions) MESSAGE(e);
    }
    SUBCASE("client side: half a server hello, then close") {
        std::uint16_t port = 0;
        int lfd = raw_listen(port);
        std::jthread peer([lfd] {
            int fd = ::accept(lfd, nullptr, nullptr);
            char buf[4096];
            ::recv(fd, buf, sizeof buf, 0);  // the client hello
            std::string hello("\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03", 11);
            hello += random_bytes(20);
            ::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
            ::close(fd);
        });
        auto r = std::make_shared<Record>();
        auto [ec, what] = failure(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx())));
        CHECK(ec);
        CHECK(!r->made);
        peer.join();
        ::close(lfd);
        CHECK(run_until([&] { return loop.transport_count() == 0; }));
    }
}

TEST_CASE_FIXTURE(Fixture, "1 MiB of random bytes as a hello: handshake error, no crash") {
    auto junk = random_bytes(1 << 20, 7);
    SUBCASE("to a server") {
        auto sr = std::make_shared<Record>();
        auto server = tls_server(sr, server_ctx());
        auto port = server.sockets().at(0).port();
        bool closed = false;
        std::jthread peer([&, port] {
            int fd = raw_connect(port);
            std::size_t off = 0;
            while (off < junk.size()) {
                ssize_t n = ::send(fd, junk.data() + off, junk.size() - off, MSG_NOSIGNAL);
                if (n <= 0) break;  // the server gave up (reset) - expected
                off += static_cast<std::size_t>(n);
            }
            char buf[4096];
            for (;;) {
                ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                    closed = true;
                    break;
                }
                if (n < 0) break;  // timed out
            }
            ::close(fd);
        });
        CHECK(run_until([&] { return closed && server.connection_count() == 0 && loop.transport_count() == 0; }));
        peer.join();
        CHECK(closed);
        CHECK(!sr->made);
    }
    SUBCASE("to a client") {
        std::uint16_t port = 0;
        int lfd = raw_listen(port);
        std::jthread peer([lfd, &junk] {
            int fd = ::accept(lfd, nullptr, nullptr);
            ::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
            ::close(fd);
        });
        auto r = std::make_shared<Record>();
        auto [ec, what] = failure(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx())));
        CHECK(ec);
        CHECK(!r->made);
        peer.join();
        ::close(lfd);
        CHECK(run_until([&] { return loop.transport_count() == 0; }));
    }
}

namespace {

/// Answers once the peer has closed its side, later (as a task would): eof_received() keeps the
/// connection open for that, or not.
class ReplyAtEof : public bulb::Protocol {
public:
    ReplyAtEof(bulb::EventLoop& loop, RecordPtr r, bool keep_open) : loop_(loop), r_(std::move(r)), keep_open_(keep_open) {}
    void connection_made(bulb::Transport& t) override { t_ = bulb::RefPtr<bulb::Transport>(&t); }
    void data_received(bulb::ByteView d) override { r_->data.append(reinterpret_cast<const char*>(d.data()), d.size()); }
    bool eof_received() override {
        r_->eof = true;
        loop_.call_soon([t = t_, r = r_] {
            t->write(std::string_view("got: " + r->data));  // dropped (and counted) once closing
            t->close();
        });
        return keep_open_;
    }
    void connection_lost(std::error_code ec) override {
        r_->lost = true;
        r_->ec = ec;
    }

private:
    bulb::EventLoop& loop_;
    RecordPtr r_;
    bool keep_open_;
    bulb::RefPtr<bulb::Transport> t_;
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "a close_notify read with the last data reaches a protocol that paused reading") {
    // The client's data and its close_notify arrive together; the server protocol pauses
    // reading in data_received and resumes 50 ms later: then eof_received must come.
    auto sr = std::make_shared<Record>();
    auto server = tls_server(
        [this, sr] {
            auto p = std::make_unique<Recorder>(sr);
            p->on_data = [this](Record& r, bulb::ByteView) {
                r.transport->pause_reading();
                loop.call_later(50ms, [t = bulb::RefPtr<bulb::Transport>(r.transport)] { t->resume_reading(); });
            };
            return p;
        },
        server_ctx());
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", server.sockets().at(0).port(),
                                            tls_connect(client_ctx())));
    conn.transport->write(std::string_view("last words"));
    conn.transport->close();
    CHECK(run_until([&] { return sr->eof; }, 5s));
    CHECK(sr->data == "last words");
    CHECK(run_until([&] { return sr->lost && r->lost; }, 5s));
    CHECK(!sr->ec);
    CHECK(!r->ec);
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "after the peer's close_notify, eof_received() returning true keeps our side open (socat)") {
    for (bool keep_open : {true, false}) {
        CAPTURE(keep_open);
        auto r = std::make_shared<Record>();
        auto server = tls_server([this, r, keep_open] { return std::make_unique<ReplyAtEof>(loop, r, keep_open); },
                                 server_ctx());
        // socat sends close_notify when its input ends, then prints what still comes back.
        Child socat({"socat", "-t", "5", "-", "OPENSSL:127.0.0.1:" + std::to_string(server.sockets().at(0).port()) +
                                                  ",cafile=" + Pki::get().ca + ",commonname=localhost"});
        socat.send("request\n");
        socat.close_stdin();
        CHECK(run_until([&] { return r->lost; }));
        CHECK(r->eof);
        CHECK(r->data == "request\n");
        CHECK(!r->ec);  // both close_notify alerts: a clean close either way
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!socat.exited() && std::chrono::steady_clock::now() < deadline) {
            socat.drain();
            std::this_thread::sleep_for(10ms);
        }
        socat.drain();
        CHECK(socat.exited());
        CHECK(socat.output == (keep_open ? "got: request\n" : ""));
        server.close();
    }
    CHECK(exceptions.empty());
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
}

TEST_CASE_FIXTURE(Fixture, "handshake timeout against a peer that never speaks") {
    std::uint16_t port = 0;
    int lfd = raw_listen(port);  // the kernel completes the TCP handshake; nobody answers
    auto r = std::make_shared<Record>();
    auto opts = tls_connect(client_ctx());
    opts.tls_handshake_timeout = std::chrono::milliseconds(300);
    auto t0 = std::chrono::steady_clock::now();
    auto [ec, what] = failure(loop.create_connection(factory(r), "127.0.0.1", port, opts), 10s);
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK_MESSAGE(ec, what);
    CHECK(ec == bulb::errc::timed_out);
    CHECK(took >= std::chrono::milliseconds(250));
    CHECK(took < std::chrono::seconds(5));
    CHECK(!r->made);
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
    // Server side: a client that connects and never sends a hello.
    bulb::ServerOptions so;
    so.tls = server_ctx();
    so.tls_handshake_timeout = std::chrono::milliseconds(300);
    auto sr = std::make_shared<Record>();
    auto server = wait(loop.create_server(factory(sr), "127.0.0.1", 0, so));
    int fd = raw_connect(server.sockets().at(0).port());
    REQUIRE(run_until([&] { return server.connection_count() == 1; }, 5s));
    CHECK(run_until([&] { return server.connection_count() == 0 && loop.transport_count() == 0; }, 5s));
    run_for(400ms);
    char c;
    CHECK(::recv(fd, &c, 1, 0) <= 0);  // closed by the server
    CHECK(!sr->made);
    ::close(fd);
    ::close(lfd);
}

TEST_CASE_FIXTURE(Fixture, "shutdown timeout: a peer that never answers close_notify ends in tls_shutdown_timed_out") {
    bulb::ServerOptions so;
    so.tls = server_ctx();
    so.tls_shutdown_timeout = std::chrono::milliseconds(300);
    auto sr = std::make_shared<Record>();
    auto server = wait(loop.create_server(factory(sr), "127.0.0.1", 0, so));
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", server.sockets().at(0).port(),
                                            tls_connect(client_ctx())));
    REQUIRE(run_until([&] { return sr->made; }));
    // The client stops reading: the server's close_notify waits in its socket, unanswered.
    conn.transport->pause_reading();
    auto t0 = std::chrono::steady_clock::now();
    sr->transport->close();
    REQUIRE(run_until([&] { return sr->lost; }, 10s));
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(sr->ec == bulb::errc::tls_shutdown_timed_out);
    CHECK(took >= std::chrono::milliseconds(250));
    CHECK(took < std::chrono::seconds(5));
    conn.transport->abort();
    CHECK(run_until([&] { return r->lost && loop.transport_count() == 0; }));
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "cancelling start_tls mid-handshake abandons the connection, with no stray report") {
    // Found by tests/reliability/fuzz/fuzz_tls_records.cpp: the cancel reached only the outer
    // future, the handshake went on until the peer left (or 60 s), and its failure then came
    // back as "Future exception was never retrieved".
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.connect_accepted_socket(factory(r), sv[0]));
    auto f = loop.start_tls(conn.transport, client_ctx(), false, "localhost");
    run_for(20ms);  // the client hello is out; the peer never answers
    CHECK(!f.done());
    CHECK(f.cancel("given up"));
    CHECK(run_until([&] { return f.done(); }, 2s));
    CHECK(f.cancelled());
    try {
        f.result();
    } catch (const bulb::CancelledError& c) {
        CHECK(std::string(c.what()) == "given up");
    }
    // asyncio closes the transport when start_tls is cancelled: the connection goes at once.
    CHECK(run_until([&] { return r->lost; }, 2s));
    CHECK(r->ec == bulb::errc::cancelled);
    char buf[4096];
    ::fcntl(sv[1], F_SETFL, O_NONBLOCK);
    while (::read(sv[1], buf, sizeof buf) > 0) {
    }
    CHECK(::read(sv[1], buf, sizeof buf) <= 0);  // past the hello: EOF (or a reset), bulb closed its end
    CHECK(errno != EAGAIN);
    ::close(sv[1]);
    conn = {};
    run_for(20ms);
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "cancelling a connect mid-handshake, and closing the loop with live TLS connections") {
    std::uint16_t port = 0;
    int lfd = raw_listen(port);
    auto r = std::make_shared<Record>();
    auto f = loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx()));
    run_for(100ms);  // connected, hello sent, no answer
    CHECK(!f.done());
    f.cancel();
    run_for(20ms);
    CHECK(f.cancelled());
    CHECK(!r->made);
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
    ::close(lfd);
    // Live connections (both ends in this loop) when the loop closes: no leak, each side's
    // connection_lost runs once.
    auto sr = std::make_shared<Record>();
    auto server = std::make_optional(tls_server(sr, server_ctx()));
    auto r2 = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r2), "127.0.0.1", server->sockets().at(0).port(),
                                            tls_connect(client_ctx())));
    conn.transport->write(std::string_view("pending"));
    CHECK(run_until([&] { return r2->data == "pending"; }));
    conn = {};
    server->close();
    server.reset();
    loop.close();
    CHECK(r2->lost);
    CHECK(sr->lost);
    // Each raw transport left open is reported once by close(): that is this test's point.
    expect_reports(2);
    for (auto& e : exceptions) CHECK(e.rfind("unclosed transport aborted by EventLoop::close()", 0) == 0);
}

}  // TEST_SUITE
