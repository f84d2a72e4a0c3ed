// SPDX-License-Identifier: MIT
/// @file
/// asyncio/ssl parity for TLS (issue 17): client session resumption, version bounds and cipher and
/// group lists, certificates and keys from memory, encrypted keys, mutual TLS against the openssl
/// CLI, start_tls timeouts, typed get_extra_info. Each case names the CPython test it follows.
#include "tls_support.hpp"

#include <fstream>
#include <iterator>
#include <sstream>

using namespace bulb_tls_test;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in, "cannot read " << path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// The client key encrypted with "secret" (AES-256), made once.
const std::string& encrypted_client_key() {
    static const std::string path = [] {
        const auto& pki = Pki::get();
        std::string p = pki.dir + "/cli-enc.key";
        sh("openssl pkey -in " + pki.cli_key + " -aes256 -passout pass:secret -out " + p);
        return p;
    }();
    return path;
}

/// s_server on a free port; `extra` are further flags. Waits until it accepts.
std::unique_ptr<Child> s_server(std::uint16_t& port, std::vector<std::string> extra) {
    const auto& pki = Pki::get();
    port = free_port();
    std::vector<std::string> argv{"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                                  pki.srv, "-key", pki.srv_key};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child = std::make_unique<Child>(argv);
    REQUIRE_MESSAGE(child->wait_for("ACCEPT"), child->output);
    return child;
}

/// A protocol that upgrades its connection with start_tls as soon as it is made.
class UpgradeOnConnect : public Recorder {
public:
    UpgradeOnConnect(RecordPtr r, bulb::TlsContext ctx, bulb::StartTlsOptions options,
                     std::shared_ptr<std::optional<bulb::Future<bulb::RefPtr<bulb::Transport>>>> out)
        : Recorder(std::move(r)), ctx_(std::move(ctx)), options_(std::move(options)), out_(std::move(out)) {}
    void connection_made(bulb::Transport& t) override {
        Recorder::connection_made(t);
        *out_ = t.get_loop().start_tls(bulb::RefPtr<bulb::Transport>(&t), ctx_, options_);
    }

private:
    bulb::TlsContext ctx_;
    bulb::StartTlsOptions options_;
    std::shared_ptr<std::optional<bulb::Future<bulb::RefPtr<bulb::Transport>>>> out_;
};

}  // namespace

TEST_SUITE("tls") {

// --- session resumption -------------------------------------------------------------------------

// test_ssl.py ThreadedTests.test_session (a second connection with the first one's session
// resumes; session_reused says so), against openssl s_server, TLS 1.3 tickets and TLS 1.2.
TEST_CASE_FIXTURE(Fixture, "session resumption: bulb client against openssl s_server, TLS 1.3 and TLS 1.2") {
    const auto& pki = Pki::get();
    for (bulb::TlsVersion version : {bulb::TlsVersion::tls1_3, bulb::TlsVersion::tls1_2}) {
        CAPTURE(bulb::to_string(version));
        std::uint16_t port = 0;
        auto server = s_server(port, {"-rev", "-naccept", "3"});
        bulb::TlsClientOptions co;
        co.ca_file = pki.ca;
        co.maximum_version = version;
        auto ctx = bulb::TlsContext::client(co);
        auto once = [&](const std::string& word) {
            auto r = std::make_shared<Record>();
            auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(ctx)));
            conn.transport->write(std::string_view(word + "\n"));
            std::string reversed(word.rbegin(), word.rend());
            // The echo follows the server's tickets: once it is here, the session is cached.
            CHECK_MESSAGE(run_until([&] { return r->data.find(reversed) != std::string::npos; }), r->data);
            CHECK(conn.transport->get_extra_info<bulb::TlsVersion>("version") == version);
            auto reused = conn.transport->get_extra_info<bool>("session_reused");
            CHECK(conn.transport->get_extra_info("session_reused") == std::string(reused.value_or(false) ? "1" : "0"));
            conn.transport->close();
            CHECK(run_until([&] { return r->lost; }));
            CHECK(!r->ec);
            return reused;
        };
        CHECK(ctx.session_cache_count() == 0);
        CHECK(once("first") == false);
        CHECK(ctx.session_cache_count() == 1);
        CHECK(once("second") == true);
        CHECK(once("third") == true);  // TLS 1.3: the ticket of the second connection; 1.2: the session again
        CHECK(run_until([&] {
            server->drain();
            return server->exited();
        }));
    }
    CHECK(exceptions.empty());
}

