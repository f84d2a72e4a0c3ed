// SPDX-License-Identifier: MIT
/// @file
/// Secure TLS defaults against real peers (issue 10): with no cipher list given, a bulb server
/// refuses an openssl s_client that offers only weak TLS 1.2 suites and a bulb client refuses an
/// openssl s_server that offers only those; neither side renegotiates; compression stays off.
/// Each peer lowers its own security level (@SECLEVEL=0) so that it really offers what it is
/// given: the refusal must come from bulb's defaults, not from the peer's.
#include "tls_support.hpp"

#include <stdexcept>
#include <string>

using namespace bulb_tls_test;

namespace {

/// TLS 1.2 suites that Debian's OpenSSL DEFAULT list still accepts at its security level 2 (3DES
/// is not built in, so no peer can offer it), and why each is weak.
struct WeakSuite {
    const char* name;
    const char* why;
};
constexpr WeakSuite weak_suites[] = {
    {"AES128-SHA", "static RSA key exchange (no forward secrecy), CBC with HMAC-SHA1"},
    {"AES256-GCM-SHA384", "static RSA key exchange (no forward secrecy)"},
    {"ECDHE-RSA-AES128-SHA", "CBC with HMAC-SHA1 (MAC-then-encrypt)"},
    {"ECDHE-RSA-AES256-SHA384", "CBC (MAC-then-encrypt)"},
    {"ECDHE-RSA-NULL-SHA", "no encryption at all"},
};

/// A suite the default accepts: the control showing that the peer and certificate work.
constexpr const char* good_suite = "ECDHE-RSA-AES128-GCM-SHA256";

/// Occurrences of `needle` in `text`.
std::size_t count(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
    return n;
}

}  // namespace

