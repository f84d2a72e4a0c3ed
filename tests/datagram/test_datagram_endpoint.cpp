// SPDX-License-Identifier: MIT
/// @file
/// create_datagram_endpoint over real loopback sockets: IPv4, IPv6, Unix datagram sockets,
/// connected endpoints, sizes from 0 to 65,507 bytes, an existing socket, reuse_port.
#include "datagram_support.hpp"

#include <fcntl.h>
#include <sys/stat.h>

using namespace dgram_test;
using bulb::DatagramEndpointOptions;
using bulb::HostPort;
using bulb::SocketAddress;

namespace {

/// An echo server endpoint on `host`:0 and a client connected to it; every size comes back whole,
/// separately and in order.
void echo_sizes(const std::string& host) {
    LoopFixture fx;
    auto srec = std::make_shared<Record>();
    auto crec = std::make_shared<Record>();
    auto server = fx.wait(fx.loop.create_datagram_endpoint(
        recorder(srec, [](RecordingDatagram& p) {
            p.on_data = [](bulb::DatagramTransport& t, bulb::ByteView d, const SocketAddress& a) { t.sendto(d, a); };
        }),
        DatagramEndpointOptions{.local_addr = HostPort{host, 0}}));
    SocketAddress saddr = server.transport->get_sockname();
    CHECK(saddr.host() == host);
    CHECK(saddr.port() != 0);
    CHECK(srec->made == 1);
    CHECK_FALSE(server.transport->get_extra_info("peername"));

    auto client = fx.wait(fx.loop.create_datagram_endpoint(
        recorder(crec), DatagramEndpointOptions{.remote_addr = HostPort{host, saddr.port()}}));
    CHECK(client.transport->get_peername() == saddr);
    CHECK(client.transport->get_extra_info("peername") == saddr.to_string());
    CHECK(client.protocol<RecordingDatagram>() != nullptr);

    const std::size_t sizes[] = {0, 1, 1400, 9000, 65507};
    for (std::size_t i = 0; i < std::size(sizes); ++i) client.transport->sendto(bulb::as_bytes(pattern(sizes[i], i)));
    REQUIRE(fx.run_until([&] { return crec->datagrams.size() == std::size(sizes); }));
    for (std::size_t i = 0; i < std::size(sizes); ++i) {
        CHECK(crec->datagrams[i] == pattern(sizes[i], i));
        CHECK(crec->senders[i] == saddr);
        CHECK(srec->senders[i] == client.transport->get_sockname());
    }
    CHECK(crec->errors.empty());
    client.transport->close();
    server.transport->close();
    CHECK(server.transport->is_closing());
    fx.run_briefly();
    CHECK(crec->lost == 1);
    CHECK(srec->lost == 1);
    CHECK_FALSE(crec->lost_code);
    CHECK(srec->events.back() == "lost");
    CHECK(client.transport->get_protocol() == nullptr);
    CHECK(client.transport->get_fd() == -1);
}

}  // namespace

TEST_CASE("UDP over IPv4: datagrams of 0 to 65,507 bytes come back whole and separately") { echo_sizes("127.0.0.1"); }

TEST_CASE("UDP over IPv6 ::1") {
    if (!has_ipv6_loopback()) {
        MESSAGE("no IPv6 loopback here: skipped");
        return;
    }
    echo_sizes("::1");
}

TEST_CASE("an unconnected endpoint sends to addresses it is given and hears every sender") {
    LoopFixture fx;
    auto rec = std::make_shared<Record>();
    auto ep = fx.wait(fx.loop.create_datagram_endpoint(recorder(rec),
                                                       DatagramEndpointOptions{.local_addr = HostPort{"127.0.0.1", 0}}));
    RawSocket a(AF_INET), b(AF_INET);
    a.bind(SocketAddress::from_ip("127.0.0.1", 0));
    b.bind(SocketAddress::from_ip("127.0.0.1", 0));
    a.send_to("from a", ep.transport->get_sockname());
    b.send_to("from b", ep.transport->get_sockname());
    REQUIRE(fx.run_until([&] { return rec->datagrams.size() == 2; }));
    CHECK(rec->senders[0] == a.name());
    CHECK(rec->senders[1] == b.name());
    ep.transport->sendto(std::string_view("to b"), b.name());
    ep.transport->sendto(std::string_view("to a"), a.name());
    std::string got;
    REQUIRE(b.recv(got));
    CHECK(got == "to b");
    REQUIRE(a.recv(got));
    CHECK(got == "to a");
    ep.transport->close();
}