// test_ssl.py ThreadedTests.test_session_handling (a session belongs to the server it came from)
// and test_session: bulb client and bulb server, both sides see the resumption.
TEST_CASE_FIXTURE(Fixture, "session resumption: bulb <-> bulb, both sides see it; another port does not resume") {
    std::vector<RecordPtr> server_side;
    auto factory_of = [&server_side] {
        return [&server_side] {
            server_side.push_back(std::make_shared<Record>());
            return std::make_unique<Recorder>(server_side.back(), /*echo=*/true);
        };
    };
    auto server = tls_server(factory_of(), server_ctx());
    auto other = tls_server(factory_of(), server_ctx());
    auto ctx = client_ctx();
    auto once = [&](std::uint16_t port) {
        auto r = std::make_shared<Record>();
        auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(ctx)));
        conn.transport->write(std::string_view("x"));
        CHECK(run_until([&] { return r->data == "x"; }));
        auto reused = conn.transport->get_extra_info<bool>("session_reused");
        REQUIRE(server_side.back()->transport);
        CHECK(server_side.back()->transport->get_extra_info<bool>("session_reused") == reused);
        conn.transport->close();
        CHECK(run_until([&] { return r->lost; }));
        return reused.value_or(false);
    };
    CHECK(!once(server.sockets().at(0).port()));
    CHECK(once(server.sockets().at(0).port()));
    CHECK(!once(other.sockets().at(0).port()));  // keyed by host and port
    CHECK(ctx.session_cache_count() == 2);
    // A context without the cache never resumes.
    bulb::TlsClientOptions co;
    co.ca_file = Pki::get().ca;
    co.session_cache = false;
    ctx = bulb::TlsContext::client(co);
    CHECK(!once(server.sockets().at(0).port()));
    CHECK(!once(server.sockets().at(0).port()));
    CHECK(ctx.session_cache_count() == 0);
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
    CHECK(exceptions.empty());
}

// --- versions, ciphers, groups --------------------------------------------------------------------

// test_ssl.py ThreadedTests.test_min_max_version and ContextTests.test_min_max_version.
TEST_CASE_FIXTURE(Fixture, "version bounds: negotiated within them, disjoint bounds fail naming host and port") {
    const auto& pki = Pki::get();
    bulb::TlsServerOptions so;
    so.minimum_version = bulb::TlsVersion::tls1_3;
    auto sr = std::make_shared<Record>();
    auto server = tls_server(sr, bulb::TlsContext::server(pki.srv, pki.srv_key, so));
    const auto port = server.sockets().at(0).port();
    bulb::TlsClientOptions co;
    co.ca_file = pki.ca;
    co.maximum_version = bulb::TlsVersion::tls1_2;
    auto r = std::make_shared<Record>();
    auto [ec, what] = failure(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(bulb::TlsContext::client(co))));
    CHECK(ec.category() == bulb::tls_category());
    CHECK_MESSAGE(what.find("TLS handshake failed with localhost at 127.0.0.1:" + std::to_string(port)) != std::string::npos, what);
    CHECK_MESSAGE(what.find("protocol version") != std::string::npos, what);
    // The default client (1.2 .. 1.3) gets 1.3.
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx())));
    CHECK(conn.transport->get_extra_info<bulb::TlsVersion>("version") == bulb::TlsVersion::tls1_3);
    CHECK(conn.transport->get_extra_info("version") == "TLSv1.3");
    conn.transport->close();
    CHECK(run_until([&] { return r->lost && loop.transport_count() == 0; }));
    // minimum above maximum is a usage error.
    bulb::TlsClientOptions bad;
    bad.minimum_version = bulb::TlsVersion::tls1_3;
    bad.maximum_version = bulb::TlsVersion::tls1_2;
    CHECK_THROWS_AS(bulb::TlsContext::client(bad), std::invalid_argument);
    CHECK(exceptions.empty());
}

