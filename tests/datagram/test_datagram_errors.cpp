// SPDX-License-Identifier: MIT
/// @file
/// Datagram flow control, per-datagram errors (EMSGSIZE, ECONNREFUSED, truncation), exception
/// containment, close/abort/loop teardown, and bad input.
#include "datagram_support.hpp"

#include <algorithm>
#include <fcntl.h>

using namespace dgram_test;
using bulb::DatagramEndpointOptions;
using bulb::HostPort;
using bulb::SocketAddress;

namespace {

/// A Unix datagram receiver that does not read (the kernel queues ~10 datagrams, then EAGAIN).
struct SilentUnixPeer {
    TempDir dir;
    std::string path = dir.path + "/peer.sock";
    RawSocket sock{AF_UNIX};
    SilentUnixPeer() { sock.bind(SocketAddress::from_unix_path(path)); }
};

}  // namespace

TEST_CASE("flow control: whole datagrams queue on EAGAIN, pause/resume at the water marks, order kept") {
    LoopFixture fx;
    SilentUnixPeer peer;
    auto rec = std::make_shared<Record>();
    auto ep = fx.wait(fx.loop.create_datagram_endpoint(recorder(rec), DatagramEndpointOptions{.remote_path = peer.path}));
    auto& t = *ep.transport;
    t.set_write_buffer_limits(16 * 1024);
    CHECK(t.get_write_buffer_limits().low == 4 * 1024);
    const int count = 60;
    const std::size_t size = 1000;
    for (int i = 0; i < count; ++i) t.sendto(bulb::as_bytes(pattern(size, i)));
    // The first datagrams went through; the rest are queued whole (payload + 8 bytes each).
    CHECK(t.get_write_buffer_size() > 16 * 1024);
    CHECK(t.get_write_buffer_size() % (size + 8) == 0);
    REQUIRE(std::count(rec->events.begin(), rec->events.end(), "pause") == 1);
    // Read everything: each datagram arrives whole and in order; resume_writing comes once.
    std::vector<std::string> got;
    ::fcntl(peer.sock.fd, F_SETFL, O_NONBLOCK);
    REQUIRE(fx.run_until([&] {
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(peer.sock.fd, buf, sizeof buf, 0)) >= 0) got.emplace_back(buf, static_cast<std::size_t>(n));
        return got.size() == count;
    }));
    for (int i = 0; i < count; ++i) CHECK(got[i] == pattern(size, i));
    CHECK(t.get_write_buffer_size() == 0);
    CHECK(std::count(rec->events.begin(), rec->events.end(), "resume") == 1);
    t.close();
}

TEST_CASE("close() sends what is queued first; abort() drops it; connection_lost once each") {
    LoopFixture fx;
    SilentUnixPeer peer;
    auto rec = std::make_shared<Record>();
    auto ep = fx.wait(fx.loop.create_datagram_endpoint(recorder(rec), DatagramEndpointOptions{.remote_path = peer.path}));
    for (int i = 0; i < 30; ++i) ep.transport->sendto(bulb::as_bytes(pattern(100, i)));
    REQUIRE(ep.transport->get_write_buffer_size() > 0);
    ep.transport->close();
    ep.transport->close();
    fx.run_briefly();
    CHECK(rec->lost == 0);  // still draining: the peer reads nothing
    ::fcntl(peer.sock.fd, F_SETFL, O_NONBLOCK);
    int received = 0;
    REQUIRE(fx.run_until([&] {
        char buf[256];
        while (::recv(peer.sock.fd, buf, sizeof buf, 0) >= 0) ++received;
        return rec->lost == 1;
    }));
    char buf[256];
    while (::recv(peer.sock.fd, buf, sizeof buf, 0) >= 0) ++received;
    CHECK(received == 30);
    CHECK_FALSE(rec->lost_code);

    auto rec2 = std::make_shared<Record>();
    auto ep2 = fx.wait(fx.loop.create_datagram_endpoint(recorder(rec2), DatagramEndpointOptions{.remote_path = peer.path}));
    for (int i = 0; i < 30; ++i) ep2.transport->sendto(bulb::as_bytes(pattern(100, i)));
    ep2.transport->abort();
    CHECK(ep2.transport->get_write_buffer_size() == 0);
    ep2.transport->abort();
    ep2.transport->close();
    fx.run_briefly();
    CHECK(rec2->lost == 1);
    CHECK_FALSE(rec2->lost_code);
}