TEST_CASE("a name resolves off the loop (localhost)") {
    LoopFixture fx;
    auto rec = std::make_shared<Record>();
    auto ep = fx.wait(fx.loop.create_datagram_endpoint(
        recorder(rec), DatagramEndpointOptions{.local_addr = HostPort{"localhost", 0}, .family = AF_INET}));
    CHECK(ep.transport->get_sockname().host() == "127.0.0.1");
    ep.transport->close();
}

TEST_CASE("Unix datagram sockets: bound server, autobound connected client, file removed at close") {
    LoopFixture fx;
    TempDir dir;
    std::string path = dir.path + "/echo.sock";
    auto srec = std::make_shared<Record>();
    auto crec = std::make_shared<Record>();
    auto server = fx.wait(fx.loop.create_datagram_endpoint(
        recorder(srec, [](RecordingDatagram& p) {
            p.on_data = [](bulb::DatagramTransport& t, bulb::ByteView d, const SocketAddress& a) { t.sendto(d, a); };
        }),
        DatagramEndpointOptions{.local_path = path}));
    CHECK(server.transport->get_sockname().host() == path);
    auto client = fx.wait(fx.loop.create_datagram_endpoint(recorder(crec), DatagramEndpointOptions{.remote_path = path}));
    CHECK(client.transport->get_peername().host() == path);
    const std::size_t sizes[] = {0, 1, 1400, 9000, 65507, 150000};
    for (std::size_t i = 0; i < std::size(sizes); ++i) client.transport->sendto(bulb::as_bytes(pattern(sizes[i], i)));
    REQUIRE(fx.run_until([&] { return crec->datagrams.size() == std::size(sizes); }));
    for (std::size_t i = 0; i < std::size(sizes); ++i) CHECK(crec->datagrams[i] == pattern(sizes[i], i));
    CHECK(srec->senders[0].family() == AF_UNIX);
    CHECK(srec->senders[0].host().rfind("@", 0) == 0);  // the client's autobound abstract name
    server.transport->close();
    client.transport->close();
    fx.run_briefly();
    struct stat st {};
    CHECK(::stat(path.c_str(), &st) != 0);  // removed
}

TEST_CASE("Unix datagram: a stale socket file is replaced, any other file is an error naming the path") {
    LoopFixture fx;
    TempDir dir;
    std::string path = dir.path + "/stale.sock";
    {
        RawSocket old(AF_UNIX);
        old.bind(SocketAddress::from_unix_path(path));
    }  // closed, the file stays
    auto rec = std::make_shared<Record>();
    auto ep = fx.wait(fx.loop.create_datagram_endpoint(recorder(rec), DatagramEndpointOptions{.local_path = path}));
    ep.transport->close();
    fx.run_briefly();

    std::string regular = dir.path + "/regular";
    std::system(("echo keep > '" + regular + "'").c_str());
    auto f = fx.loop.create_datagram_endpoint(recorder(std::make_shared<Record>()),
                                              DatagramEndpointOptions{.local_path = regular});
    REQUIRE(fx.run_until([&] { return f.done(); }));
    try {
        f.result();
        FAIL("bind over a regular file succeeded");
    } catch (const bulb::Error& e) {
        CHECK(e.code() == std::errc::address_in_use);
        CHECK(std::string(e.what()).find(regular) != std::string::npos);
    }
    struct stat st {};
    CHECK(::stat(regular.c_str(), &st) == 0);  // left alone
}