// test_ssl.py ContextTests.test_ciphers (a list nothing matches is an error) and
// ThreadedTests.test_shared_ciphers / test_ecdh_curve (the negotiated cipher, a group list).
TEST_CASE_FIXTURE(Fixture, "cipher and group lists: chosen ciphers show in get_extra_info, bad lists throw") {
    const auto& pki = Pki::get();
    std::uint16_t port = 0;
    auto server = s_server(port, {"-rev", "-naccept", "2"});
    SUBCASE("TLS 1.3 suite, X25519 only") {
        bulb::TlsClientOptions co;
        co.ca_file = pki.ca;
        co.ciphersuites = "TLS_CHACHA20_POLY1305_SHA256";
        co.groups = "X25519";
        auto r = std::make_shared<Record>();
        auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(bulb::TlsContext::client(co))));
        auto cipher = conn.transport->get_extra_info<bulb::TlsCipher>("cipher");
        REQUIRE(cipher);
        CHECK(cipher->name == "TLS_CHACHA20_POLY1305_SHA256");
        CHECK(cipher->protocol == "TLSv1.3");
        CHECK(cipher->secret_bits == 256);
        CHECK(conn.transport->get_extra_info("cipher") == cipher->name);
        conn.transport->close();
        CHECK(run_until([&] { return r->lost; }));
    }
    SUBCASE("TLS 1.2 cipher list") {
        bulb::TlsClientOptions co;
        co.ca_file = pki.ca;
        co.maximum_version = bulb::TlsVersion::tls1_2;
        co.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
        auto r = std::make_shared<Record>();
        auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(bulb::TlsContext::client(co))));
        auto cipher = conn.transport->get_extra_info<bulb::TlsCipher>("cipher");
        REQUIRE(cipher);
        CHECK(cipher->name == "ECDHE-ECDSA-AES128-GCM-SHA256");
        CHECK(cipher->protocol == "TLSv1.2");
        CHECK(cipher->secret_bits == 128);
        conn.transport->close();
        CHECK(run_until([&] { return r->lost; }));
    }
    server->kill9();
    auto message_of = [](auto make) {
        try {
            make();
        } catch (const std::exception& e) {  // bulb::Error, or std::invalid_argument for a bad list
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    bulb::TlsClientOptions co;
    co.ciphers = "^$:,;?*'dorothyx";
    CHECK(message_of([&] { bulb::TlsContext::client(co); }).find("cipher list '^$:,;?*'dorothyx'") != std::string::npos);
    bulb::TlsServerOptions so;
    so.groups = "no-such-group";
    CHECK(message_of([&] { bulb::TlsContext::server(pki.srv, pki.srv_key, so); }).find("'no-such-group'") != std::string::npos);
    so.groups = {};
    so.ciphersuites = "TLS_NO_SUCH_SUITE";
    CHECK(message_of([&] { bulb::TlsContext::server(pki.srv, pki.srv_key, so); }).find("TLS_NO_SUCH_SUITE") != std::string::npos);
    // Disjoint groups: the handshake fails.
    bulb::TlsServerOptions p384;
    p384.groups = "P-384";
    auto sr = std::make_shared<Record>();
    auto bulb_server = tls_server(sr, bulb::TlsContext::server(pki.srv, pki.srv_key, p384));
    bulb::TlsClientOptions x25519;
    x25519.ca_file = pki.ca;
    x25519.groups = "X25519";
    auto r = std::make_shared<Record>();
    auto [ec, what] = failure(loop.create_connection(factory(r), "127.0.0.1", bulb_server.sockets().at(0).port(),
                                                     tls_connect(bulb::TlsContext::client(x25519))));
    CHECK_MESSAGE(ec.category() == bulb::tls_category(), what);
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
}

// --- identities from memory, encrypted keys ------------------------------------------------------

// test_ssl.py ContextTests.test_load_cert_chain (password as str, callable, wrong, raising) and
// test_load_verify_cadata (CAs as PEM text).
TEST_CASE_FIXTURE(Fixture, "certificates and keys from PEM text, an encrypted key with a password callback") {
    const auto& pki = Pki::get();
    bulb::TlsCertificate identity;
    identity.cert_chain_pem = slurp(pki.srv);
    identity.key_pem = slurp(pki.srv_key);
    bulb::TlsServerOptions so;
    so.client_ca_pem = slurp(pki.ca);
    auto sr = std::make_shared<Record>();
    auto server = tls_server(sr, bulb::TlsContext::server(identity, so));
    bulb::TlsClientOptions co;
    co.ca_pem = slurp(pki.ca);
    co.cert_pem = slurp(pki.cli);
    co.key_file = encrypted_client_key();
    int asked = 0;
    co.key_password = [&asked] {
        ++asked;
        return std::string("secret");
    };
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", server.sockets().at(0).port(),
                                            tls_connect(bulb::TlsContext::client(co))));
    CHECK(asked == 1);
    conn.transport->write(std::string_view("pem"));
    CHECK(run_until([&] { return r->data == "pem"; }));
    REQUIRE(sr->transport);
    CHECK(sr->transport->get_extra_info<bulb::TlsPeerCertificate>("peercert")->subject == "CN=bulb-client");
    conn.transport->close();
    CHECK(run_until([&] { return r->lost && sr->lost; }));

    auto message_of = [](const bulb::TlsClientOptions& o) {
        try {
            bulb::TlsContext::client(o);
        } catch (const bulb::Error& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    bulb::TlsClientOptions bad = co;
    bad.key_password = {};
    CHECK(message_of(bad).find("'" + encrypted_client_key() + "' is encrypted and no key_password") != std::string::npos);
    bad.key_password = [] { return std::string("wrong"); };
    CHECK(message_of(bad).find("cannot decrypt private key '" + encrypted_client_key() + "'") != std::string::npos);
    bad.key_password = []() -> std::string { throw std::runtime_error("no keyring"); };
    CHECK_THROWS_WITH_AS(bulb::TlsContext::client(bad), "no keyring", std::runtime_error);
    bad = co;
    bad.key_file.clear();
    bad.key_pem = slurp(encrypted_client_key());
    bad.key_password = [] { return std::string("wrong"); };
    CHECK(message_of(bad).find("TlsClientOptions::key_pem") != std::string::npos);
    bad = co;
    bad.ca_pem = "not PEM at all";
    CHECK(message_of(bad).find("TlsClientOptions::ca_pem") != std::string::npos);
    bad = co;
    bad.cert_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    CHECK(message_of(bad).find("TlsClientOptions::cert_pem") != std::string::npos);
    // A PEM server key that is not the certificate's.
    identity.key_pem = slurp(pki.cli_key);
    CHECK_THROWS_AS(bulb::TlsContext::server(identity, so), bulb::Error);
    CHECK(exceptions.empty());
}

// --- mutual TLS against the openssl CLI ----------------------------------------------------------

// test_ssl.py's mutual-TLS cases (a CERT_REQUIRED server, a client that load_cert_chain()s, as in
// ThreadedTests.test_getpeercert's server side): bulb client against s_server -Verify.
TEST_CASE_FIXTURE(Fixture, "mutual TLS: bulb client (PEM cert, encrypted key) against openssl s_server -Verify") {
    const auto& pki = Pki::get();
    std::uint16_t port = 0;
    auto server = s_server(port, {"-rev", "-Verify", "1", "-CAfile", pki.ca, "-naccept", "1"});
    bulb::TlsClientOptions co;
    co.ca_file = pki.ca;
    co.cert_pem = slurp(pki.cli);
    co.key_pem = slurp(encrypted_client_key());
    co.key_password = [] { return std::string("secret"); };
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(bulb::TlsContext::client(co))));
    conn.transport->write(std::string_view("mutual\n"));
    CHECK(run_until([&] { return r->data.find("lautum") != std::string::npos; }));
    CHECK(conn.transport->get_extra_info<bool>("peercert_verified") == true);
    CHECK(run_until([&] {
        server->drain();
        return server->output.find("bulb-client") != std::string::npos;
    }));
    CHECK_MESSAGE(server->output.find("verify return:1") != std::string::npos, server->output);
    conn.transport->close();
    CHECK(run_until([&] { return r->lost; }));
    CHECK(!r->ec);
}

