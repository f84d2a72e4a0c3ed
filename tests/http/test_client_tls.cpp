// SPDX-License-Identifier: MIT
// http::Client over TLS against http::Server with a TlsContext (a throwaway PKI made with the
// openssl CLI): verification is on by default (an unknown CA and a wrong CA are refused), a
// trusted CA gets the answer with ALPN http/1.1 on both sides, and the connection is pooled.
#include "../support/loop_fixture.hpp"
#include "../tls/tls_support.hpp"

#include <bulb/coro/run.hpp>
#include <bulb/http/coro/client.hpp>
#include <bulb/http/server.hpp>

#include <doctest/doctest.h>

namespace {

using bulb::Task;
using bulb::http::Client;
using bulb::http::Exchange;
using bulb_tls_test::Pki;

/// An https server with `cert`/`key`, announcing ALPN http/1.1; answers with the ALPN it saw.
bulb::http::Server https_server(bulb::EventLoop& loop, const std::string& cert, const std::string& key) {
    bulb::TlsServerOptions tls;
    tls.alpn = {"http/1.1"};
    bulb::ServerOptions options;
    options.tls = bulb::TlsContext::server(cert, key, tls);
    return loop.run_until_complete(bulb::http::Server::create(
        loop,
        [](Exchange& ex) {
            ex.respond(200, "alpn=" + ex.transport().get_extra_info("alpn_protocol").value_or("none"));
        },
        "127.0.0.1", 0, {}, options));
}

/// The message of what `client.get(url)` threw, or "" when it answered.
Task<std::string> failure(Client& client, std::string url) {
    try {
        co_await client.get(url);
    } catch (const std::exception& e) {
        co_return std::string(e.what());
    }
    co_return std::string();
}

}  // namespace

TEST_CASE("http::Client over TLS: verification on by default, a trusted CA answers with ALPN http/1.1, pooled") {
    const Pki& pki = Pki::get();
    bulb::EventLoop loop;
    auto good = https_server(loop, pki.srv, pki.srv_key);
    auto rogue = https_server(loop, pki.rogue, pki.rogue_key);
    std::string good_url = "https://127.0.0.1:" + std::to_string(good.sockets().at(0).port()) + "/";
    std::string rogue_url = "https://127.0.0.1:" + std::to_string(rogue.sockets().at(0).port()) + "/";

    Client by_default;  // the system trust store: the test CA is not in it
    bulb::TlsClientOptions trust_test_ca;
    trust_test_ca.ca_file = pki.ca;
    trust_test_ca.alpn = {"http/1.1"};
    Client trusting(bulb::http::ClientOptions{.tls = bulb::TlsContext::client(trust_test_ca)});
    auto run = [&]() -> Task<void> {
        std::string refused = co_await failure(by_default, good_url);
        CHECK_MESSAGE(!refused.empty(), "an unknown CA must be refused by default");
        CHECK(refused.find("certificate") != std::string::npos);
        refused = co_await failure(trusting, rogue_url);  // signed by another CA
        CHECK_MESSAGE(!refused.empty(), "a certificate from an untrusted CA must be refused");

        auto first = co_await trusting.get(good_url);
        CHECK(first.status() == 200);
        CHECK(first.body == "alpn=http/1.1");
        CHECK(trusting.idle_connections() == 1);
        auto second = co_await trusting.get(good_url);
        CHECK(second.body == "alpn=http/1.1");
        CHECK(trusting.idle_connections() == 1);  // the same connection again
    };
    loop.run_until_complete(bulb::create_task(loop, run()));
    by_default.close();
    trusting.close();
    loop.run_until_complete(good.shutdown(std::chrono::milliseconds(100)));
    loop.run_until_complete(rogue.shutdown(std::chrono::milliseconds(100)));
    for (int i = 0; i < 5; ++i) bulb_test::run_once(loop);
    loop.close();
}