TEST_CASE("sendto after close is dropped and counted; the fifth is reported once") {
    LoopFixture fx;
    fx.expect_reports(1);
    auto rec = std::make_shared<Record>();
    auto ep = fx.wait(fx.loop.create_datagram_endpoint(recorder(rec),
                                                       DatagramEndpointOptions{.local_addr = HostPort{"127.0.0.1", 0}}));
    auto self = ep.transport->get_sockname();
    ep.transport->close();
    for (int i = 0; i < 7; ++i) ep.transport->sendto(std::string_view("late"), self);
    CHECK(ep.transport->get_dropped_writes() == 7);
    fx.run_briefly();
    CHECK(fx.reports.size() == 1);
    // A handle kept after connection_lost stays safe and inert.
    ep.transport->sendto(std::string_view("later"), self);
    CHECK(ep.transport->get_dropped_writes() == 8);
    CHECK(ep.transport->is_closing());
    CHECK(ep.transport->get_protocol() == nullptr);
}

TEST_CASE("oversized datagrams: EMSGSIZE to error_received with the destination, the endpoint stays usable") {
    LoopFixture fx;
    auto rec = std::make_shared<Record>();
    auto ep = fx.wait(fx.loop.create_datagram_endpoint(recorder(rec),
                                                       DatagramEndpointOptions{.local_addr = HostPort{"127.0.0.1", 0}}));
    auto self = ep.transport->get_sockname();
    ep.transport->sendto(bulb::as_bytes(pattern(65508)), self);
    ep.transport->sendto(bulb::as_bytes(pattern(70000)), self);
    CHECK(rec->errors.empty());  // never called back from inside sendto
    ep.transport->sendto(bulb::as_bytes(pattern(65507)), self);
    REQUIRE(fx.run_until([&] { return rec->errors.size() == 2 && rec->datagrams.size() == 1; }));
    CHECK(rec->errors[0] == std::errc::message_size);
    CHECK(rec->errors[1] == std::errc::message_size);
    CHECK(rec->error_addrs[0] == self);
    CHECK(rec->datagrams[0].size() == 65507);

    // Unix sockets: the kernel's own limit (the send buffer) gives EMSGSIZE.
    TempDir dir;
    std::string path = dir.path + "/big.sock";
    auto urec = std::make_shared<Record>();
    auto u = fx.wait(fx.loop.create_datagram_endpoint(recorder(urec), DatagramEndpointOptions{.local_path = path}));
    int sndbuf = 16 * 1024;
    ::setsockopt(u.transport->get_fd(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    u.transport->sendto(bulb::as_bytes(pattern(100000)), u.transport->get_sockname());
    REQUIRE(fx.run_until([&] { return !urec->errors.empty(); }));
    CHECK(urec->errors[0] == std::errc::message_size);
    CHECK(urec->error_addrs[0].host() == path);
    ep.transport->close();
    u.transport->close();
}

TEST_CASE("an inbound datagram larger than the receive buffer is reported truncated, never delivered cut") {
    LoopFixture fx;
    TempDir dir;
    std::string path = dir.path + "/trunc.sock";
    auto rec = std::make_shared<Record>();
    auto ep = fx.wait(fx.loop.create_datagram_endpoint(recorder(rec), DatagramEndpointOptions{.local_path = path}));
    int big = 1 << 20;
    ::setsockopt(ep.transport->get_fd(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    RawSocket sender(AF_UNIX);
    if (::setsockopt(sender.fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) != 0) {
        MESSAGE("SO_SNDBUFFORCE needs CAP_NET_ADMIN: skipped");
        ep.transport->close();
        return;
    }
    sender.send_to(pattern(300 * 1024), ep.transport->get_sockname());
    sender.send_to("after", ep.transport->get_sockname());
    REQUIRE(fx.run_until([&] { return rec->datagrams.size() == 1; }));
    REQUIRE(rec->errors.size() == 1);
    CHECK(rec->errors[0] == bulb::errc::datagram_truncated);
    CHECK(rec->datagrams[0] == "after");
    CHECK(ep.transport->get_truncated_datagrams() == 1);
    ep.transport->close();
}

TEST_CASE("a connected endpoint whose peer port is closed gets ECONNREFUSED and stays usable") {
    LoopFixture fx;
    SocketAddress closed;
    {
        RawSocket gone(AF_INET);
        gone.bind(SocketAddress::from_ip("127.0.0.1", 0));
        closed = gone.name();
    }
    auto rec = std::make_shared<Record>();
    auto ep = fx.wait(fx.loop.create_datagram_endpoint(
        recorder(rec), DatagramEndpointOptions{.remote_addr = HostPort{"127.0.0.1", closed.port()}}));
    ep.transport->sendto(std::string_view("anyone?"));
    REQUIRE(fx.run_until([&] { return !rec->errors.empty(); }));
    CHECK(rec->errors[0] == std::errc::connection_refused);
    CHECK(rec->error_addrs[0] == closed);
    CHECK_FALSE(ep.transport->is_closing());
    // The port opens: the same endpoint now reaches it.
    RawSocket back(AF_INET);
    int one = 1;
    ::setsockopt(back.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(back.fd, closed.data(), closed.size()) == 0) {
        ep.transport->sendto(std::string_view("now?"));
        std::string got;
        REQUIRE(back.recv(got));
        CHECK(got == "now?");
    }
    ep.transport->close();
}

TEST_CASE("a throwing datagram_received is reported with its endpoint and aborts only that endpoint") {
    LoopFixture fx;
    fx.expect_reports(1);
    auto bad = std::make_shared<Record>();
    auto good = std::make_shared<Record>();
    auto b = fx.wait(fx.loop.create_datagram_endpoint(
        recorder(bad, [](RecordingDatagram& p) {
            p.on_data = [](bulb::DatagramTransport&, bulb::ByteView, const SocketAddress&) {
                throw std::runtime_error("boom");
            };
        }),
        DatagramEndpointOptions{.local_addr = HostPort{"127.0.0.1", 0}}));
    auto g = fx.wait(fx.loop.create_datagram_endpoint(recorder(good),
                                                      DatagramEndpointOptions{.local_addr = HostPort{"127.0.0.1", 0}}));
    RawSocket peer(AF_INET);
    for (int i = 0; i < 3; ++i) peer.send_to("x", b.transport->get_sockname());  // one batch, one delivery
    REQUIRE(fx.run_until([&] { return bad->lost == 1; }));
    CHECK(bad->datagrams.size() == 1);
    CHECK(bad->lost_code == bulb::errc::protocol_callback_failed);
    REQUIRE(fx.reports.size() == 1);
    CHECK(fx.reports[0].find("datagram_received") != std::string::npos);
    CHECK(fx.reports[0].find("boom") != std::string::npos);
    CHECK(fx.report_transports[0] == b.transport.get());
    peer.send_to("still here", g.transport->get_sockname());
    REQUIRE(fx.run_until([&] { return good->datagrams.size() == 1; }));
    g.transport->close();
}

TEST_CASE("a throwing connection_made fails the future; connection_lost still comes once") {
    LoopFixture fx;
    fx.expect_reports(1);
    auto rec = std::make_shared<Record>();
    auto f = fx.loop.create_datagram_endpoint(
        recorder(rec, [](RecordingDatagram& p) { p.on_made = [] { throw std::runtime_error("no"); }; }),
        DatagramEndpointOptions{.local_addr = HostPort{"127.0.0.1", 0}});
    REQUIRE(fx.run_until([&] { return f.done(); }));
    CHECK_THROWS_AS(f.result(), bulb::Error);
    fx.run_briefly();
    CHECK(rec->lost == 1);
    CHECK(rec->lost_code == bulb::errc::protocol_callback_failed);
    CHECK(fx.reports.size() == 1);
}

TEST_CASE("a throwing pause_writing or error_received aborts the endpoint, the loop goes on") {
    LoopFixture fx;
    fx.expect_reports(2);
    SocketAddress closed;
    {
        RawSocket gone(AF_INET);
        gone.bind(SocketAddress::from_ip("127.0.0.1", 0));
        closed = gone.name();
    }
    struct Thrower : RecordingDatagram {
        using RecordingDatagram::RecordingDatagram;
        void error_received(std::error_code, const SocketAddress&) override { throw std::runtime_error("err"); }
    };
    auto rec = std::make_shared<Record>();
    auto ep = fx.wait(fx.loop.create_datagram_endpoint(
        [rec] { return std::make_unique<Thrower>(rec); },
        DatagramEndpointOptions{.remote_addr = HostPort{"127.0.0.1", closed.port()}}));
    ep.transport->sendto(std::string_view("x"));
    REQUIRE(fx.run_until([&] { return rec->lost == 1; }));
    CHECK(rec->lost_code == bulb::errc::protocol_callback_failed);
    REQUIRE(fx.reports.size() == 1);
    CHECK(fx.reports[0].find("error_received") != std::string::npos);

    // pause_writing throwing, from inside sendto(): reported, the endpoint aborted, sendto returns.
    SilentUnixPeer peer;
    struct PauseThrower : RecordingDatagram {
        using RecordingDatagram::RecordingDatagram;
        void pause_writing() override { throw std::runtime_error("pause"); }
    };
    auto prec = std::make_shared<Record>();
    auto p = fx.wait(fx.loop.create_datagram_endpoint([prec] { return std::make_unique<PauseThrower>(prec); },
                                                      DatagramEndpointOptions{.remote_path = peer.path}));
    p.transport->set_write_buffer_limits(1000);
    for (int i = 0; i < 20 && !p.transport->is_closing(); ++i) p.transport->sendto(bulb::as_bytes(pattern(500)));
    CHECK(p.transport->is_closing());
    REQUIRE(fx.run_until([&] { return prec->lost == 1; }));
    CHECK(prec->lost_code == bulb::errc::protocol_callback_failed);
    REQUIRE(fx.reports.size() == 2);
    CHECK(fx.reports[1].find("pause_writing") != std::string::npos);
}

TEST_CASE("EventLoop::close() aborts an open endpoint: connection_lost(loop_closed) before it returns") {
    auto rec = std::make_shared<Record>();
    std::vector<std::string> reports;
    {
        bulb_test::AuditedLoop loop;
        loop.set_exception_handler(
            [&](bulb::EventLoop&, const bulb::ExceptionContext& c) { reports.push_back(c.message); });
        auto f = loop.create_datagram_endpoint(recorder(rec),
                                               DatagramEndpointOptions{.local_addr = HostPort{"127.0.0.1", 0}});
        loop.run_until_complete(f);
        CHECK(loop.transport_count() == 1);
        loop.close();
        CHECK(rec->lost == 1);
        CHECK(rec->lost_code == bulb::errc::loop_closed);
        CHECK(loop.transport_count() == 0);
    }
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].find("unclosed datagram transport") != std::string::npos);
}

TEST_CASE("bad input: clear errors naming what failed, other endpoints undisturbed") {
    LoopFixture fx;
    auto rec = std::make_shared<Record>();
    auto ok = fx.wait(fx.loop.create_datagram_endpoint(recorder(rec),
                                                       DatagramEndpointOptions{.local_addr = HostPort{"127.0.0.1", 0}}));
    auto none = [] { return recorder(std::make_shared<Record>()); };

    SUBCASE("no address, socket or family") {
        CHECK_THROWS_AS(fx.loop.create_datagram_endpoint(none(), DatagramEndpointOptions{}), std::invalid_argument);
    }
    SUBCASE("IP and Unix addresses together") {
        CHECK_THROWS_AS(fx.loop.create_datagram_endpoint(
                            none(), DatagramEndpointOptions{.local_addr = HostPort{"127.0.0.1", 0}, .local_path = "/x"}),
                        std::invalid_argument);
    }
    SUBCASE("a Unix path that is too long names the path") {
        std::string path = "/tmp/" + std::string(200, 'p');
        try {
            fx.loop.create_datagram_endpoint(none(), DatagramEndpointOptions{.local_path = path});
            FAIL("no error");
        } catch (const std::invalid_argument& e) {
            CHECK(std::string(e.what()).find(path) != std::string::npos);
        }
    }
    SUBCASE("a Unix path in a missing directory: ENOENT naming the path") {
        auto f = fx.loop.create_datagram_endpoint(none(),
                                                  DatagramEndpointOptions{.local_path = "/nonexistent-dir-bulb/s.sock"});
        REQUIRE(fx.run_until([&] { return f.done(); }));
        try {
            f.result();
            FAIL("no error");
        } catch (const bulb::Error& e) {
            CHECK(e.code() == std::errc::no_such_file_or_directory);
            CHECK(std::string(e.what()).find("/nonexistent-dir-bulb/s.sock") != std::string::npos);
        }
    }
    SUBCASE("a remote_addr that does not resolve names the host") {
        auto f = fx.loop.create_datagram_endpoint(
            none(), DatagramEndpointOptions{.remote_addr = HostPort{"no such host (refused locally)", 53}});
        REQUIRE(fx.run_until([&] { return f.done(); }, 20000ms));
        try {
            f.result();
            FAIL("no error");
        } catch (const bulb::Error& e) {
            CHECK(std::string(e.what()).find("no such host (refused locally)") != std::string::npos);
        }
    }
    SUBCASE("sock that is not a datagram socket") {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK_THROWS_AS(fx.loop.create_datagram_endpoint(none(), DatagramEndpointOptions{.sock = fd}),
                        std::invalid_argument);
        ::close(fd);
    }
    SUBCASE("sendto without address on an unconnected endpoint, or elsewhere on a connected one") {
        CHECK_THROWS_AS(ok.transport->sendto(bulb::as_bytes("x")), std::invalid_argument);
        auto c = fx.wait(fx.loop.create_datagram_endpoint(
            none(), DatagramEndpointOptions{.remote_addr = HostPort{"127.0.0.1", ok.transport->get_sockname().port()}}));
        CHECK_THROWS_AS(c.transport->sendto(std::string_view("x"), SocketAddress::from_ip("127.0.0.1", 9)),
                        std::invalid_argument);
        c.transport->close();
    }
    SUBCASE("set_write_buffer_limits with high < low") {
        CHECK_THROWS_AS(ok.transport->set_write_buffer_limits(10, 20), std::invalid_argument);
    }
    // The other endpoint still works.
    RawSocket peer(AF_INET);
    peer.send_to("alive", ok.transport->get_sockname());
    REQUIRE(fx.run_until([&] { return rec->datagrams.size() == 1; }));
    ok.transport->close();
}