// The same from the other side: s_client -cert/-key against a bulb server that requires client
// certificates (CAs from PEM text), and one that only asks for them.
TEST_CASE_FIXTURE(Fixture, "mutual TLS: openssl s_client -cert against a bulb server; verification results exposed") {
    const auto& pki = Pki::get();
    for (bool required : {true, false}) {
        CAPTURE(required);
        bulb::TlsServerOptions so;
        so.client_ca_pem = slurp(pki.ca);
        so.require_client_certificate = required;
        auto sr = std::make_shared<Record>();
        auto server = tls_server(sr, bulb::TlsContext::server(pki.srv, pki.srv_key, so));
        const std::string port = std::to_string(server.sockets().at(0).port());
        {
            Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + port, "-CAfile", pki.ca, "-cert", pki.cli,
                          "-key", pki.cli_key, "-verify_return_error", "-quiet", "-no_ign_eof"});
            client.send("hello\n");
            CHECK(run_until([&] {
                client.drain();
                return client.output.find("hello") != std::string::npos;
            }));
            REQUIRE(sr->transport);
            auto cert = sr->transport->get_extra_info<bulb::TlsPeerCertificate>("peercert");
            REQUIRE(cert);
            CHECK(cert->subject == "CN=bulb-client");
            CHECK(cert->issuer == "CN=bulb-test-ca");
            CHECK(sr->transport->get_extra_info<bool>("peercert_verified") == true);
            CHECK(sr->transport->get_extra_info("peercert_verified") == "1");
            client.close_stdin();
            CHECK(run_until([&] { return sr->lost; }));
        }
        // Without a certificate: refused when required, served (no peercert) otherwise.
        Child bare({"openssl", "s_client", "-connect", "127.0.0.1:" + port, "-CAfile", pki.ca, "-quiet"});
        bare.send("bare\n");
        if (required) {
            CHECK(run_until([&] {
                bare.drain();
                return bare.exited();
            }));
            CHECK_MESSAGE(bare.output.find("certificate required") != std::string::npos, bare.output);
        } else {
            CHECK(run_until([&] {
                bare.drain();
                return bare.output.find("bare") != std::string::npos;
            }));
            CHECK(run_until([&] { return server.connection_count() == 1; }));
        }
        bare.kill9();
        CHECK(run_until([&] { return server.connection_count() == 0; }));
    }
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
}

