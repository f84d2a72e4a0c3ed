// SPDX-License-Identifier: MIT
/// @file
/// Replies sent from datagram_received while a recvmmsg batch of several datagrams is delivered:
/// deferred and sent together with sendmmsg, yet whole, in call order, never lost on close() and
/// queued in order when the socket refuses them.
#include "datagram_support.hpp"

#include <fcntl.h>

using namespace dgram_test;
using bulb::DatagramEndpointOptions;
using bulb::HostPort;
using bulb::SocketAddress;

namespace {

/// A client that sends `count` datagrams before the server's loop runs, so that the server's
/// first wake-up finds them all queued (a batch), then reads the replies.
struct Burst {
    RawSocket client{AF_INET};
    Burst() { client.bind(SocketAddress::from_ip("127.0.0.1", 0)); }
    void send(int count, const SocketAddress& to, std::size_t size = 100) {
        for (int i = 0; i < count; ++i) client.send_to(pattern(size, static_cast<unsigned>(i)), to);
    }
    std::vector<std::string> replies(std::size_t n) {
        std::vector<std::string> got;
        std::string s;
        while (got.size() < n && client.recv(s)) got.push_back(s);
        return got;
    }
    /// True when no further datagram arrives within 200 ms.
    bool nothing_more() {
        timeval tv{0, 200000};
        setsockopt(client.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char b[16];
        return ::recv(client.fd, b, sizeof b, 0) < 0;
    }
};

/// A server endpoint on 127.0.0.1:0 whose datagram_received runs `on_data`.
bulb::DatagramConnection server(LoopFixture& fx, std::shared_ptr<Record> rec,
                                std::function<void(bulb::DatagramTransport&, bulb::ByteView, const SocketAddress&)> on_data,
                                int sock = -1) {
    DatagramEndpointOptions o;
    if (sock >= 0) o.sock = sock;
    else o.local_addr = HostPort{"127.0.0.1", 0};
    return fx.wait(fx.loop.create_datagram_endpoint(recorder(rec, [on_data](RecordingDatagram& p) { p.on_data = on_data; }), o));
}

}  // namespace

TEST_CASE("replies made during a batch arrive whole and in call order, also past 64 of them") {
    LoopFixture fx;
    auto rec = std::make_shared<Record>();
    // Two replies per datagram: 2 x 40 = 80 exceeds the 64 deferred replies of one sendmmsg.
    auto ep = server(fx, rec, [](bulb::DatagramTransport& t, bulb::ByteView d, const SocketAddress& a) {
        t.sendto(d, a);
        t.sendto(bulb::as_bytes("ack " + bulb::to_string(d).substr(0, 8)), a);
    });
    Burst b;
    const int count = 40;
    b.send(count, ep.transport->get_sockname());
    REQUIRE(fx.run_until([&] { return rec->datagrams.size() == count; }));
    auto got = b.replies(2 * count);
    REQUIRE(got.size() == 2 * count);
    for (int i = 0; i < count; ++i) {
        CHECK(got[2 * i] == pattern(100, static_cast<unsigned>(i)));
        CHECK(got[2 * i + 1] == "ack " + pattern(8, static_cast<unsigned>(i)));
    }
    CHECK(b.nothing_more());
    CHECK(ep.transport->get_write_buffer_size() == 0);
    ep.transport->close();
}

TEST_CASE("close() inside a batch: the replies made before it go out, no datagram is delivered after") {
    LoopFixture fx;
    auto rec = std::make_shared<Record>();
    int seen = 0;
    auto ep = server(fx, rec, [&seen](bulb::DatagramTransport& t, bulb::ByteView d, const SocketAddress& a) {
        t.sendto(d, a);
        if (++seen == 5) t.close();
    });
    Burst b;
    b.send(12, ep.transport->get_sockname());
    REQUIRE(fx.run_until([&] { return rec->lost == 1; }));
    CHECK(rec->datagrams.size() == 5);
    CHECK_FALSE(rec->lost_code);
    auto got = b.replies(5);
    REQUIRE(got.size() == 5);
    for (int i = 0; i < 5; ++i) CHECK(got[i] == pattern(100, static_cast<unsigned>(i)));
    CHECK(b.nothing_more());
}

TEST_CASE("abort() inside a batch still sends the replies made before it, as immediate sends would have") {
    LoopFixture fx;
    auto rec = std::make_shared<Record>();
    int seen = 0;
    auto ep = server(fx, rec, [&seen](bulb::DatagramTransport& t, bulb::ByteView d, const SocketAddress& a) {
        t.sendto(d, a);
        if (++seen == 3) t.abort();
    });
    Burst b;
    b.send(8, ep.transport->get_sockname());
    REQUIRE(fx.run_until([&] { return rec->lost == 1; }));
    auto got = b.replies(3);
    REQUIRE(got.size() == 3);
    for (int i = 0; i < 3; ++i) CHECK(got[i] == pattern(100, static_cast<unsigned>(i)));
    CHECK(b.nothing_more());
}

TEST_CASE("a batch reply the kernel refuses is reported to error_received; the others still go out in order") {
    // (Over loopback UDP the kernel never answers EAGAIN -- a full receiver drops instead -- so
    // the refusal here is EACCES: a broadcast without allow_broadcast.)
    LoopFixture fx;
    auto rec = std::make_shared<Record>();
    int seen = 0;
    auto bcast = SocketAddress::from_ip("255.255.255.255", 9);
    auto ep = server(fx, rec, [&](bulb::DatagramTransport& t, bulb::ByteView d, const SocketAddress& a) {
        if (seen++ % 3 == 1) t.sendto(d, bcast);
        t.sendto(d, a);
    });
    Burst b;
    const int count = 12;
    b.send(count, ep.transport->get_sockname());
    REQUIRE(fx.run_until([&] { return rec->datagrams.size() == count && rec->errors.size() == count / 3; }));
    for (std::size_t i = 0; i < rec->errors.size(); ++i) {
        CHECK(rec->errors[i] == std::errc::permission_denied);
        CHECK(rec->error_addrs[i] == bcast);
    }
    auto got = b.replies(count);
    REQUIRE(got.size() == count);
    for (int i = 0; i < count; ++i) CHECK(got[i] == pattern(100, static_cast<unsigned>(i)));
    CHECK(b.nothing_more());
    ep.transport->close();
}