TEST_CASE("an already-open socket (sock): the transport owns it") {
    LoopFixture fx;
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);  // blocking: made non-blocking
    auto any = SocketAddress::from_ip("127.0.0.1", 0);
    REQUIRE(::bind(fd, any.data(), any.size()) == 0);
    auto rec = std::make_shared<Record>();
    auto ep = fx.wait(fx.loop.create_datagram_endpoint(recorder(rec), DatagramEndpointOptions{.sock = fd}));
    CHECK(ep.transport->get_fd() == fd);
    RawSocket peer(AF_INET);
    peer.send_to("hello", ep.transport->get_sockname());
    REQUIRE(fx.run_until([&] { return rec->datagrams.size() == 1; }));
    CHECK(rec->datagrams[0] == "hello");
    ep.transport->close();
    fx.run_briefly();
    CHECK(::fcntl(fd, F_GETFD) == -1);  // closed by the transport
}

TEST_CASE("reuse_port: two endpoints share a port; without it the second fails naming the address") {
    LoopFixture fx;
    auto r1 = std::make_shared<Record>(), r2 = std::make_shared<Record>();
    auto a = fx.wait(fx.loop.create_datagram_endpoint(
        recorder(r1), DatagramEndpointOptions{.local_addr = HostPort{"127.0.0.1", 0}, .reuse_port = true}));
    std::uint16_t port = a.transport->get_sockname().port();
    auto b = fx.wait(fx.loop.create_datagram_endpoint(
        recorder(r2), DatagramEndpointOptions{.local_addr = HostPort{"127.0.0.1", port}, .reuse_port = true}));
    CHECK(b.transport->get_sockname().port() == port);
    auto c = fx.loop.create_datagram_endpoint(recorder(std::make_shared<Record>()),
                                              DatagramEndpointOptions{.local_addr = HostPort{"127.0.0.1", port}});
    REQUIRE(fx.run_until([&] { return c.done(); }));
    try {
        c.result();
        FAIL("second bind without reuse_port succeeded");
    } catch (const bulb::Error& e) {
        CHECK(e.code() == std::errc::address_in_use);
        CHECK(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
    }
    a.transport->close();
    b.transport->close();
}

TEST_CASE("allow_broadcast sets SO_BROADCAST; without it a broadcast send is refused with EACCES") {
    LoopFixture fx;
    auto rec = std::make_shared<Record>();
    auto yes = fx.wait(fx.loop.create_datagram_endpoint(
        recorder(std::make_shared<Record>()),
        DatagramEndpointOptions{.local_addr = HostPort{"127.0.0.1", 0}, .allow_broadcast = true}));
    int on = 0;
    socklen_t len = sizeof on;
    REQUIRE(::getsockopt(yes.transport->get_fd(), SOL_SOCKET, SO_BROADCAST, &on, &len) == 0);
    CHECK(on == 1);
    yes.transport->close();
    // Without SO_BROADCAST the kernel refuses before anything is routed: nothing leaves the host.
    auto no = fx.wait(fx.loop.create_datagram_endpoint(recorder(rec),
                                                       DatagramEndpointOptions{.local_addr = HostPort{"127.0.0.1", 0}}));
    auto bcast = SocketAddress::from_ip("255.255.255.255", 9);
    no.transport->sendto(std::string_view("x"), bcast);
    REQUIRE(fx.run_until([&] { return !rec->errors.empty(); }));
    CHECK(rec->errors[0] == std::errc::permission_denied);
    CHECK(rec->error_addrs[0] == bcast);
    CHECK_FALSE(no.transport->is_closing());
    no.transport->close();
}

TEST_CASE("an unbound endpoint of a given family can send") {
    LoopFixture fx;
    RawSocket peer(AF_INET);
    peer.bind(SocketAddress::from_ip("127.0.0.1", 0));
    auto ep = fx.wait(fx.loop.create_datagram_endpoint(recorder(std::make_shared<Record>()),
                                                       DatagramEndpointOptions{.family = AF_INET}));
    ep.transport->sendto(std::string_view("ping"), peer.name());
    std::string got;
    REQUIRE(peer.recv(got));
    CHECK(got == "ping");
    ep.transport->close();
}
