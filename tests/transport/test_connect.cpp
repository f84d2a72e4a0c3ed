// SPDX-License-Identifier: MIT
/// @file
/// create_connection: refused connections, name resolution on the executor, every resolved
/// address tried in order, Happy Eyeballs (delay and family interleaving, against a black-holing
/// first address), local_addr, timeouts and cancellation. Multi-address names come from the fake
/// resolver (fake_dns.hpp); "localhost" is the real one.
#include "../support/transport_fixture.hpp"
#include "fake_dns.hpp"
#include "raw_socket.hpp"

#include <thread>

using namespace bulb_transport_test;

namespace {

using SteadyClock = std::chrono::steady_clock;

/// The error code of a failed future (or a default code if it did not fail with bulb::Error).
template <class T>
std::error_code error_of(bulb::Future<T>& f) {
    try {
        f.result();
    } catch (const bulb::Error& e) {
        return e.code();
    } catch (...) {
    }
    return {};
}

/// A port free on both 127.0.0.1 and ::1 (bound, so nothing else takes it; "refuses" connects).
struct ReservedPort {
    Fd v4, v6;
    std::uint16_t port = 0;
    ReservedPort() {
        for (int i = 0; i < 20 && port == 0; ++i) {
            v4 = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
            auto a = bulb::SocketAddress::from_ip("127.0.0.1", 0);
            REQUIRE(::bind(v4.get(), a.data(), a.size()) == 0);
            std::uint16_t p = sockname(v4.get()).port();
            v6 = Fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
            int one = 1;
            ::setsockopt(v6.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
            auto b = bulb::SocketAddress::from_ip("::1", p);
            if (::bind(v6.get(), b.data(), b.size()) == 0) port = p;
        }
        REQUIRE(port != 0);
    }
    /// Frees the port on `host` for a server to listen there.
    void release(const std::string& host) { (host == "::1" ? v6 : v4).reset(); }
};

}  // namespace

TEST_SUITE("transport") {

TEST_CASE_FIXTURE(TransportFixture, "a refused connect fails with ECONNREFUSED and calls no protocol callback") {
    ReservedPort reserved;  // bound, not listening: the kernel answers with a reset
    auto set = recorders();
    auto f = settle(loop.create_connection(recording_factory(set), "127.0.0.1", reserved.port));
    CHECK(error_of(f) == std::errc::connection_refused);
    CHECK_THROWS_AS(f.result(), bulb::Error);
    run_for(20ms);
    CHECK(set->size() == 0);
    CHECK(loop.transport_count() == 0);
    CHECK_THROWS_AS(loop.create_connection(recording_factory(set), "", 80), std::invalid_argument);
}

TEST_CASE_FIXTURE(TransportFixture, "connecting to localhost resolves the name on the executor and connects") {
    auto server_side = recorders();
    auto server = serve(server_side);
    auto set = recorders();
    auto conn = wait(loop.create_connection(recording_factory(set), "localhost", server.sockets()[0].port()));
    CHECK(conn.transport->get_peername() == server.sockets()[0]);
    conn.transport->close();
    server.close();
    REQUIRE(run_until([&] { return set->count_lost() == 1 && server_side->count_lost() == 1; }));
}

TEST_CASE_FIXTURE(TransportFixture, "a slow name lookup runs off the loop thread and never blocks the loop") {
    fake_dns::Scope dns;
    fake_dns::set("slow.bulb.test", {"127.0.0.1"}, 300ms);
    auto server_side = recorders();
    auto server = serve(server_side);
    int ticks = 0;
    bulb::TimerHandle ticker;
    std::function<void()> tick = [&] {
        ++ticks;
        ticker = loop.call_later(5ms, [&] { tick(); });
    };
    tick();
    auto set = recorders();
    auto start = SteadyClock::now();
    auto conn = wait(loop.create_connection(recording_factory(set), "slow.bulb.test", server.sockets()[0].port()));
    auto took = SteadyClock::now() - start;
    ticker.cancel();
    CHECK(took >= 290ms);
    CHECK(ticks >= 5);  // the loop went on ticking while the lookup slept (a blocked loop: 1)
    auto threads = fake_dns::threads("slow.bulb.test");
    REQUIRE(threads.size() == 1);
    CHECK(threads[0] != std::this_thread::get_id());
    conn.transport->close();
    server.close();
    REQUIRE(run_until([&] { return set->count_lost() == 1 && server_side->count_lost() == 1; }));
}

TEST_CASE_FIXTURE(TransportFixture, "every resolved address is tried in order until one accepts") {
    BULB_REQUIRE_IPV6();
    fake_dns::Scope dns;
    fake_dns::set("v6first.bulb.test", {"::1", "127.0.0.1"});
    fake_dns::set("v4first.bulb.test", {"127.0.0.1", "::1"});
    for (auto delay : {bulb::Duration::zero(), bulb::Duration(std::chrono::seconds(2))}) {
        CAPTURE(delay.count());
        for (std::string live : {"127.0.0.1", "::1"}) {
            CAPTURE(live);
            ReservedPort reserved;
            reserved.release(live);
            auto server_side = recorders();
            auto server = wait(loop.create_server(recording_factory(server_side), live, reserved.port));
            const std::string name = live == "::1" ? "v4first.bulb.test" : "v6first.bulb.test";  // the other first
            auto set = recorders();
            auto start = SteadyClock::now();
            auto conn = wait(loop.create_connection(recording_factory(set), name, reserved.port,
                                                    {.happy_eyeballs_delay = delay}));
            CHECK(SteadyClock::now() - start < 1500ms);  // a refusal moves on at once, not after the delay
            CHECK(conn.transport->get_peername().host() == live);
            CHECK(set->size() == 1);
            conn.transport->close();
            server.close();
            REQUIRE(run_until([&] { return set->count_lost() == 1 && server_side->count_lost() == 1; }));
        }
    }
    // Nobody listens anywhere: one error naming both attempts.
    ReservedPort none;
    auto f = settle(loop.create_connection(recording_factory(recorders()), "v6first.bulb.test", none.port));
    CHECK(error_of(f) == std::errc::connection_refused);
    CHECK_THROWS_WITH_AS(f.result(), doctest::Contains("[::1]"), bulb::Error);
    CHECK_THROWS_WITH_AS(f.result(), doctest::Contains("127.0.0.1"), bulb::Error);
    // The family option restricts the addresses tried.
    ReservedPort only6;
    only6.release("::1");
    auto server = wait(loop.create_server(recording_factory(recorders()), "::1", only6.port));
    auto g = settle(loop.create_connection(recording_factory(recorders()), "v6first.bulb.test", only6.port,
                                           {.family = AF_INET}));
    CHECK(error_of(g) == std::errc::connection_refused);
    server.close();
}

TEST_CASE_FIXTURE(TransportFixture, "Happy Eyeballs races the next address after the delay when the first one black-holes") {
    BULB_REQUIRE_IPV6();
    fake_dns::Scope dns;
    fake_dns::set("v6first.bulb.test", {"::1", "127.0.0.1"});
    BlackHole hole("::1");
    const auto port = hole.addr.port();
    auto server_side = recorders();
    auto server = wait(loop.create_server(recording_factory(server_side), "127.0.0.1", port));
    auto set = recorders();
    auto start = SteadyClock::now();
    auto conn = wait(loop.create_connection(recording_factory(set), "v6first.bulb.test", port,
                                            {.happy_eyeballs_delay = 200ms}));
    auto took = SteadyClock::now() - start;
    CHECK(took >= 195ms);
    CHECK(took < 3000ms);  // the black hole alone would hold the connect for minutes
    CHECK(conn.transport->get_peername().host() == "127.0.0.1");
    conn.transport->close();
    // Strictly one after another (no Happy Eyeballs), the black hole holds the attempt: timeout.
    auto g = settle(loop.create_connection(recording_factory(set), "v6first.bulb.test", port,
                                           {.happy_eyeballs_delay = bulb::Duration::zero(), .timeout = 300ms}));
    CHECK(error_of(g) == bulb::errc::timed_out);
    CHECK_THROWS_AS(g.result(), bulb::TimeoutError);
    server.close();
    REQUIRE(run_until([&] { return set->count_lost() == 1 && server_side->count_lost() == 1; }));
    CHECK(set->size() == 1);
}

TEST_CASE_FIXTURE(TransportFixture, "Happy Eyeballs interleaves address families after the first address") {
    BULB_REQUIRE_IPV6();
    fake_dns::Scope dns;
    // Resolved order: A(v4, black hole), B(v4, listening), C(v6, listening). Interleaved: A, C, B.
    fake_dns::set("three.bulb.test", {"127.0.0.2", "127.0.0.3", "::1"});
    BlackHole hole("127.0.0.2");
    const auto port = hole.addr.port();
    auto b_side = recorders(), c_side = recorders();
    auto b = wait(loop.create_server(recording_factory(b_side), "127.0.0.3", port));
    auto c = wait(loop.create_server(recording_factory(c_side), "::1", port));
    auto set = recorders();
    auto conn = wait(loop.create_connection(recording_factory(set), "three.bulb.test", port,
                                            {.happy_eyeballs_delay = 50ms}));
    CHECK(conn.transport->get_peername().host() == "::1");
    conn.transport->close();
    b.close();
    c.close();
    REQUIRE(run_until([&] { return set->count_lost() == 1 && c_side->count_lost() == 1; }));
    CHECK(b_side->size() == 0);
}

TEST_CASE_FIXTURE(TransportFixture, "local_addr binds the client socket before connecting") {
    auto server_side = recorders();
    auto server = serve(server_side);
    auto set = recorders();
    auto conn = wait(loop.create_connection(recording_factory(set), "127.0.0.1", server.sockets()[0].port(),
                                            {.local_addr = bulb::SocketAddress::from_ip("127.0.0.5", 0)}));
    CHECK(conn.transport->get_sockname().host() == "127.0.0.5");
    REQUIRE(run_until([&] { return server_side->size() == 1; }));
    CHECK(server_side->all[0]->transport->get_peername() == conn.transport->get_sockname());
    conn.transport->close();
    // A local address that cannot be bound fails the connection with the OS error.
    Fd busy = raw_listen("127.0.0.1");
    auto f = settle(loop.create_connection(recording_factory(set), "127.0.0.1", server.sockets()[0].port(),
                                           {.local_addr = sockname(busy.get())}));
    CHECK(error_of(f) == std::errc::address_in_use);
    server.close();
    REQUIRE(run_until([&] { return set->count_lost() == 1 && server_side->count_lost() == 1; }));
    CHECK(set->size() == 1);
}

TEST_CASE_FIXTURE(TransportFixture, "a connect that never completes fails with TimeoutError after the timeout") {
    BlackHole hole("127.0.0.1");
    auto set = recorders();
    auto start = SteadyClock::now();
    auto f = settle(loop.create_connection(recording_factory(set), "127.0.0.1", hole.addr.port(), {.timeout = 200ms}),
                    10000ms);
    auto took = SteadyClock::now() - start;
    CHECK_THROWS_AS(f.result(), bulb::TimeoutError);
    CHECK(took >= 195ms);
    CHECK(took < 5000ms);
    CHECK(set->size() == 0);
}

TEST_CASE_FIXTURE(TransportFixture, "a timeout shorter than the name lookup fails with TimeoutError") {
    fake_dns::Scope dns;
    fake_dns::set("slow.bulb.test", {"127.0.0.1"}, 200ms);
    auto server_side = recorders();
    auto server = serve(server_side);
    auto set = recorders();
    auto f = settle(loop.create_connection(recording_factory(set), "slow.bulb.test", server.sockets()[0].port(),
                                           {.timeout = 1ms}));
    CHECK_THROWS_AS(f.result(), bulb::TimeoutError);
    run_for(300ms);  // the lookup finishes late; nothing connects
    CHECK(set->size() == 0);
    CHECK(server_side->size() == 0);
    server.close();
}

TEST_CASE_FIXTURE(TransportFixture, "cancelling create_connection abandons the attempt without callbacks or leaks") {
    fake_dns::Scope dns;
    fake_dns::set("slow.bulb.test", {"127.0.0.1"}, 100ms);
    BlackHole hole("127.0.0.1");
    auto set = recorders();
    // While connecting.
    auto f = loop.create_connection(recording_factory(set), "127.0.0.1", hole.addr.port());
    run_for(50ms);
    CHECK_FALSE(f.done());
    CHECK(f.cancel());
    settle(f);
    CHECK(f.cancelled());
    // At once.
    auto g = loop.create_connection(recording_factory(set), "127.0.0.1", hole.addr.port());
    CHECK(g.cancel());
    settle(g);
    CHECK(g.cancelled());
    // While resolving: the late answer is dropped.
    auto server_side = recorders();
    auto server = serve(server_side);
    auto h = loop.create_connection(recording_factory(set), "slow.bulb.test", server.sockets()[0].port());
    run_for(20ms);
    CHECK(h.cancel());
    settle(h);
    CHECK(h.cancelled());
    run_for(200ms);
    CHECK(set->size() == 0);
    CHECK(server_side->size() == 0);
    server.close();
}

TEST_CASE_FIXTURE(TransportFixture, "an unknown name fails create_connection with a bulb::Error") {
    fake_dns::Scope dns;
    auto f = settle(loop.create_connection(recording_factory(recorders()), "nowhere.bulb.test", 80));
    CHECK_THROWS_WITH_AS(f.result(), doctest::Contains("nowhere.bulb.test"), bulb::Error);
}

TEST_CASE_FIXTURE(TransportFixture, "a connect still pending when the loop closes is cancelled without leaking") {
    fake_dns::Scope dns;
    fake_dns::set("slow.bulb.test", {"127.0.0.1"}, 100ms);
    BlackHole hole("127.0.0.1");
    auto set = recorders();
    auto connecting = loop.create_connection(recording_factory(set), "127.0.0.1", hole.addr.port(), {.timeout = 10s});
    auto resolving = loop.create_connection(recording_factory(set), "slow.bulb.test", hole.addr.port());
    run_for(20ms);
    CHECK_FALSE(connecting.done());
    CHECK_FALSE(resolving.done());
    loop.close();
    CHECK(connecting.cancelled());
    CHECK(resolving.cancelled());
    CHECK(set->size() == 0);
    // The audit checks that the attempt's socket was closed (and ASan that nothing leaked).
}

TEST_CASE_FIXTURE(TransportFixture, "connecting or serving on a closed loop throws InvalidStateError and leaves nothing behind") {
    loop.close();
    auto set = recorders();
    CHECK_THROWS_AS(loop.create_connection(recording_factory(set), "127.0.0.1", 9), bulb::InvalidStateError);
    CHECK_THROWS_AS(loop.create_connection(recording_factory(set), "localhost", 9), bulb::InvalidStateError);
    CHECK_THROWS_AS(loop.create_connection(recording_factory(set), "127.0.0.1", 9, {.timeout = 1s}), bulb::InvalidStateError);
    CHECK_THROWS_AS(loop.create_server(recording_factory(set), "127.0.0.1", 0), bulb::InvalidStateError);
    CHECK_THROWS_AS(loop.create_unix_connection(recording_factory(set), "/nonexistent/x.sock"), bulb::InvalidStateError);
    CHECK_THROWS_AS(loop.create_unix_server(recording_factory(set), std::string(1, '\0') + "bulb-closed-loop"),
                    bulb::InvalidStateError);
    CHECK_THROWS_AS(loop.create_server(recording_factory(set), std::vector<std::string>{"127.0.0.1"}, 0, {}),
                    bulb::InvalidStateError);
    Fd listener = raw_listen("127.0.0.1");
    CHECK_THROWS_AS(loop.create_server(recording_factory(set), std::nullopt, 0, {.sock = listener.get()}),
                    bulb::InvalidStateError);
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    Fd a(sv[0]), b(sv[1]);
    CHECK_THROWS_AS(loop.connect_accepted_socket(recording_factory(set), a.get()), bulb::InvalidStateError);
    CHECK(set->size() == 0);
    // The audit checks descriptors; ASan checks that nothing leaked.
}

}  // TEST_SUITE
