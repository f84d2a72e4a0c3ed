// SPDX-License-Identifier: MIT
/// @file
/// sock_* helpers on raw non-blocking descriptors over loopback: accept/connect/sendall/recv,
/// recv_into, recvfrom/sendto, cancel safety, errors naming the call and address.
#include "datagram_support.hpp"

#include <bulb/sock.hpp>

#include <fcntl.h>

using namespace dgram_test;
using bulb::SocketAddress;

namespace {

int nonblocking_socket(int family, int type) {
    int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    return fd;
}

struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

TEST_CASE("sock_accept, sock_connect, sock_sendall and sock_recv move 1 MiB over TCP") {
    LoopFixture fx;
    Fd listener{nonblocking_socket(AF_INET, SOCK_STREAM)};
    auto any = SocketAddress::from_ip("127.0.0.1", 0);
    REQUIRE(::bind(listener.fd, any.data(), any.size()) == 0);
    REQUIRE(::listen(listener.fd, 4) == 0);
    SocketAddress where;
    socklen_t len = where.capacity();
    ::getsockname(listener.fd, where.data(), &len);
    where.set_size(len);

    auto accepting = bulb::sock_accept(fx.loop, listener.fd);
    fx.run_briefly();
    CHECK_FALSE(accepting.done());
    Fd client{nonblocking_socket(AF_INET, SOCK_STREAM)};
    fx.wait(bulb::sock_connect(fx.loop, client.fd, where));
    auto [server_fd, peer] = fx.wait(accepting);
    Fd server{server_fd};
    CHECK(peer.host() == "127.0.0.1");
    CHECK((::fcntl(server.fd, F_GETFL) & O_NONBLOCK) != 0);

    std::string big = pattern(1 << 20);
    auto sending = bulb::sock_sendall(fx.loop, client.fd, bulb::as_bytes(big));
    std::string got;
    while (got.size() < big.size()) {
        std::string part = fx.wait(bulb::sock_recv(fx.loop, server.fd, 64 * 1024));
        REQUIRE(!part.empty());
        got += part;
    }
    fx.wait(sending);
    CHECK(got == big);

    // recv_into, then EOF.
    fx.wait(bulb::sock_sendall(fx.loop, client.fd, bulb::as_bytes("tail")));
    ::shutdown(client.fd, SHUT_WR);
    std::byte buf[16];
    CHECK(fx.wait(bulb::sock_recv_into(fx.loop, server.fd, buf)) == 4);
    CHECK(bulb::to_string(bulb::ByteView(buf, 4)) == "tail");
    CHECK(fx.wait(bulb::sock_recv(fx.loop, server.fd, 16)).empty());
}

TEST_CASE("a cancelled sock_recv consumes nothing; the next call gets the data") {
    LoopFixture fx;
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) == 0);
    Fd a{pair[0]}, b{pair[1]};
    auto pending = bulb::sock_recv(fx.loop, a.fd, 100);
    fx.run_briefly();
    REQUIRE(::write(b.fd, "kept", 4) == 4);
    CHECK(pending.cancel());
    CHECK(pending.cancelled());
    fx.run_briefly();
    CHECK(fx.wait(bulb::sock_recv(fx.loop, a.fd, 100)) == "kept");
}

TEST_CASE("sock_sendto and sock_recvfrom carry whole datagrams and their senders") {
    LoopFixture fx;
    Fd rx{nonblocking_socket(AF_INET, SOCK_DGRAM)}, tx{nonblocking_socket(AF_INET, SOCK_DGRAM)};
    auto any = SocketAddress::from_ip("127.0.0.1", 0);
    REQUIRE(::bind(rx.fd, any.data(), any.size()) == 0);
    REQUIRE(::bind(tx.fd, any.data(), any.size()) == 0);
    SocketAddress rx_addr, tx_addr;
    socklen_t len = rx_addr.capacity();
    ::getsockname(rx.fd, rx_addr.data(), &len);
    rx_addr.set_size(len);
    len = tx_addr.capacity();
    ::getsockname(tx.fd, tx_addr.data(), &len);
    tx_addr.set_size(len);
    auto receiving = bulb::sock_recvfrom(fx.loop, rx.fd, 70000);
    std::string msg = pattern(65507);
    CHECK(fx.wait(bulb::sock_sendto(fx.loop, tx.fd, bulb::as_bytes(msg), rx_addr)) == msg.size());
    auto [data, from] = fx.wait(receiving);
    CHECK(data == msg);
    CHECK(from == tx_addr);
}

TEST_CASE("sock helpers: bad input and failures are clear errors naming the call and address") {
    LoopFixture fx;
    Fd blocking{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    CHECK_THROWS_AS(bulb::sock_recv(fx.loop, blocking.fd, 10), std::invalid_argument);
    CHECK_THROWS_AS(bulb::sock_recv(fx.loop, -1, 10), std::invalid_argument);
    SocketAddress closed;
    {
        Fd gone{nonblocking_socket(AF_INET, SOCK_STREAM)};
        auto any = SocketAddress::from_ip("127.0.0.1", 0);
        REQUIRE(::bind(gone.fd, any.data(), any.size()) == 0);
        socklen_t len = closed.capacity();
        ::getsockname(gone.fd, closed.data(), &len);
        closed.set_size(len);
    }
    Fd c{nonblocking_socket(AF_INET, SOCK_STREAM)};
    auto f = bulb::sock_connect(fx.loop, c.fd, closed);
    REQUIRE(fx.run_until([&] { return f.done(); }));
    try {
        f.result();
        FAIL("connected to a closed port");
    } catch (const bulb::Error& e) {
        CHECK(e.code() == std::errc::connection_refused);
        CHECK(std::string(e.what()).find(closed.to_string()) != std::string::npos);
    }
}
