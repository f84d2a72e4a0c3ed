// SPDX-License-Identifier: MIT
/// @file
/// DatagramSocket (coroutines): recv_from/send_to over loopback, cancel safety, the bounded receive
/// queue's overflow policies, errors thrown at recv_from, closing.
#include "datagram_support.hpp"

#include <bulb/coro.hpp>

using namespace dgram_test;
using bulb::Datagram;
using bulb::DatagramEndpointOptions;
using bulb::DatagramSocket;
using bulb::HostPort;
using bulb::SocketAddress;
using bulb::Task;

namespace {

template <class T>
T run_task(LoopFixture& fx, Task<T> t) {
    return fx.wait(bulb::create_task(fx.loop, std::move(t)));
}

Task<DatagramSocket> open_local(bulb::DatagramSocketOptions so = {}) {
    DatagramEndpointOptions where{.local_addr = HostPort{"127.0.0.1", 0}};
    co_return co_await bulb::open_datagram_endpoint(where, so);
}

}  // namespace

TEST_CASE("DatagramSocket: an echo between two sockets, every size whole") {
    LoopFixture fx;
    auto body = [&]() -> Task<void> {
        DatagramSocket server = co_await open_local();
        DatagramEndpointOptions to{.remote_addr = HostPort{"127.0.0.1", server.get_sockname().port()}};
        DatagramSocket client = co_await bulb::open_datagram_endpoint(to);
        CHECK(client.get_peername() == server.get_sockname());
        for (std::size_t n : {0, 1, 1400, 9000, 65507}) {
            std::string msg = pattern(n, static_cast<unsigned>(n));
            co_await client.send(bulb::as_bytes(msg));
            Datagram d = co_await server.recv_from();
            CHECK(d.data == msg);
            CHECK(d.addr == client.get_sockname());
            co_await server.send_to(bulb::as_bytes(d.data), d.addr);
            Datagram back = co_await client.recv_from();
            CHECK(back.data == msg);
        }
        client.close();
        server.close();
    };
    run_task(fx, body());
}

TEST_CASE("DatagramSocket: a cancelled recv_from loses no datagram") {
    LoopFixture fx;
    auto sock = run_task(fx, open_local());
    auto waiting = bulb::create_task(fx.loop, sock.recv_from());
    fx.run_briefly();
    CHECK_FALSE(waiting.done());
    RawSocket peer(AF_INET);
    peer.send_to("first", sock.get_sockname());
    waiting.cancel();  // cancelled in the same iteration the datagram becomes readable
    REQUIRE(fx.run_until([&] { return waiting.done() && sock.queued() == 1; }));
    CHECK(waiting.cancelled());
    Datagram d = run_task(fx, sock.recv_from());
    CHECK(d.data == "first");
    sock.close();
}

TEST_CASE("DatagramSocket: a full receive queue drops the newest or the oldest, and counts them") {
    for (auto policy : {bulb::DatagramOverflow::drop_newest, bulb::DatagramOverflow::drop_oldest}) {
        LoopFixture fx;
        auto sock = run_task(fx, open_local({.max_queued = 3, .overflow = policy}));
        RawSocket peer(AF_INET);
        for (int i = 0; i < 5; ++i) peer.send_to(std::to_string(i), sock.get_sockname());
        REQUIRE(fx.run_until([&] { return sock.dropped() == 2; }));
        CHECK(sock.queued() == 3);
        std::string got;
        for (int i = 0; i < 3; ++i) got += run_task(fx, sock.recv_from()).data;
        CHECK(got == (policy == bulb::DatagramOverflow::drop_newest ? "012" : "234"));
        sock.close();
    }
}

TEST_CASE("DatagramSocket: ECONNREFUSED and EMSGSIZE are thrown by recv_from, then it goes on") {
    LoopFixture fx;
    SocketAddress closed;
    {
        RawSocket gone(AF_INET);
        gone.bind(SocketAddress::from_ip("127.0.0.1", 0));
        closed = gone.name();
    }
    auto body = [&]() -> Task<void> {
        DatagramEndpointOptions to{.remote_addr = HostPort{"127.0.0.1", closed.port()}};
        DatagramSocket sock = co_await bulb::open_datagram_endpoint(to);
        co_await sock.send(bulb::as_bytes("x"));
        try {
            co_await sock.recv_from();
            FAIL("no error");
        } catch (const bulb::Error& e) {
            CHECK(e.code() == std::errc::connection_refused);
            CHECK(std::string(e.what()).find(closed.to_string()) != std::string::npos);
        }
        std::string big = pattern(70000);
        co_await sock.send(bulb::as_bytes(big));
        try {
            co_await sock.recv_from();
            FAIL("no error");
        } catch (const bulb::Error& e) {
            CHECK(e.code() == std::errc::message_size);
        }
        sock.close();
    };
    run_task(fx, body());
}

TEST_CASE("DatagramSocket: close() wakes a waiting recv_from; send_to after close throws") {
    LoopFixture fx;
    auto sock = run_task(fx, open_local());
    auto waiting = bulb::create_task(fx.loop, sock.recv_from());
    fx.run_briefly();
    sock.close();
    REQUIRE(fx.run_until([&] { return waiting.done(); }));
    CHECK_THROWS_AS(waiting.result(), bulb::Error);
    auto send = bulb::create_task(fx.loop, sock.send_to(bulb::as_bytes("x"), SocketAddress::from_ip("127.0.0.1", 9)));
    REQUIRE(fx.run_until([&] { return send.done(); }));
    try {
        send.result();
        FAIL("sent on a closed socket");
    } catch (const bulb::Error& e) {
        CHECK(e.code() == bulb::errc::transport_closed);
    }
    CHECK(sock.is_closing());
}

TEST_CASE("DatagramSocket: send_to waits while the send queue is above its high-water mark") {
    LoopFixture fx;
    TempDir dir;
    std::string path = dir.path + "/peer.sock";
    RawSocket peer(AF_UNIX);
    peer.bind(SocketAddress::from_unix_path(path));
    auto body = [&]() -> Task<int> {
        DatagramEndpointOptions to{.remote_path = path};
        DatagramSocket sock = co_await bulb::open_datagram_endpoint(to);
        sock.transport()->set_write_buffer_limits(4096);
        std::string msg = pattern(1000);
        for (int i = 0; i < 40; ++i) {
            co_await sock.send(bulb::as_bytes(msg));
            CHECK(sock.transport()->get_write_buffer_size() <= 4096 + 1008);
        }
        sock.close();
        co_return 40;
    };
    auto task = bulb::create_task(fx.loop, body());
    int received = 0;
    REQUIRE(fx.run_until([&] {
        char buf[2048];
        while (::recv(peer.fd, buf, sizeof buf, MSG_DONTWAIT) > 0) ++received;
        return task.done();
    }));
    CHECK(task.result() == 40);
    REQUIRE(fx.run_until([&] {
        char buf[2048];
        while (::recv(peer.fd, buf, sizeof buf, MSG_DONTWAIT) > 0) ++received;
        return received == 40;
    }));
}
