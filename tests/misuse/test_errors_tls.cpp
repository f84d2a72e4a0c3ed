// SPDX-License-Identifier: MIT
/// @file
/// One error rule (error.hpp): misuse throws std::invalid_argument / InvalidStateError, every other
/// failure is a bulb::Error with a code. And secure TLS defaults: a verifying client context must
/// be given the host name it checks (asyncio: "You must set server_hostname when using ssl
/// without a host"), or be made with the explicit opt-out verify_hostname = false.
#include <bulb/bulb.hpp>

#include "../tls/tls_support.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <sys/socket.h>
#include <unistd.h>

namespace {

auto plain_factory() {
    return [] { return std::make_unique<bulb::Protocol>(); };
}

/// A live transport on `loop` over one end of a socket pair; the other end is returned in `peer`.
bulb::TransportPtr socket_pair_transport(bulb::EventLoop& loop, int& peer) {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    peer = fds[1];
    return loop.run_until_complete(loop.connect_accepted_socket(plain_factory(), fds[0])).transport;
}

}  // namespace

TEST_CASE("OS failures of the callback API are bulb::Error with the OS code") {
    bulb::EventLoop loop;
    // A descriptor that is not open: the OS refuses to watch it.
    int fd = ::dup(0);
    REQUIRE(fd >= 0);
    ::close(fd);
    try {
        loop.add_reader(fd, [] {});
        FAIL("add_reader on a closed descriptor did not throw");
    } catch (const bulb::Error& e) {
        CHECK(e.code().category() == std::system_category());
    }
    // A refused connection fails its future with bulb::Error too.
    auto server = loop.run_until_complete(loop.create_server(plain_factory(), "127.0.0.1", 0));
    auto port = server.sockets()[0].port();
    server.close();
    loop.run_until_complete(server.wait_closed());
    CHECK_THROWS_AS(loop.run_until_complete(loop.create_connection(plain_factory(), "127.0.0.1", port)), bulb::Error);
}

TEST_CASE("misuse throws std::invalid_argument or InvalidStateError at once") {
    bulb::EventLoop loop;
    CHECK_THROWS_AS((void)loop.create_connection(plain_factory(), "", 80), std::invalid_argument);
    CHECK_THROWS_AS((void)loop.create_server(plain_factory(), std::vector<std::string>{}, 0), std::invalid_argument);
    loop.close();
    CHECK_THROWS_AS((void)loop.call_soon([] {}), bulb::InvalidStateError);
}

TEST_CASE("a verifying TLS client needs a host name: create_unix_connection and start_tls") {
    bulb::EventLoop loop;
    bulb::TlsContext verifying = bulb::TlsContext::client();
    CHECK(verifying.requires_hostname());

    bulb::ConnectOptions options;
    options.tls = verifying;
    try {
        (void)loop.create_unix_connection(plain_factory(), "/nonexistent/socket", options);
        FAIL("create_unix_connection without server_hostname did not throw");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("You must set server_hostname") != std::string::npos);
    }

    int peer = -1;
    bulb::TransportPtr transport = socket_pair_transport(loop, peer);
    try {
        (void)loop.start_tls(transport, verifying, false);
        FAIL("start_tls without server_hostname did not throw");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("verify_hostname = false") != std::string::npos);
    }
    // The explicit opt-out is accepted (the handshake itself is not the point here).
    bulb::TlsContext no_names = bulb::TlsContext::client({.verify_hostname = false});
    CHECK_FALSE(no_names.requires_hostname());
    CHECK_FALSE(bulb::TlsContext::client({.dangerously_disable_verification = true}).requires_hostname());
    auto upgrading = loop.start_tls(transport, no_names, false);
    ::close(peer);  // the handshake fails at once: the peer is gone
    CHECK_THROWS_AS(loop.run_until_complete(upgrading), bulb::Error);
}