// --- start_tls timeouts ---------------------------------------------------------------------------

// test_sslproto.py BaseStartTLS.test_start_tls_slow_client_cancel (a start_tls handshake with a
// peer that never answers) with start_tls's own ssl_handshake_timeout / ssl_shutdown_timeout
// (SslProtoHandshakeTests.test_handshake_timeout_*), not the 60 s / 30 s defaults.
TEST_CASE_FIXTURE(Fixture, "start_tls: handshake timeout against a peer that never answers, shutdown timeout") {
    SUBCASE("handshake timeout") {
        auto sr = std::make_shared<Record>();  // a plaintext server that never speaks TLS
        auto server = wait(loop.create_server(factory(sr, /*echo=*/false), "127.0.0.1", 0));
        const auto port = server.sockets().at(0).port();
        auto r = std::make_shared<Record>();
        auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port));
        bulb::StartTlsOptions o;
        o.server_hostname = "localhost";
        o.tls_handshake_timeout = std::chrono::milliseconds(200);
        auto [ec, what] = failure(loop.start_tls(conn.transport, client_ctx(), o));
        CHECK(ec == bulb::errc::timed_out);
        CHECK_MESSAGE(what.find("localhost at 127.0.0.1:" + std::to_string(port)) != std::string::npos, what);
        CHECK(sr->data.size() > 0);  // the client hello arrived, as plaintext
        CHECK(run_until([&] { return r->lost && sr->lost; }));
    }
    SUBCASE("shutdown timeout") {
        auto server_tls = std::make_shared<std::optional<bulb::Future<bulb::RefPtr<bulb::Transport>>>>();
        auto sr = std::make_shared<Record>();
        bulb::StartTlsOptions so;
        so.server_side = true;
        so.tls_shutdown_timeout = std::chrono::milliseconds(200);
        auto server = wait(loop.create_server(
            [&] { return std::make_unique<UpgradeOnConnect>(sr, server_ctx(), so, server_tls); }, "127.0.0.1", 0));
        auto r = std::make_shared<Record>();
        auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", server.sockets().at(0).port()));
        bulb::StartTlsOptions co;
        co.server_hostname = "localhost";
        auto client = wait(loop.start_tls(conn.transport, client_ctx(), co));
        REQUIRE(run_until([&] { return server_tls->has_value() && (*server_tls)->done(); }));
        auto server_side = (*server_tls)->result();
        client->pause_reading();  // the server's close_notify goes unanswered
        server_side->close();
        REQUIRE(run_until([&] { return sr->lost; }));
        CHECK(sr->ec == bulb::errc::tls_shutdown_timed_out);
        client->abort();
        CHECK(run_until([&] { return r->lost; }));
    }
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
    CHECK(exceptions.empty());
}

// --- typed get_extra_info -------------------------------------------------------------------------