TEST_SUITE("tls") {

TEST_CASE_FIXTURE(Fixture, "a bulb server refuses an openssl s_client offering only weak TLS 1.2 cipher suites") {
    const auto& pki = Pki::get();
    auto r = std::make_shared<Record>();
    auto server = tls_server(r, bulb::TlsContext::server(pki.rsa, pki.rsa_key));
    const std::string port = std::to_string(server.sockets().at(0).port());
    auto offer = [&](const std::string& suite) {
        Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + port, "-tls1_2", "-cipher",
                      suite + "@SECLEVEL=0", "-CAfile", pki.ca});
        client.close_stdin();  // without -quiet, stdin's EOF ends s_client after the handshake
        bool done = run_until([&] {
            client.drain();
            return client.exited();
        });
        client.drain();
        CHECK_MESSAGE(done, client.output);
        return client.output;
    };
    for (const auto& weak : weak_suites) {
        INFO("offered only " << std::string(weak.name) << ": " << std::string(weak.why));
        std::string out = offer(weak.name);
        INFO(out);
        CHECK(out.find("Cipher is (NONE)") != std::string::npos);  // no session was made
        CHECK(out.find("alert handshake failure") != std::string::npos);
        CHECK_FALSE(r->made);  // nothing reached the protocol
    }
    std::string out = offer(good_suite);
    INFO(out);
    CHECK(out.find(std::string("Cipher is ") + good_suite) != std::string::npos);
    CHECK(run_until([&] { return r->lost; }));
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "a bulb client refuses an openssl s_server offering only weak TLS 1.2 cipher suites") {
    const auto& pki = Pki::get();
    auto serve = [&](const std::string& suite) {
        return std::make_unique<Child>(std::vector<std::string>{
            "openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", pki.rsa, "-key", pki.rsa_key, "-tls1_2", "-cipher",
            suite + "@SECLEVEL=0", "-naccept", "1"});
    };
    for (const auto& weak : weak_suites) {
        INFO("the server offers only " << std::string(weak.name) << ": " << std::string(weak.why));
        auto server = serve(weak.name);
        auto port = openssl_accept_port(*server);
        auto r = std::make_shared<Record>();
        auto [code, what] = failure(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx())));
        server->wait_for("no shared cipher", 5s);
        INFO(what);
        INFO(server->output);
        CHECK(code.category() == bulb::tls_category());
        CHECK(what.find("TLS handshake failed") != std::string::npos);
        CHECK(what.find("handshake failure") != std::string::npos);
        CHECK(server->output.find("no shared cipher") != std::string::npos);
        CHECK_FALSE(r->made);
    }
    auto server = serve(good_suite);
    auto port = openssl_accept_port(*server);
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx())));
    CHECK(conn.transport->get_extra_info("cipher").value_or("") == good_suite);
    conn.transport->close();
    CHECK(run_until([&] { return r->lost; }));
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "a cipher list in the options replaces the default; an unusable one is refused at once") {
    const auto& pki = Pki::get();
    CHECK_THROWS_AS(bulb::TlsContext::client({.ciphers = "NO-SUCH-SUITE"}), std::invalid_argument);
    CHECK_THROWS_WITH_AS(bulb::TlsContext::server(pki.rsa, pki.rsa_key, {.ciphers = "NO-SUCH-SUITE"}),
                         doctest::Contains("NO-SUCH-SUITE"), std::invalid_argument);
    // A server that explicitly asks for a CBC suite gets it (the user's choice, not a default).
    auto r = std::make_shared<Record>();
    auto server = tls_server(r, bulb::TlsContext::server(pki.rsa, pki.rsa_key, {.ciphers = "ECDHE-RSA-AES128-SHA"}));
    Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.sockets().at(0).port()),
                  "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA", "-CAfile", pki.ca});
    client.close_stdin();
    bool done = run_until([&] {
        client.drain();
        return client.exited();
    });
    client.drain();
    INFO(client.output);
    CHECK(done);
    CHECK(client.output.find("Cipher is ECDHE-RSA-AES128-SHA") != std::string::npos);
    CHECK(run_until([&] { return r->lost; }));
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "a bulb server refuses client-initiated renegotiation (openssl s_client R)") {
    const auto& pki = Pki::get();
    // -legacy_renegotiation lets the client renegotiate even with a peer without RFC 5746 support:
    // the refusal must not depend on the client's manners.
    for (std::string flag : {"-no_legacy_server_connect", "-legacy_renegotiation"}) {
        INFO("s_client " << flag);
        auto r = std::make_shared<Record>();
        auto server = tls_server(r, server_ctx());
        Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.sockets().at(0).port()),
                      "-tls1_2", "-CAfile", pki.ca, "-msg", flag});
        client.send("before\n");
        bool echoed = run_until([&] {
            client.drain();
            return client.output.find("\nbefore\n") != std::string::npos;
        });
        REQUIRE_MESSAGE(echoed, client.output);
        client.send("R\n");  // s_client's command: renegotiate (a new ClientHello on this connection)
        bool answered = run_until([&] {
            client.drain();
            return client.output.find("no_renegotiation") != std::string::npos || client.exited();
        });
        client.drain();
        INFO(client.output);
        CHECK(answered);
        CHECK(client.output.find("RENEGOTIATING") != std::string::npos);  // the client did ask
        CHECK(client.output.find("warning no_renegotiation") != std::string::npos);
        CHECK(count(client.output, "], ServerHello\n") == 1);  // and never got a second handshake
        CHECK(run_until([&] { return r->lost; }));  // s_client gives up with a fatal alert
        CHECK(r->data == "before\n");
        server.close();
        wait(server.wait_closed());
    }
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "a bulb client refuses a server's renegotiation request (openssl s_server r)") {
    const auto& pki = Pki::get();
    Child server({"openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", pki.srv, "-key", pki.srv_key, "-tls1_2",
                  "-msg", "-naccept", "1"});
    auto port = openssl_accept_port(server);
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx())));
    conn.transport->write(std::string_view("before\n"));
    bool seen = run_until([&] {
        server.drain();
        return server.output.find("before") != std::string::npos;
    });
    REQUIRE_MESSAGE(seen, server.output);
    server.send("r\n");  // s_server's command: renegotiate (a HelloRequest to the client)
    bool refused = run_until([&] {
        server.drain();
        return server.output.find("no_renegotiation") != std::string::npos;
    });
    bool lost = run_until([&] { return r->lost; });  // OpenSSL's server then gives up (fatal alert)
    server.drain();
    INFO(server.output);
    CHECK(server.output.find("HelloRequest") != std::string::npos);  // the server did ask
    CHECK(refused);
    CHECK(server.output.find("warning no_renegotiation") != std::string::npos);
    CHECK(count(server.output, "], ClientHello\n") == 1);  // and never got a second handshake
    CHECK(lost);
    CHECK(r->ec.category() == bulb::tls_category());  // the peer's alert, named
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "a bulb server never negotiates compression (openssl s_client -comp)") {
    // Debian's OpenSSL is built without zlib, so it cannot negotiate compression either way; this
    // guards builds that have it (bulb sets SSL_OP_NO_COMPRESSION: CRIME).
    const auto& pki = Pki::get();
    auto r = std::make_shared<Record>();
    auto server = tls_server(r, server_ctx());
    Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.sockets().at(0).port()),
                  "-tls1_2", "-comp", "-CAfile", pki.ca});
    client.close_stdin();
    bool done = run_until([&] {
        client.drain();
        return client.exited();
    });
    client.drain();
    INFO(client.output);
    CHECK(done);
    CHECK(client.output.find("New, TLSv1.2") != std::string::npos);
    CHECK(client.output.find("Compression: NONE") != std::string::npos);
    CHECK(run_until([&] { return r->lost; }));
    CHECK(exceptions.empty());
}

}  // TEST_SUITE