TEST_CASE("a certificate host-name mismatch names the expected name and the certificate's names (openssl s_server)") {
    using namespace bulb_tls_test;
    const Pki& pki = Pki::get();
    // A real peer serving a certificate for alt.test (SAN DNS:alt.test, CN=alt.test), trusted CA.
    const std::uint16_t port = free_port();
    Child server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert", pki.alt, "-key",
                  pki.alt_key, "-naccept", "1", "-quiet"});
    bulb::EventLoop loop;
    bulb::ConnectOptions options;
    options.tls = bulb::TlsContext::client({.ca_file = pki.ca});
    options.server_hostname = "localhost";
    std::string what;
    std::error_code code;
    for (int attempt = 0; attempt < 100 && what.empty(); ++attempt) {  // until s_server listens
        try {
            (void)loop.run_until_complete(loop.create_connection(plain_factory(), "127.0.0.1", port, options));
            FAIL("the handshake with a certificate for another name succeeded");
            break;
        } catch (const bulb::Error& e) {
            if (e.code() == std::error_code(ECONNREFUSED, std::system_category())) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
                continue;
            }
            what = e.what();
            code = e.code();
        }
    }
    INFO(what);
    CHECK(code.category() == bulb::tls_category());
    CHECK(what.find("expected 'localhost'") != std::string::npos);
    CHECK(what.find("DNS:alt.test") != std::string::npos);
    CHECK(what.find("CN=alt.test") != std::string::npos);
    CHECK(what.find("hostname mismatch") != std::string::npos);
}

TEST_CASE("secure TLS defaults against real peers: TLS 1.1 refused both ways, even by a peer that allows it") {
    using namespace bulb_tls_test;
    const Pki& pki = Pki::get();
    // The peer lowers its own security level so that it really offers TLS 1.1 (Debian's OpenSSL
    // refuses it at level 1+); the refusal must then come from bulb's defaults.
    SUBCASE("bulb client, openssl s_server -tls1_1") {
        const std::uint16_t port = free_port();
        Child server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert", pki.srv, "-key",
                      pki.srv_key, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-naccept", "1", "-quiet"});
        bulb::EventLoop loop;
        bulb::ConnectOptions options;
        options.tls = bulb::TlsContext::client({.ca_file = pki.ca});
        options.server_hostname = "localhost";
        std::string what;
        std::error_code code;
        for (int attempt = 0; attempt < 100 && what.empty(); ++attempt) {
            try {
                (void)loop.run_until_complete(loop.create_connection(plain_factory(), "127.0.0.1", port, options));
                FAIL("a TLS 1.1 handshake succeeded");
                break;
            } catch (const bulb::Error& e) {
                if (e.code() == std::error_code(ECONNREFUSED, std::system_category())) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                    continue;
                }
                what = e.what(), code = e.code();
            }
        }
        INFO(what);
        CHECK(code.category() == bulb::tls_category());
        CHECK(what.find("TLS handshake failed") != std::string::npos);
        CHECK(what.find("protocol") != std::string::npos);
    }
    SUBCASE("bulb server, openssl s_client -tls1_1") {
        bulb::EventLoop loop;
        bulb::ServerOptions options;
        options.tls = bulb::TlsContext::server(pki.srv, pki.srv_key);
        auto server = loop.run_until_complete(loop.create_server(plain_factory(), "127.0.0.1", 0, options));
        const std::string port = std::to_string(server.sockets()[0].port());
        // The client runs on its own; the loop serves until it has exited.
        Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + port, "-tls1_1", "-cipher",
                      "DEFAULT@SECLEVEL=0", "-CAfile", pki.ca});
        client.close_stdin();
        for (int i = 0; i < 500 && !client.exited(); ++i) {
            auto stop = loop.call_later(std::chrono::milliseconds(10), [&] { loop.stop(); });
            loop.run_forever();
            client.drain();
        }
        client.drain();
        INFO(client.output);
        CHECK(client.exited());
        CHECK(client.output.find("Cipher is (NONE)") != std::string::npos);  // no session was made
        CHECK(client.output.find("alert protocol version") != std::string::npos);
        server.close();
        loop.run_until_complete(server.wait_closed());
    }
}
