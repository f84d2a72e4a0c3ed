// SPDX-License-Identifier: MIT
/// @file
/// Servers: IPv4, IPv6, several hosts, backlog, SO_REUSEPORT, an existing socket, delayed start,
/// close (existing connections stay, new ones are refused), close_clients / abort_clients,
/// wait_closed, serve_forever.
#include "../support/transport_fixture.hpp"
#include "raw_socket.hpp"

#include <atomic>
#include <thread>

#include <fcntl.h>

using namespace bulb_transport_test;

namespace {

RecorderSetPtr echo_set(TransportFixture& fx) {
    return fx.recorders([](Recorder& r) { r.on_data = [&r](bulb::ByteView d) { r.transport->write(d); }; });
}

/// Sends `text` on a raw client and reads the echo back (blocking, with timeouts) while the loop runs.
bool echo_round_trip(TransportFixture& fx, int fd, const std::string& text) {
    std::string got;
    std::atomic<bool> done{false};
    std::jthread reader([&] {
        got = read_to_end(fd, {.keep = true, .stop_after = text.size()}).data;
        done = true;
    });
    if (!send_all(fd, text)) return false;
    fx.run_until([&] { return done.load(); });
    reader.join();
    return got == text;
}

/// A non-blocking connect to `addr`; true when it completed within `limit`.
bool connects_within(const bulb::SocketAddress& addr, std::chrono::milliseconds limit, Fd& out) {
    out = Fd(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (::connect(out.get(), addr.data(), addr.size()) == 0) return true;
    pollfd p{out.get(), POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return false;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(out.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    return err == 0;
}

}  // namespace

TEST_SUITE("transport") {

TEST_CASE_FIXTURE(TransportFixture, "a server on 127.0.0.1 port 0 listens on a real port and serves clients") {
    auto set = echo_set(*this);
    auto server = serve(set);
    CHECK(server.is_serving());
    REQUIRE(server.sockets().size() == 1);
    CHECK(server.sockets()[0].family() == AF_INET);
    CHECK(server.sockets()[0].host() == "127.0.0.1");
    CHECK(server.sockets()[0].port() != 0);
    REQUIRE(server.fds().size() == 1);
    CHECK(sockname(server.fds()[0]) == server.sockets()[0]);
    CHECK(&server.get_loop() == &loop);
    Fd c = raw_connect(server.sockets()[0]);
    CHECK(echo_round_trip(*this, c.get(), "hello server"));
    CHECK(server.connection_count() == 1);
    c.reset();
    REQUIRE(run_until([&] { return server.connection_count() == 0; }));
    server.close();
}

TEST_CASE_FIXTURE(TransportFixture, "a server on ::1 serves IPv6 clients") {
    BULB_REQUIRE_IPV6();
    auto set = echo_set(*this);
    auto server = serve(set, "::1");
    REQUIRE(server.sockets().size() == 1);
    CHECK(server.sockets()[0].family() == AF_INET6);
    CHECK(server.sockets()[0].host() == "::1");
    Fd c = raw_connect(server.sockets()[0]);
    CHECK(echo_round_trip(*this, c.get(), "hello v6"));
    CHECK(set->all.at(0)->transport->get_peername().family() == AF_INET6);
    server.close();
    server.abort_clients();
}

TEST_CASE_FIXTURE(TransportFixture, "a server on several hosts listens on each of them") {
    BULB_REQUIRE_IPV6();
    auto set = echo_set(*this);
    auto server = wait(loop.create_server(recording_factory(set), std::vector<std::string>{"127.0.0.1", "::1"}, 0, {}));
    auto socks = server.sockets();
    REQUIRE(socks.size() == 2);
    CHECK(socks[0].family() == AF_INET);
    CHECK(socks[1].family() == AF_INET6);
    for (auto& a : socks) {
        Fd c = raw_connect(a);
        CHECK(echo_round_trip(*this, c.get(), "via " + a.to_string()));
    }
    REQUIRE(run_until([&] { return set->count_lost() == 2; }));
    CHECK_THROWS_AS(loop.create_server(recording_factory(set), std::vector<std::string>{}, 0, {}), std::invalid_argument);
    server.close();
    wait(server.wait_closed());
}

TEST_CASE_FIXTURE(TransportFixture, "the backlog option reaches listen() and queued clients are served once accepting starts") {
    auto set = echo_set(*this);
    auto server = serve(set, "127.0.0.1", {.backlog = 1, .start_serving = false});
    std::vector<Fd> clients(6);
    int connected = 0;
    for (auto& c : clients) connected += connects_within(server.sockets()[0], 100ms, c);
    CHECK(connected >= 1);
    CHECK(connected <= 3);  // backlog 1: the kernel queues one or two, the rest wait for room
    server.start_serving();
    REQUIRE(run_until([&] { return set->size() == 6; }, 15000ms));
    clients.clear();
    REQUIRE(run_until([&] { return set->count_lost() == 6; }));
    server.close();
}

TEST_CASE_FIXTURE(TransportFixture, "reuse_port lets two servers share one port and both serve") {
    auto a_set = echo_set(*this), b_set = echo_set(*this);
    auto a = serve(a_set, "127.0.0.1", {.reuse_port = true});
    const auto port = a.sockets()[0].port();
    auto b = wait(loop.create_server(recording_factory(b_set), "127.0.0.1", port, {.reuse_port = true}));
    CHECK(b.sockets()[0].port() == port);
    // Without reuse_port the port is taken.
    auto taken = settle(loop.create_server(recording_factory(b_set), "127.0.0.1", port, {}));
    CHECK_THROWS_WITH_AS(taken.result(), doctest::Contains("could not bind"), bulb::Error);
    try {
        taken.result();
    } catch (const bulb::Error& e) {
        CHECK(e.code() == std::errc::address_in_use);
    }
    std::vector<Fd> clients;
    for (int i = 0; i < 32; ++i) clients.push_back(raw_connect(a.sockets()[0]));
    REQUIRE(run_until([&] { return a_set->size() + b_set->size() == 32; }));
    MESSAGE("connections spread as ", a_set->size(), " / ", b_set->size());
    CHECK(a_set->size() > 0);  // the kernel spreads them by hash: all 32 on one side has p = 2^-31
    CHECK(b_set->size() > 0);
    clients.clear();
    REQUIRE(run_until([&] { return a_set->count_lost() + b_set->count_lost() == 32; }));
    a.close();
    b.close();
}

TEST_CASE_FIXTURE(TransportFixture, "a server adopts an existing listening socket and closes it") {
    Fd listener = raw_listen("127.0.0.1");
    const auto addr = sockname(listener.get());
    const int fd = listener.release();
    auto set = echo_set(*this);
    auto server = wait(loop.create_server(recording_factory(set), std::nullopt, 0, {.sock = fd}));
    REQUIRE(server.sockets().size() == 1);
    CHECK(server.sockets()[0] == addr);
    CHECK(server.fds()[0] == fd);
    CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    Fd c = raw_connect(addr);
    CHECK(echo_round_trip(*this, c.get(), "adopted"));
    c.reset();
    server.close();
    CHECK(::fcntl(fd, F_GETFD) == -1);  // closed by the server
    CHECK(errno == EBADF);
    REQUIRE(run_until([&] { return set->count_lost() == 1; }));
}

TEST_CASE_FIXTURE(TransportFixture, "start_serving=false accepts nothing until start_serving()") {
    auto set = echo_set(*this);
    auto server = serve(set, "127.0.0.1", {.start_serving = false});
    CHECK_FALSE(server.is_serving());
    CHECK(server.sockets().size() == 1);
    Fd c = raw_connect(server.sockets()[0]);  // the kernel completes the handshake
    run_for(50ms);
    CHECK(set->size() == 0);
    server.start_serving();
    server.start_serving();  // idempotent
    CHECK(server.is_serving());
    CHECK(echo_round_trip(*this, c.get(), "now"));
    CHECK(set->size() == 1);
    server.close();
    server.close_clients();
}

TEST_CASE_FIXTURE(TransportFixture, "close stops accepting, leaves existing connections open, and wait_closed waits for them") {
    auto set = echo_set(*this);
    auto server = serve(set);
    const auto addr = server.sockets()[0];
    Fd c = raw_connect(addr);
    CHECK(echo_round_trip(*this, c.get(), "before close"));
    auto closed = server.wait_closed();  // asked before close()
    server.close();
    server.close();  // idempotent
    CHECK_FALSE(server.is_serving());
    CHECK(server.sockets().empty());
    CHECK(server.fds().empty());
    server.start_serving();  // no effect once closed
    CHECK_FALSE(server.is_serving());
    // The existing connection still works.
    CHECK(echo_round_trip(*this, c.get(), "after close"));
    // New connections are refused.
    auto refused = settle(loop.create_connection(recording_factory(recorders()), addr.host(), addr.port()));
    CHECK_THROWS_AS(refused.result(), bulb::Error);
    run_for(20ms);
    CHECK_FALSE(closed.done());
    auto closed_late = server.wait_closed();
    CHECK(server.connection_count() == 1);
    c.reset();
    wait(closed);
    CHECK(set->all[0]->is_lost());  // resolved only once the last connection was gone
    wait(closed_late);
    wait(server.wait_closed());  // after the fact: resolves too
}

TEST_CASE_FIXTURE(TransportFixture, "close_clients flushes and closes every connection, abort_clients resets them") {
    const std::string big = pattern(4u << 20);
    auto set = recorders([&](Recorder& r) { r.on_made = [&](bulb::Transport& t) { t.write(big); }; });
    auto server = serve(set);
    std::vector<Fd> gentle, rough;
    for (int i = 0; i < 3; ++i) gentle.push_back(raw_connect(server.sockets()[0]));
    REQUIRE(run_until([&] { return set->size() == 3; }));
    server.close_clients();
    std::vector<ReadResult> seen(3);
    {
        std::vector<std::jthread> readers;
        for (int i = 0; i < 3; ++i)
            readers.emplace_back([&, i] { seen[i] = read_to_end(gentle[i].get(), {.check_pattern = true}); });
        REQUIRE(run_until([&] { return set->count_lost() == 3; }, 15000ms));
    }
    for (auto& s : seen) {
        CHECK(s.eof);
        CHECK(s.bytes == big.size());
        CHECK(s.mismatch == std::string::npos);
    }
    for (int i = 0; i < 3; ++i) rough.push_back(raw_connect(server.sockets()[0]));
    REQUIRE(run_until([&] { return set->size() == 6; }));
    run_for(20ms);
    server.abort_clients();
    REQUIRE(run_until([&] { return set->count_lost() == 6; }));
    for (auto& c : rough) CHECK(read_to_end(c.get()).error == ECONNRESET);
    for (std::size_t i = 0; i < set->size(); ++i) CHECK(!(*set)[i].lost_ec);
    CHECK(server.is_serving());  // ending clients does not close the server
    server.close();
    wait(server.wait_closed());
}

TEST_CASE_FIXTURE(TransportFixture, "cancelling serve_forever closes the server, and close() cancels serve_forever") {
    auto set = echo_set(*this);
    auto server = serve(set, "127.0.0.1", {.start_serving = false});
    auto forever = server.serve_forever();
    CHECK(server.is_serving());
    CHECK_THROWS_AS(server.serve_forever(), bulb::InvalidStateError);
    Fd c = raw_connect(server.sockets()[0]);
    CHECK(echo_round_trip(*this, c.get(), "serving"));
    run_for(20ms);
    CHECK_FALSE(forever.done());
    forever.cancel();
    REQUIRE(run_until([&] { return !server.is_serving(); }));
    CHECK(forever.cancelled());
    CHECK(server.sockets().empty());
    CHECK_THROWS_AS(server.serve_forever(), bulb::InvalidStateError);
    c.reset();

    auto other = serve(echo_set(*this));
    auto forever2 = other.serve_forever();
    other.close();
    REQUIRE(run_until([&] { return forever2.done(); }));
    CHECK(forever2.cancelled());
    wait(server.wait_closed());
    wait(other.wait_closed());
}

TEST_CASE_FIXTURE(TransportFixture, "a server nobody keeps a handle to goes on serving until the loop closes") {
    auto set = echo_set(*this);
    bulb::SocketAddress addr;
    {
        auto server = serve(set);
        addr = server.sockets()[0];
    }
    Fd c = raw_connect(addr);
    CHECK(echo_round_trip(*this, c.get(), "orphan"));
    c.reset();
    REQUIRE(run_until([&] { return set->count_lost() == 1; }));
}

TEST_CASE_FIXTURE(TransportFixture, "create_server fails with the OS error on a port already in use") {
    Fd taken = raw_listen("127.0.0.1");
    auto f = settle(loop.create_server(recording_factory(recorders()), "127.0.0.1", sockname(taken.get()).port()));
    try {
        f.result();
        FAIL("expected EADDRINUSE");
    } catch (const bulb::Error& e) {
        CHECK(e.code() == std::errc::address_in_use);
    }
}

TEST_CASE_FIXTURE(TransportFixture, "a server serving forever when the loop closes is closed and freed") {
    auto token = std::make_shared<int>(0);  // lives in the server's protocol factory
    auto set = recorders();
    auto inner = recording_factory(set);
    {
        auto server = wait(loop.create_server([token, f = std::move(inner)]() mutable { return f(); }, "127.0.0.1", 0));
        auto forever = server.serve_forever();
        Fd c = raw_connect(server.sockets()[0]);
        REQUIRE(run_until([&] { return set->size() == 1; }));
        c.reset();
        REQUIRE(run_until([&] { return set->count_lost() == 1; }));
        CHECK(token.use_count() == 2);
        loop.close();  // closes the server, cancels serve_forever
        CHECK(forever.cancelled());
        CHECK_FALSE(server.is_serving());
    }
    CHECK(token.use_count() == 1);  // the server (and its factory) are gone
}

TEST_CASE_FIXTURE(TransportFixture, "a server closed just before the loop closes is freed even if serve_forever's callback never ran") {
    auto token = std::make_shared<int>(0);
    {
        auto server = wait(loop.create_server([token]() -> std::unique_ptr<bulb::Protocol> { return nullptr; }, "127.0.0.1", 0));
        auto forever = server.serve_forever();
        server.close();
        CHECK(forever.cancelled());
        loop.close();  // the loop never ran the cancelled future's callbacks
    }
    CHECK(token.use_count() == 1);
}

}  // TEST_SUITE