// test_ssl.py SimpleBackgroundTests.test_getpeercert / test_getpeercert_binary (binary_form),
// test_asyncio/test_sslproto.py's get_extra_info checks, and ThreadedTests.test_selected_alpn_protocol.
TEST_CASE_FIXTURE(Fixture, "typed get_extra_info: peer certificate, cipher, version, ALPN, fd and addresses") {
    const auto& pki = Pki::get();
    bulb::TlsServerOptions so;
    so.alpn = {"h2", "http/1.1"};
    auto sr = std::make_shared<Record>();
    auto server = tls_server(sr, bulb::TlsContext::server(pki.srv, pki.srv_key, so));
    const auto port = server.sockets().at(0).port();
    bulb::TlsClientOptions co;
    co.ca_file = pki.ca;
    co.alpn = {"http/1.1"};
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(bulb::TlsContext::client(co))));
    auto& t = *conn.transport;

    auto cert = t.get_extra_info<bulb::TlsPeerCertificate>("peercert");
    REQUIRE(cert);
    CHECK(cert->subject == "CN=localhost");
    CHECK(cert->issuer == "CN=bulb-test-ca");
    using San = std::pair<std::string, std::string>;
    CHECK(cert->subject_alt_names == std::vector<San>{{"DNS", "localhost"}, {"IP Address", "127.0.0.1"}});
    const auto now = std::chrono::system_clock::now();
    CHECK(cert->not_before <= now);
    CHECK(cert->not_after > now);
    CHECK(cert->not_after - cert->not_before == std::chrono::hours(48));  // -days 2
    CHECK(!cert->serial_number.empty());
    sh("openssl x509 -in " + pki.srv + " -outform DER -out " + pki.dir + "/srv.der");
    const std::string der = slurp(pki.dir + "/srv.der");
    CHECK(std::string(reinterpret_cast<const char*>(cert->der.data()), cert->der.size()) == der);
    std::string serial;
    {
        Child x509({"openssl", "x509", "-in", pki.srv, "-noout", "-serial"});
        CHECK(x509.wait_for("\n"));
        serial = x509.output;
    }
    CHECK_MESSAGE(serial.find("serial=" + cert->serial_number) != std::string::npos, serial << " vs " << cert->serial_number);
    CHECK(t.get_extra_info<bool>("peercert_verified") == true);

    CHECK(t.get_extra_info<std::string>("alpn_protocol") == "http/1.1");
    CHECK(t.get_extra_info<bulb::TlsVersion>("version") == bulb::TlsVersion::tls1_3);
    CHECK(t.get_extra_info<bulb::TlsCipher>("cipher")->protocol == "TLSv1.3");
    CHECK(t.get_extra_info<int>("fd") == t.get_fd());
    auto peer = t.get_extra_info<bulb::SocketAddress>("peername");
    REQUIRE(peer);
    CHECK(peer->port() == port);
    CHECK(peer->host() == "127.0.0.1");
    CHECK(t.get_extra_info<bulb::SocketAddress>("sockname")->port() == t.get_sockname().port());
    // Wrong type or unknown name: nothing.
    CHECK(!t.get_extra_info<int>("peername"));
    CHECK(!t.get_extra_info<std::string>("no_such_thing"));
    // The server saw no client certificate (its handshake may end after the client's).
    REQUIRE(run_until([&] { return sr->made; }));
    REQUIRE(sr->transport);
    CHECK(!sr->transport->get_extra_info<bulb::TlsPeerCertificate>("peercert"));
    CHECK(sr->transport->get_extra_info<bool>("peercert_verified") == false);
    CHECK(sr->transport->get_extra_info<std::string>("server_name") == "localhost");
    t.close();
    CHECK(run_until([&] { return r->lost && sr->lost; }));

    // Verification off against an untrusted certificate: the certificate is there, unverified.
    auto rogue_server = tls_server(std::make_shared<Record>(), bulb::TlsContext::server(pki.rogue, pki.rogue_key));
    bulb::TlsClientOptions off;
    off.dangerously_disable_verification = true;
    off.ca_file = pki.ca;
    auto r2 = std::make_shared<Record>();
    auto conn2 = wait(loop.create_connection(factory(r2), "127.0.0.1", rogue_server.sockets().at(0).port(),
                                             tls_connect(bulb::TlsContext::client(off))));
    CHECK(conn2.transport->get_extra_info<bulb::TlsPeerCertificate>("peercert")->issuer == "CN=bulb-untrusted-ca");
    CHECK(conn2.transport->get_extra_info<bool>("peercert_verified") == false);
    conn2.transport->close();
    CHECK(run_until([&] { return r2->lost && loop.transport_count() == 0; }));
    CHECK(exceptions.empty());
}

}  // TEST_SUITE
