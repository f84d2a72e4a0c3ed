// SPDX-License-Identifier: MIT
/// @file
/// EventLoop::getaddrinfo / getnameinfo and gai_category (no network: numeric hosts, /etc/hosts'
/// localhost, and failures the resolver decides locally).
#include "datagram_support.hpp"

#include <bulb/getaddrinfo.hpp>

#include <algorithm>
#include <netdb.h>

using namespace dgram_test;

TEST_CASE("getaddrinfo: numeric hosts, services by number and name, type and family filters") {
    LoopFixture fx;
    auto v4 = fx.wait(fx.loop.getaddrinfo("127.0.0.1", "8080", AF_UNSPEC, SOCK_DGRAM));
    REQUIRE(v4.size() == 1);
    CHECK(v4[0].family == AF_INET);
    CHECK(v4[0].type == SOCK_DGRAM);
    CHECK(v4[0].protocol == IPPROTO_UDP);
    CHECK(v4[0].addr.to_string() == "127.0.0.1:8080");

    auto any = fx.wait(fx.loop.getaddrinfo("127.0.0.1", std::nullopt));
    CHECK(any.size() >= 2);  // one answer per socket type
    CHECK(std::all_of(any.begin(), any.end(), [](auto& a) { return a.addr.port() == 0; }));

    auto named = fx.wait(fx.loop.getaddrinfo("localhost", "domain", AF_INET, SOCK_STREAM, 0, AI_CANONNAME));
    REQUIRE(!named.empty());
    CHECK(named[0].addr.to_string() == "127.0.0.1:53");
    CHECK(!named[0].canonname.empty());

    auto passive = fx.wait(fx.loop.getaddrinfo(std::nullopt, "0", AF_INET, SOCK_DGRAM, 0, AI_PASSIVE));
    REQUIRE(passive.size() == 1);
    CHECK(passive[0].addr.host() == "0.0.0.0");
}

TEST_CASE("getaddrinfo failures keep their EAI identity, with the resolver's message alone") {
    LoopFixture fx;
    auto fails = [&](bulb::Future<std::vector<bulb::AddrInfo>> f) -> bulb::Error {
        REQUIRE(fx.run_until([&] { return f.done(); }));
        try {
            f.result();
        } catch (const bulb::Error& e) {
            return e;
        }
        FAIL("resolved");
        return bulb::Error(bulb::errc::invalid_state);
    };
    auto noname = fails(fx.loop.getaddrinfo("not a numeric host", std::nullopt, 0, 0, 0, AI_NUMERICHOST));
    CHECK(noname.code() == bulb::gai_errc::no_name);
    CHECK(noname.code() != bulb::gai_errc::again);
    CHECK(noname.code().category() == bulb::gai_category());
    CHECK(std::string(noname.code().category().name()) == "getaddrinfo");
    CHECK(std::string(noname.what()) == "getaddrinfo('not a numeric host', NULL): " + std::string(gai_strerror(EAI_NONAME)));

    auto service = fails(fx.loop.getaddrinfo("127.0.0.1", "no-such-service-bulb", AF_INET, SOCK_STREAM));
    CHECK((service.code() == bulb::gai_errc::service || service.code() == bulb::gai_errc::no_name));

    auto flags = fails(fx.loop.getaddrinfo("127.0.0.1", std::nullopt, 0, 0, 0, 0x7fff0000));
    CHECK(flags.code() == bulb::gai_errc::bad_flags);

    auto family = fails(fx.loop.getaddrinfo("127.0.0.1", std::nullopt, 12345));
    CHECK(family.code() == bulb::gai_errc::family);

    // EAI_AGAIN is told apart in code even though no test can make a DNS server time out here.
    CHECK(std::error_code(bulb::gai_errc::again) != std::error_code(bulb::gai_errc::no_name));
    CHECK(bulb::gai_error_code(EAI_AGAIN, 0) == bulb::gai_errc::again);
    CHECK(bulb::gai_error_code(EAI_SYSTEM, ENOMEM) == std::errc::not_enough_memory);
}

TEST_CASE("create_datagram_endpoint: an unresolvable remote fails with the resolver's code, nothing appended") {
    LoopFixture fx;
    auto f = fx.loop.create_datagram_endpoint(
        recorder(std::make_shared<Record>()),
        bulb::DatagramEndpointOptions{.remote_addr = bulb::HostPort{"bad host name with spaces", 53}});
    REQUIRE(fx.run_until([&] { return f.done(); }, 20000ms));
    try {
        f.result();
        FAIL("resolved");
    } catch (const bulb::Error& e) {
        CHECK(e.code().category() == bulb::gai_category());
        std::string what = e.what();
        CHECK(what.find("bad host name with spaces") != std::string::npos);
        CHECK(what == "cannot resolve 'bad host name with spaces': " + e.code().message());
    }
}

TEST_CASE("getnameinfo: numeric and named answers; other families are refused at once") {
    LoopFixture fx;
    auto addr = bulb::SocketAddress::from_ip("127.0.0.1", 53);
    auto numeric = fx.wait(fx.loop.getnameinfo(addr, NI_NUMERICHOST | NI_NUMERICSERV));
    CHECK(numeric.host == "127.0.0.1");
    CHECK(numeric.service == "53");
    auto named = fx.wait(fx.loop.getnameinfo(addr, NI_DGRAM));
    CHECK(named.host == "localhost");
    CHECK(named.service == "domain");
    CHECK_THROWS_AS(fx.loop.getnameinfo(bulb::SocketAddress::from_unix_path("/tmp/x")), std::invalid_argument);
    auto f = fx.loop.getnameinfo(addr, NI_NAMEREQD | NI_NUMERICHOST | 0x40000000);
    REQUIRE(fx.run_until([&] { return f.done(); }));
    CHECK_THROWS_AS(f.result(), bulb::Error);
}
