// SPDX-License-Identifier: MIT
/// @file
/// TLS over 127.0.0.1: bulb against openssl s_server / s_client and against itself; verification,
/// ALPN, SNI, client certificates, STARTTLS with read-ahead, close_notify, truncation, hostile
/// peers, flow control on a large transfer, handshake timeout, bad files.
#include "tls_support.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

using namespace bulb_tls_test;

namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

TEST_SUITE("tls") {

TEST_CASE_FIXTURE(Fixture, "bulb client <-> openssl s_server -rev: data both ways") {
    const auto& pki = Pki::get();
    auto port = free_port();
    Child server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert", pki.srv, "-key",
                  pki.srv_key, "-rev", "-naccept", "1"});
    REQUIRE_MESSAGE(server.wait_for("ACCEPT"), server.output);
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx())));
    CHECK(conn.transport->get_extra_info("version").value_or("").find("TLS") == 0);
    CHECK(!conn.transport->get_extra_info("cipher").value_or("").empty());
    CHECK(conn.transport->get_extra_info("peercert_subject").value_or("").find("localhost") != std::string::npos);
    conn.transport->write(std::string_view("hello bulb\n"));
    CHECK_MESSAGE(run_until([&] { return r->data.find("blub olleh") != std::string::npos; }), r->data);
    conn.transport->close();
    CHECK(run_until([&] { return r->lost; }));
    CHECK(!r->ec);
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "openssl s_client <-> bulb echo server; bulb close sends close_notify") {
    const auto& pki = Pki::get();
    auto r = std::make_shared<Record>();
    auto server = tls_server(r, server_ctx());
    auto port = server.sockets().at(0).port();
    Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-CAfile", pki.ca,
                  "-verify_return_error", "-verify_hostname", "localhost", "-quiet", "-msg"});
    client.send("ping from s_client\n");
    bool echoed = run_until([&] {
        client.drain();
        return client.output.find("ping from s_client") != std::string::npos;
    });
    CHECK_MESSAGE(echoed, client.output);
    REQUIRE(r->made);
    CHECK(r->data == "ping from s_client\n");
    r->transport->close();
    // s_client -msg shows the alert; with -quiet it exits on the orderly shutdown.
    bool seen = run_until([&] {
        client.drain();
        return client.output.find("close_notify") != std::string::npos;
    });
    CHECK_MESSAGE(seen, client.output);
    CHECK(run_until([&] { return r->lost; }));
    CHECK(!r->ec);
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "session resumption: s_client resumes with the ticket of its first session") {
    const auto& pki = Pki::get();
    auto server_records = std::vector<RecordPtr>();
    auto server = tls_server(
        [&server_records] {
            server_records.push_back(std::make_shared<Record>());
            return std::make_unique<Recorder>(server_records.back(), /*echo=*/true);
        },
        server_ctx());
    std::string session = pki.dir + "/session.pem";
    std::vector<std::string> reused;  // the server's view of each connection
    auto connect = [&](const char* session_flag) {
        Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.sockets().at(0).port()),
                      "-CAfile", pki.ca, "-verify_return_error", "-verify_hostname", "localhost", session_flag,
                      session, "-no_ign_eof"});
        client.send("ping\n");
        // The echo comes after the session ticket: once it is seen, the ticket has been read.
        bool echoed = run_until([&] {
            client.drain();
            return client.output.find("\nping\n") != std::string::npos;
        });
        CHECK_MESSAGE(echoed, client.output);
        REQUIRE(!server_records.empty());
        auto* t = server_records.back()->transport;
        reused.push_back(t ? t->get_extra_info("session_reused").value_or("?") : "gone");
        client.close_stdin();  // s_client sends close_notify, writes the session file and exits
        CHECK(run_until([&] { return client.exited(); }));
        client.drain();
        return client.output;
    };
    std::string first = connect("-sess_out");
    CHECK(first.find("New, TLSv1.3") != std::string::npos);
    std::string second = connect("-sess_in");
    CHECK_MESSAGE(second.find("Reused, TLSv1.3") != std::string::npos, second);
    CHECK(reused == std::vector<std::string>{"0", "1"});
    REQUIRE(server_records.size() == 2);
    CHECK(run_until([&] { return server_records[1]->lost; }));
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "protocol mismatch: a TLS 1.1 client gets a protocol_version alert, the server goes on") {
    const auto& pki = Pki::get();
    auto r = std::make_shared<Record>();
    auto server = tls_server(r, server_ctx());
    auto port = std::to_string(server.sockets().at(0).port());
    // TLS 1.1 needs security level 0 in OpenSSL 3; bulb's contexts require TLS 1.2 at least.
    Child old({"openssl", "s_client", "-connect", "127.0.0.1:" + port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0",
               "-CAfile", pki.ca});
    old.close_stdin();
    CHECK(run_until([&] { return old.exited(); }));
    old.drain();
    CHECK_MESSAGE(old.output.find("alert protocol version") != std::string::npos, old.output);
    CHECK(!r->made);  // no connection reached the protocol
    CHECK(run_until([&] { return server.connection_count() == 0; }));
    // The server still serves a good client.
    auto r2 = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r2), "127.0.0.1", server.sockets().at(0).port(),
                                            tls_connect(client_ctx())));
    conn.transport->write(std::string_view("after"));
    CHECK(run_until([&] { return r2->data == "after"; }));
    conn.transport->close();
    CHECK(run_until([&] { return r2->lost; }));
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "bulb <-> bulb echo, extra info on both sides") {
    auto sr = std::make_shared<Record>();
    auto server = tls_server(sr, server_ctx());
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", server.sockets().at(0).port(),
                                            tls_connect(client_ctx())));
    conn.transport->write(std::string_view("abc"));
    conn.transport->write(std::string_view("def"));
    CHECK(run_until([&] { return r->data == "abcdef"; }));
    CHECK(conn.transport->get_extra_info("peercert_issuer").value_or("").find("bulb-test-ca") != std::string::npos);
    CHECK(conn.transport->get_extra_info("peercert_san").value_or("").find("localhost") != std::string::npos);
    REQUIRE(sr->transport);
    CHECK(sr->transport->get_extra_info("version") == conn.transport->get_extra_info("version"));
    CHECK(sr->transport->get_extra_info("cipher") == conn.transport->get_extra_info("cipher"));
    CHECK(sr->transport->get_extra_info("server_name").value_or("") == "localhost");
    CHECK(!sr->transport->get_extra_info("peercert_subject"));
    // Peer close (close_notify): the server sees a clean end.
    conn.transport->close();
    CHECK(run_until([&] { return r->lost && sr->lost; }));
    CHECK(!r->ec);
    CHECK(!sr->ec);
    CHECK(sr->eof);
    CHECK(exceptions.empty());
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
}

TEST_CASE_FIXTURE(Fixture, "verification fails for a wrong host name and for an untrusted CA") {
    const auto& pki = Pki::get();
    auto sr = std::make_shared<Record>();
    auto server = tls_server(sr, server_ctx());
    auto port = server.sockets().at(0).port();
    SUBCASE("wrong host name") {
        auto r = std::make_shared<Record>();
        auto [ec, what] = failure(loop.create_connection(factory(r), "127.0.0.1", port,
                                                         tls_connect(client_ctx(), "not-localhost.example")));
        CHECK(ec.category() == bulb::tls_category());
        CHECK_MESSAGE(lower(what).find("verify") != std::string::npos, what);
        CHECK_MESSAGE(lower(what).find("hostname") != std::string::npos, what);
        CHECK(!r->made);
    }
    SUBCASE("untrusted CA") {
        auto r = std::make_shared<Record>();
        auto [ec, what] = failure(loop.create_connection(factory(r), "127.0.0.1", port,
                                                         tls_connect(client_ctx(pki.ca2))));
        CHECK(ec.category() == bulb::tls_category());
        CHECK_MESSAGE(lower(what).find("verify") != std::string::npos, what);
        CHECK(!r->made);
    }
    SUBCASE("server with a certificate from an untrusted CA") {
        auto rogue_r = std::make_shared<Record>();
        auto rogue = tls_server(rogue_r, bulb::TlsContext::server(pki.rogue, pki.rogue_key));
        auto r = std::make_shared<Record>();
        auto [ec, what] = failure(loop.create_connection(factory(r), "127.0.0.1", rogue.sockets().at(0).port(),
                                                         tls_connect(client_ctx())));
        CHECK_MESSAGE(lower(what).find("verify") != std::string::npos, what);
        CHECK(!r->made);
        // With verification off the same server is accepted.
        bulb::TlsClientOptions o;
        o.dangerously_disable_verification = true;
        auto r2 = std::make_shared<Record>();
        auto conn = wait(loop.create_connection(factory(r2), "127.0.0.1", rogue.sockets().at(0).port(),
                                                tls_connect(bulb::TlsContext::client(o))));
        conn.transport->close();
        CHECK(run_until([&] { return r2->lost; }));
    }
    CHECK(!sr->made);
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
}

TEST_CASE_FIXTURE(Fixture, "ALPN selects the server's choice among the client's offers") {
    const auto& pki = Pki::get();
    bulb::TlsServerOptions so;
    so.alpn = {"http/1.1", "bulb/1"};
    auto sr = std::make_shared<Record>();
    auto server = tls_server(sr, bulb::TlsContext::server(pki.srv, pki.srv_key, so));
    bulb::TlsClientOptions co;
    co.ca_file = pki.ca;
    co.alpn = {"h2", "bulb/1"};
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", server.sockets().at(0).port(),
                                            tls_connect(bulb::TlsContext::client(co))));
    CHECK(conn.transport->get_extra_info("alpn_protocol").value_or("") == "bulb/1");
    CHECK(run_until([&] { return sr->made; }));
    CHECK(sr->transport->get_extra_info("alpn_protocol").value_or("") == "bulb/1");
    // No ALPN offered: none selected.
    auto r2 = std::make_shared<Record>();
    auto conn2 = wait(loop.create_connection(factory(r2), "127.0.0.1", server.sockets().at(0).port(),
                                             tls_connect(client_ctx())));
    CHECK(!conn2.transport->get_extra_info("alpn_protocol").has_value());
    conn.transport->close();
    conn2.transport->close();
    CHECK(run_until([&] { return r->lost && r2->lost; }));
}

TEST_CASE_FIXTURE(Fixture, "SNI selects another certificate") {
    const auto& pki = Pki::get();
    bulb::TlsServerOptions so;
    so.sni["alt.test"] = bulb::TlsCertificate{pki.alt, pki.alt_key};
    auto sr = std::make_shared<Record>();
    auto server = tls_server(sr, bulb::TlsContext::server(pki.srv, pki.srv_key, so));
    auto port = server.sockets().at(0).port();
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx(), "alt.test")));
    CHECK(conn.transport->get_extra_info("peercert_subject").value_or("").find("alt.test") != std::string::npos);
    CHECK(run_until([&] { return sr->made; }));
    CHECK(sr->transport->get_extra_info("server_name").value_or("") == "alt.test");
    conn.transport->write(std::string_view("x"));
    CHECK(run_until([&] { return r->data == "x"; }));
    // The default certificate for other names.
    auto r2 = std::make_shared<Record>();
    auto conn2 = wait(loop.create_connection(factory(r2), "127.0.0.1", port, tls_connect(client_ctx())));
    CHECK(conn2.transport->get_extra_info("peercert_subject").value_or("").find("localhost") != std::string::npos);
    conn.transport->close();
    conn2.transport->close();
    CHECK(run_until([&] { return r->lost && r2->lost; }));
}

TEST_CASE_FIXTURE(Fixture, "client certificates: required and missing fails, present is seen by the server") {
    const auto& pki = Pki::get();
    bulb::TlsServerOptions so;
    so.client_ca_file = pki.ca;
    so.require_client_certificate = true;
    auto sr = std::make_shared<Record>();
    auto server = tls_server(sr, bulb::TlsContext::server(pki.srv, pki.srv_key, so));
    auto port = server.sockets().at(0).port();
    SUBCASE("no certificate") {
        auto r = std::make_shared<Record>();
        auto f = settle(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx())));
        // TLS 1.3: the client may finish before the server's verdict arrives; then the
        // connection is lost with an error right after.
        if (!f.exception()) {
            CHECK(run_until([&] { return r->lost; }));
            CHECK(r->ec);
        }
        run_for(50ms);
        CHECK(!sr->made);
    }
    SUBCASE("with a certificate") {
        bulb::TlsClientOptions co;
        co.ca_file = pki.ca;
        co.cert_file = pki.cli;
        co.key_file = pki.cli_key;
        auto r = std::make_shared<Record>();
        auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port,
                                                tls_connect(bulb::TlsContext::client(co))));
        conn.transport->write(std::string_view("cert"));
        CHECK(run_until([&] { return r->data == "cert"; }));
        REQUIRE(sr->made);
        CHECK(sr->transport->get_extra_info("peercert_subject").value_or("").find("bulb-client") != std::string::npos);
        conn.transport->close();
        CHECK(run_until([&] { return r->lost && sr->lost; }));
        CHECK(!sr->ec);
    }
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
}

namespace {

/// A plaintext server protocol: reads "STARTTLS\n", then upgrades with the bytes read past it.
class StartTlsServer : public bulb::Protocol {
public:
    StartTlsServer(bulb::EventLoop& loop, bulb::TlsContext ctx, RecordPtr r, std::shared_ptr<std::string> rest)
        : loop_(loop), ctx_(std::move(ctx)), r_(std::move(r)), rest_(std::move(rest)) {}
    void connection_made(bulb::Transport& t) override {
        t_ = &t;
        r_->made = true;
        // Let the line and the client hello both arrive before the first read.
        t.pause_reading();
        loop_.call_later(std::chrono::milliseconds(200), [tp = bulb::RefPtr<bulb::Transport>(&t)] {
            if (!tp->is_closing()) tp->resume_reading();
        });
    }
    void data_received(bulb::ByteView d) override {
        std::string s(reinterpret_cast<const char*>(d.data()), d.size());
        if (upgrading_) {
            // From the TLS protocol. The first record can come with the client's Finished,
            // before start_tls's future has run its callbacks: echo it from there.
            r_->data += s;
            if (tls_)
                tls_->write(d);
            else
                early_ += s;
            return;
        }
        plain_ += s;
        auto nl = plain_.find('\n');
        if (nl == std::string::npos) return;
        REQUIRE(plain_.substr(0, nl) == "STARTTLS");
        *rest_ = plain_.substr(nl + 1);
        upgrading_ = true;
        auto f = loop_.start_tls(bulb::RefPtr<bulb::Transport>(t_), ctx_, true, {}, *rest_);
        f.add_done_callback([this](bulb::Future<bulb::RefPtr<bulb::Transport>>& done) {
            if (done.exception()) return;
            tls_ = done.result();
            if (!early_.empty()) tls_->write(std::string_view(early_));
            early_.clear();
        });
    }
    void connection_lost(std::error_code ec) override {
        r_->lost = true;
        r_->ec = ec;
        tls_ = nullptr;
    }

private:
    bulb::EventLoop& loop_;
    bulb::TlsContext ctx_;
    RecordPtr r_;
    std::shared_ptr<std::string> rest_;
    bulb::Transport* t_ = nullptr;
    bulb::RefPtr<bulb::Transport> tls_;
    std::string plain_;
    std::string early_;  // TLS data received before tls_ was known
    bool upgrading_ = false;
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "start_tls with read-ahead: the client hello arrives with the STARTTLS line") {
    auto sr = std::make_shared<Record>();
    auto rest = std::make_shared<std::string>();
    bulb::TlsContext sctx = server_ctx();
    auto server = wait(loop.create_server(
        [this, sctx, sr, rest] { return std::make_unique<StartTlsServer>(loop, sctx, sr, rest); }, "127.0.0.1", 0));
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", server.sockets().at(0).port()));
    conn.transport->write(std::string_view("STARTTLS\n"));
    auto tls = wait(loop.start_tls(conn.transport, client_ctx(), false, "localhost"));
    CHECK(!rest->empty());                 // the hello was read together with the line
    CHECK(static_cast<unsigned char>((*rest)[0]) == 0x16);  // a handshake record
    tls->write(std::string_view("over tls"));
    CHECK(run_until([&] { return r->data == "over tls"; }));
    CHECK(sr->data == "over tls");
    CHECK(tls->get_extra_info("peercert_subject").value_or("").find("localhost") != std::string::npos);
    tls->close();
    CHECK(run_until([&] { return r->lost && sr->lost; }));
    CHECK(!r->ec);
    CHECK(exceptions.empty());
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
}

namespace {

/// What PlainThenTlsServer saw.
struct UpgradeRecord : Record {
    std::size_t plain_seen = 0;                        // bytes of the expected plaintext read
    std::size_t first_mismatch = std::string::npos;    // offset of the first wrong byte
    std::string line;                                  // the line after the plaintext
    std::string already_read;                          // bytes read past it
    bool upgrade_failed = false;
    bulb::RefPtr<bulb::Transport> tls;                 // once start_tls's future is done
    std::string early;                                 // TLS data received before that
    bool stalled = false;                              // not reading for a while, on purpose
};

/// Socket buffers of 64 KiB (the kernel doubles the value), so the transports' own buffers, and
/// flow control, take over early. Set before connecting (or on the listening socket, which the
/// accepted ones inherit): a receive buffer shrunk later drops segments already in flight.
void small_socket_buffers(int fd) {
    int size = 32 * 1024;
    REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == 0);
    REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) == 0);
}

/// A TCP socket with small buffers, connected to 127.0.0.1:port (the kernel completes the
/// handshake; the server accepts later).
int small_buffer_connect(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    small_socket_buffers(fd);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    return fd;
}

/// Reads `expected` in plaintext, checking every byte in order, then one line (the client's
/// "STARTTLS"), then upgrades as the TLS server with the bytes read past the line, and echoes
/// what comes over TLS (reading paused while its own writes are, and once for 300 ms after
/// `stall_at` bytes).
class PlainThenTlsServer : public bulb::Protocol {
public:
    PlainThenTlsServer(bulb::EventLoop& loop, bulb::TlsContext ctx, std::shared_ptr<const std::string> expected,
                       std::shared_ptr<UpgradeRecord> r, std::size_t stall_at)
        : loop_(loop), ctx_(std::move(ctx)), expected_(std::move(expected)), r_(std::move(r)), stall_at_(stall_at) {}
    void connection_made(bulb::Transport& t) override {
        t_ = &t;
        r_->made = true;
    }
    void data_received(bulb::ByteView d) override {
        std::string_view s = bulb::as_string_view(d);
        if (upgraded_) {
            r_->received += s.size();
            if (r_->tls)
                r_->tls->write(d);
            else
                r_->early += s;  // came with the client's Finished, before the future's callbacks
            if (!stall_done_ && r_->received >= stall_at_ && r_->tls) {
                stall_done_ = true;
                r_->stalled = true;
                update_reading(*r_);
                loop_.call_later(std::chrono::milliseconds(300), [r = r_] {
                    r->stalled = false;
                    update_reading(*r);
                });
            }
            return;
        }
        std::size_t n = std::min(s.size(), expected_->size() - r_->plain_seen);
        if (r_->first_mismatch == std::string::npos) {
            std::string_view want = std::string_view(*expected_).substr(r_->plain_seen, n);
            auto mine = std::mismatch(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n), want.begin()).first;
            if (mine != s.begin() + static_cast<std::ptrdiff_t>(n))
                r_->first_mismatch = r_->plain_seen + static_cast<std::size_t>(mine - s.begin());
        }
        r_->plain_seen += n;
        line_ += s.substr(n);
        auto nl = line_.find('\n');
        if (nl == std::string::npos) return;
        r_->line = line_.substr(0, nl);
        r_->already_read = line_.substr(nl + 1);
        upgraded_ = true;
        auto f = loop_.start_tls(bulb::RefPtr<bulb::Transport>(t_), ctx_, true, {}, r_->already_read);
        f.add_done_callback([r = r_](bulb::Future<bulb::RefPtr<bulb::Transport>>& done) {
            if (done.exception() || r->lost) {
                r->upgrade_failed = true;
                return;
            }
            r->tls = done.result();
            if (!r->early.empty()) r->tls->write(std::string_view(r->early));
            r->early.clear();
        });
    }
    bool eof_received() override {
        r_->eof = true;
        return false;
    }
    void connection_lost(std::error_code ec) override {
        r_->lost = true;
        r_->ec = ec;
        r_->tls = nullptr;
    }
    void pause_writing() override {
        ++r_->pauses;
        r_->paused = true;
        update_reading(*r_);
    }
    void resume_writing() override {
        ++r_->resumes;
        r_->paused = false;
        update_reading(*r_);
    }

private:
    /// Reads while neither its writes are paused nor it stalls.
    static void update_reading(UpgradeRecord& r) {
        if (!r.tls) return;
        if (r.paused || r.stalled)
            r.tls->pause_reading();
        else
            r.tls->resume_reading();
    }

    bulb::EventLoop& loop_;
    bulb::TlsContext ctx_;
    std::shared_ptr<const std::string> expected_;
    std::shared_ptr<UpgradeRecord> r_;
    std::size_t stall_at_;
    bool stall_done_ = false;
    bulb::Transport* t_ = nullptr;
    std::string line_;
    bool upgraded_ = false;
};

}  // namespace

// The bug class of cpython #142352 / uvloop #707 on the writing side, and of cpython #109051:
// plaintext still queued in the transport when start_tls is called must reach the peer before
// the client hello, and the protocol paused by that backlog must be resumed through the TLS
// protocol once it drains (else it waits for resume_writing forever).
TEST_CASE_FIXTURE(Fixture, "start_tls sends the plaintext still buffered first, and resumes the paused writer") {
    constexpr std::size_t plain_total = 8u << 20;
    auto expected = std::make_shared<std::string>();
    expected->reserve(plain_total);
    char rec[16];
    for (std::size_t off = 0; off < plain_total; off += 8) {  // "0a1b2c8.": each record is its offset
        std::snprintf(rec, sizeof rec, "%07zx.", off);
        expected->append(rec, 8);
    }
    // Over TLS afterwards: 4 MiB each way through the server's echo, written while not paused.
    // The server stops reading for a while at 1 MiB, the client at 2 MiB: each side's writes
    // back up, and are paused and resumed, over TLS too.
    constexpr std::size_t tls_total = 4u << 20;
    auto sr = std::make_shared<UpgradeRecord>();
    bulb::TlsContext sctx = server_ctx();
    auto server = wait(loop.create_server(
        [this, sctx, expected, sr] {
            return std::make_unique<PlainThenTlsServer>(loop, sctx, expected, sr, tls_total / 4);
        },
        "127.0.0.1", 0));
    small_socket_buffers(server.fds().at(0));
    const std::string pattern = random_bytes((1 << 16) + 7, 11);
    auto r = std::make_shared<Record>();
    bulb::RefPtr<bulb::Transport> tls;
    std::size_t sent = 0;
    bool mismatch = false, stalled = false;
    auto pump = [&] {
        if (!tls) return;
        while (sent < tls_total && !r->paused) {
            std::size_t n = std::min(pattern.size(), tls_total - sent);
            tls->write(bulb::as_bytes(std::string_view(pattern).substr(0, n)));
            sent += n;
        }
    };
    auto conn = wait(loop.connect_accepted_socket(
        [&] {
            auto p = std::make_unique<Recorder>(r, false, false);
            p->on_data = [&](Record& rec, bulb::ByteView d) {
                std::size_t start = rec.received - d.size();
                for (std::size_t i = 0; i < d.size(); ++i)
                    if (static_cast<char>(d[i]) != pattern[(start + i) % pattern.size()]) mismatch = true;
                if (!stalled && rec.received >= tls_total / 2) {
                    stalled = true;
                    tls->pause_reading();
                    loop.call_later(std::chrono::milliseconds(300), [&] {
                        if (tls) tls->resume_reading();
                    });
                }
            };
            p->on_resume = [&](Record&) { pump(); };
            return p;
        },
        small_buffer_connect(server.sockets().at(0).port())));
    bulb::Transport& raw = *conn.transport;

    // The server has not read yet (the loop has not run since): most of this stays queued.
    raw.write(std::string_view(*expected));
    raw.write(std::string_view("STARTTLS\n"));
    REQUIRE(raw.get_write_buffer_size() > raw.get_write_buffer_limits().high);
    CHECK(r->paused);  // the old protocol was told to stop writing
    CHECK(r->pauses == 1);
    auto upgrading = loop.start_tls(conn.transport, client_ctx(), false, "localhost");
    tls = wait(std::move(upgrading), 60s);

    // The server read every plaintext byte in order, then the line, then the hello (the hello
    // came after the line, so it may or may not have been read together with it).
    CHECK(sr->plain_seen == plain_total);
    CHECK_MESSAGE(sr->first_mismatch == std::string::npos, "first wrong byte at " << sr->first_mismatch);
    CHECK(sr->line == "STARTTLS");
    if (!sr->already_read.empty()) CHECK(static_cast<unsigned char>(sr->already_read[0]) == 0x16);
    CHECK(!sr->upgrade_failed);
    CHECK(run_until([&] { return sr->tls != nullptr; }));

    // The backlog drained before the server could answer the hello: the paused protocol (now the
    // TLS transport's) was resumed, exactly once.
    CHECK(!r->paused);
    CHECK(r->resumes == r->pauses);
    CHECK(r->transport == &raw);  // start_tls makes no second connection_made

    // Data both ways over TLS, with flow control on both ends.
    pump();
    bool done = run_until([&] { return r->received == tls_total; }, 60s);
    CHECK_MESSAGE(done, "echoed " << r->received << " of " << sent);
    CHECK(sent == tls_total);
    CHECK(sr->received == tls_total);
    CHECK(!mismatch);
    CHECK(r->pauses >= 2);   // the plaintext backlog, then TLS writes while the server stalled
    CHECK(sr->pauses >= 1);  // the echo while the client stalled
    CHECK(r->resumes == r->pauses);
    CHECK(sr->resumes == sr->pauses);

    // Both close cleanly: close_notify from the client, answered by the server.
    tls->close();
    CHECK(run_until([&] { return r->lost && sr->lost; }));
    CHECK_MESSAGE(!r->ec, r->ec.message());
    CHECK_MESSAGE(!sr->ec, sr->ec.message());
    CHECK(sr->eof);
    CHECK(exceptions.empty());
    for (auto& e : exceptions) MESSAGE(e);
    tls = nullptr;
    conn = {};
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
}

TEST_CASE_FIXTURE(Fixture, "peer close_notify -> clean connection_lost; EOF without it -> tls_unexpected_eof") {
    const auto& pki = Pki::get();
    SUBCASE("s_client closes with close_notify") {
        auto sr = std::make_shared<Record>();
        auto server = tls_server(sr, server_ctx());
        // Without -quiet, s_client answers EOF on stdin with SSL_shutdown (close_notify).
        Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.sockets().at(0).port()),
                      "-CAfile", pki.ca});
        client.send("to server\n");
        CHECK(run_until([&] { return sr->data == "to server\n"; }));
        CHECK(run_until([&] {
            client.drain();
            return client.output.find("to server") != std::string::npos;
        }));
        client.close_stdin();
        CHECK(run_until([&] { return sr->lost; }));
        CHECK_MESSAGE(!sr->ec, sr->ec.message());
        CHECK(sr->eof);
    }
    SUBCASE("s_client killed after the handshake") {
        auto sr = std::make_shared<Record>();
        auto server = tls_server(sr, server_ctx());
        Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.sockets().at(0).port()),
                      "-CAfile", pki.ca, "-quiet"});
        client.send("x\n");
        CHECK(run_until([&] { return sr->data == "x\n"; }));
        // Kill only once the echo was read (unread data would make the kernel send a reset).
        CHECK(run_until([&] {
            client.drain();
            return client.output.find("x\n") != std::string::npos;
        }));
        run_for(100ms);
        client.kill9();
        CHECK(run_until([&] { return sr->lost; }));
        CHECK(sr->ec == bulb::errc::tls_unexpected_eof);
        CHECK(!sr->eof);
    }
    SUBCASE("s_server killed: the bulb client sees tls_unexpected_eof") {
        auto port = free_port();
        Child server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert", pki.srv,
                      "-key", pki.srv_key, "-naccept", "1"});
        REQUIRE_MESSAGE(server.wait_for("ACCEPT"), server.output);
        auto r = std::make_shared<Record>();
        auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx())));
        conn.transport->write(std::string_view("to server\n"));
        CHECK(server.wait_for("to server"));
        server.kill9();
        CHECK(run_until([&] { return r->lost; }));
        CHECK_MESSAGE(r->ec == bulb::errc::tls_unexpected_eof, r->ec.message());
        CHECK(!r->eof);
    }
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
}

TEST_CASE_FIXTURE(Fixture, "a peer that vanishes mid-handshake is an error and leaks nothing") {
    SUBCASE("server side: half a client hello, then close") {
        auto sr = std::make_shared<Record>();
        auto server = tls_server(sr, server_ctx());
        auto port = server.sockets().at(0).port();
        std::jthread peer([port] {
            int fd = raw_connect(port);
            // A TLS record header announcing 512 bytes of ClientHello, and only part of it.
            std::string hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
            hello += random_bytes(40);
            ::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            ::close(fd);
        });
        REQUIRE(run_until([&] { return server.connection_count() == 1; }, 5s));
        CHECK(run_until([&] { return server.connection_count() == 0 && loop.transport_count() == 0; }, 5s));
        run_for(50ms);
        CHECK(server.connection_count() == 0);
        CHECK(!sr->made);
        for (auto& e : exceptions) MESSAGE(e);
    }
    SUBCASE("client side: half a server hello, then close") {
        std::uint16_t port = 0;
        int lfd = raw_listen(port);
        std::jthread peer([lfd] {
            int fd = ::accept(lfd, nullptr, nullptr);
            char buf[4096];
            ::recv(fd, buf, sizeof buf, 0);  // the client hello
            std::string hello("\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03", 11);
            hello += random_bytes(20);
            ::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
            ::close(fd);
        });
        auto r = std::make_shared<Record>();
        auto [ec, what] = failure(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx())));
        CHECK(ec);
        CHECK(!r->made);
        peer.join();
        ::close(lfd);
        CHECK(run_until([&] { return loop.transport_count() == 0; }));
    }
}

TEST_CASE_FIXTURE(Fixture, "1 MiB of random bytes as a hello: handshake error, no crash") {
    auto junk = random_bytes(1 << 20, 7);
    SUBCASE("to a server") {
        auto sr = std::make_shared<Record>();
        auto server = tls_server(sr, server_ctx());
        auto port = server.sockets().at(0).port();
        bool closed = false;
        std::jthread peer([&, port] {
            int fd = raw_connect(port);
            std::size_t off = 0;
            while (off < junk.size()) {
                ssize_t n = ::send(fd, junk.data() + off, junk.size() - off, MSG_NOSIGNAL);
                if (n <= 0) break;  // the server gave up (reset) - expected
                off += static_cast<std::size_t>(n);
            }
            char buf[4096];
            for (;;) {
                ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                    closed = true;
                    break;
                }
                if (n < 0) break;  // timed out
            }
            ::close(fd);
        });
        CHECK(run_until([&] { return closed && server.connection_count() == 0 && loop.transport_count() == 0; }));
        peer.join();
        CHECK(closed);
        CHECK(!sr->made);
    }
    SUBCASE("to a client") {
        std::uint16_t port = 0;
        int lfd = raw_listen(port);
        std::jthread peer([lfd, &junk] {
            int fd = ::accept(lfd, nullptr, nullptr);
            ::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
            ::close(fd);
        });
        auto r = std::make_shared<Record>();
        auto [ec, what] = failure(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx())));
        CHECK(ec);
        CHECK(!r->made);
        peer.join();
        ::close(lfd);
        CHECK(run_until([&] { return loop.transport_count() == 0; }));
    }
}

TEST_CASE_FIXTURE(Fixture, "16 MiB each way through an echo server, with pause_writing honoured") {
    constexpr std::size_t total = 16u << 20;
    const std::string pattern = random_bytes(1 << 16, 3);
    auto sr = std::make_shared<Record>();
    auto server = wait(loop.create_server(factory(sr, true, false), "127.0.0.1", 0, [&] {
        bulb::ServerOptions o;
        o.tls = server_ctx();
        return o;
    }()));
    auto r = std::make_shared<Record>();
    std::size_t sent = 0;
    bool mismatch = false, stalled = false;
    int max_over = 0;
    bulb::Transport* tp = nullptr;
    auto pump = [&] {
        while (sent < total && !r->paused) {
            tp->write(bulb::as_bytes(std::string_view(pattern)));
            sent += pattern.size();
        }
    };
    auto conn = wait(loop.create_connection(
        [&] {
            auto p = std::make_unique<Recorder>(r, false, false);
            p->on_data = [&](Record& rec, bulb::ByteView d) {
                std::size_t start = rec.received - d.size();
                for (std::size_t i = 0; i < d.size(); i += 997)
                    if (static_cast<char>(d[i]) != pattern[(start + i) % pattern.size()]) mismatch = true;
            };
            p->on_resume = [&](Record&) { pump(); };
            // Stop reading for a while once, so the echo side's writes back up too.
            p->on_data = [&, check = p->on_data](Record& rec, bulb::ByteView d) {
                check(rec, d);
                if (!stalled && rec.received >= total / 4) {
                    stalled = true;
                    tp->pause_reading();
                    loop.call_later(std::chrono::milliseconds(300), [&] { tp->resume_reading(); });
                }
            };
            return p;
        },
        "127.0.0.1", server.sockets().at(0).port(), tls_connect(client_ctx())));
    tp = conn.transport.get();
    pump();
    CHECK(r->paused);  // 16 MiB cannot fit under the default high-water mark
    bool done = run_until([&] {
        if (tp->get_write_buffer_size() > tp->get_write_buffer_limits().high + pattern.size()) ++max_over;
        return r->received == total;
    }, 120s);
    CHECK_MESSAGE(done, "received " << r->received);
    CHECK(sent == total);
    CHECK(!mismatch);
    CHECK(r->pauses >= 1);
    CHECK(r->resumes == r->pauses);
    CHECK(sr->pauses >= 1);  // the echo side was paused too (it stops reading meanwhile)
    CHECK(sr->received == total);
    CHECK(max_over == 0);
    conn.transport->close();
    CHECK(run_until([&] { return r->lost && sr->lost; }));
    CHECK(!r->ec);
    CHECK(!sr->ec);
}

namespace {

/// Answers once the peer has closed its side, later (as a task would): eof_received() keeps the
/// connection open for that, or not.
class ReplyAtEof : public bulb::Protocol {
public:
    ReplyAtEof(bulb::EventLoop& loop, RecordPtr r, bool keep_open) : loop_(loop), r_(std::move(r)), keep_open_(keep_open) {}
    void connection_made(bulb::Transport& t) override { t_ = bulb::RefPtr<bulb::Transport>(&t); }
    void data_received(bulb::ByteView d) override { r_->data.append(reinterpret_cast<const char*>(d.data()), d.size()); }
    bool eof_received() override {
        r_->eof = true;
        loop_.call_soon([t = t_, r = r_] {
            t->write(std::string_view("got: " + r->data));  // dropped (and counted) once closing
            t->close();
        });
        return keep_open_;
    }
    void connection_lost(std::error_code ec) override {
        r_->lost = true;
        r_->ec = ec;
    }

private:
    bulb::EventLoop& loop_;
    RecordPtr r_;
    bool keep_open_;
    bulb::RefPtr<bulb::Transport> t_;
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "a close_notify read with the last data reaches a protocol that paused reading") {
    // The client's data and its close_notify arrive together; the server protocol pauses
    // reading in data_received and resumes 50 ms later: then eof_received must come.
    auto sr = std::make_shared<Record>();
    auto server = tls_server(
        [this, sr] {
            auto p = std::make_unique<Recorder>(sr);
            p->on_data = [this](Record& r, bulb::ByteView) {
                r.transport->pause_reading();
                loop.call_later(50ms, [t = bulb::RefPtr<bulb::Transport>(r.transport)] { t->resume_reading(); });
            };
            return p;
        },
        server_ctx());
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", server.sockets().at(0).port(),
                                            tls_connect(client_ctx())));
    conn.transport->write(std::string_view("last words"));
    conn.transport->close();
    CHECK(run_until([&] { return sr->eof; }, 5s));
    CHECK(sr->data == "last words");
    CHECK(run_until([&] { return sr->lost && r->lost; }, 5s));
    CHECK(!sr->ec);
    CHECK(!r->ec);
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "after the peer's close_notify, eof_received() returning true keeps our side open (socat)") {
    for (bool keep_open : {true, false}) {
        CAPTURE(keep_open);
        auto r = std::make_shared<Record>();
        auto server = tls_server([this, r, keep_open] { return std::make_unique<ReplyAtEof>(loop, r, keep_open); },
                                 server_ctx());
        // socat sends close_notify when its input ends, then prints what still comes back.
        Child socat({"socat", "-t", "5", "-", "OPENSSL:127.0.0.1:" + std::to_string(server.sockets().at(0).port()) +
                                                  ",cafile=" + Pki::get().ca + ",commonname=localhost"});
        socat.send("request\n");
        socat.close_stdin();
        CHECK(run_until([&] { return r->lost; }));
        CHECK(r->eof);
        CHECK(r->data == "request\n");
        CHECK(!r->ec);  // both close_notify alerts: a clean close either way
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!socat.exited() && std::chrono::steady_clock::now() < deadline) {
            socat.drain();
            std::this_thread::sleep_for(10ms);
        }
        socat.drain();
        CHECK(socat.exited());
        CHECK(socat.output == (keep_open ? "got: request\n" : ""));
        server.close();
    }
    CHECK(exceptions.empty());
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
}

TEST_CASE_FIXTURE(Fixture, "handshake timeout against a peer that never speaks") {
    std::uint16_t port = 0;
    int lfd = raw_listen(port);  // the kernel completes the TCP handshake; nobody answers
    auto r = std::make_shared<Record>();
    auto opts = tls_connect(client_ctx());
    opts.tls_handshake_timeout = std::chrono::milliseconds(300);
    auto t0 = std::chrono::steady_clock::now();
    auto [ec, what] = failure(loop.create_connection(factory(r), "127.0.0.1", port, opts), 10s);
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK_MESSAGE(ec, what);
    CHECK(ec == bulb::errc::timed_out);
    CHECK(took >= std::chrono::milliseconds(250));
    CHECK(took < std::chrono::seconds(5));
    CHECK(!r->made);
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
    // Server side: a client that connects and never sends a hello.
    bulb::ServerOptions so;
    so.tls = server_ctx();
    so.tls_handshake_timeout = std::chrono::milliseconds(300);
    auto sr = std::make_shared<Record>();
    auto server = wait(loop.create_server(factory(sr), "127.0.0.1", 0, so));
    int fd = raw_connect(server.sockets().at(0).port());
    REQUIRE(run_until([&] { return server.connection_count() == 1; }, 5s));
    CHECK(run_until([&] { return server.connection_count() == 0 && loop.transport_count() == 0; }, 5s));
    run_for(400ms);
    char c;
    CHECK(::recv(fd, &c, 1, 0) <= 0);  // closed by the server
    CHECK(!sr->made);
    ::close(fd);
    ::close(lfd);
}

TEST_CASE_FIXTURE(Fixture, "cancelling a connect mid-handshake, and closing the loop with live TLS connections") {
    std::uint16_t port = 0;
    int lfd = raw_listen(port);
    auto r = std::make_shared<Record>();
    auto f = loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx()));
    run_for(100ms);  // connected, hello sent, no answer
    CHECK(!f.done());
    f.cancel();
    run_for(20ms);
    CHECK(f.cancelled());
    CHECK(!r->made);
    CHECK(run_until([&] { return loop.transport_count() == 0; }));
    ::close(lfd);
    // Live connections (both ends in this loop) when the loop closes: no leak, each side's
    // connection_lost runs once.
    auto sr = std::make_shared<Record>();
    auto server = std::make_optional(tls_server(sr, server_ctx()));
    auto r2 = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r2), "127.0.0.1", server->sockets().at(0).port(),
                                            tls_connect(client_ctx())));
    conn.transport->write(std::string_view("pending"));
    CHECK(run_until([&] { return r2->data == "pending"; }));
    conn = {};
    server->close();
    server.reset();
    loop.close();
    CHECK(r2->lost);
    CHECK(sr->lost);
}

TEST_CASE("bad certificate and key files throw bulb::Error at context creation") {
    const auto& pki = Pki::get();
    std::string garbage = pki.dir + "/garbage.pem";
    sh("echo not a certificate > " + garbage);
    CHECK_THROWS_AS(bulb::TlsContext::server(pki.dir + "/missing.pem", pki.srv_key), bulb::Error);
    CHECK_THROWS_AS(bulb::TlsContext::server(pki.srv, pki.dir + "/missing.key"), bulb::Error);
    CHECK_THROWS_AS(bulb::TlsContext::server(garbage, pki.srv_key), bulb::Error);
    CHECK_THROWS_AS(bulb::TlsContext::server(pki.srv, garbage), bulb::Error);
    CHECK_THROWS_AS(bulb::TlsContext::server(pki.srv, pki.cli_key), bulb::Error);  // mismatched key
    bulb::TlsServerOptions so;
    so.sni["alt.test"] = bulb::TlsCertificate{pki.alt, pki.srv_key};  // mismatched SNI key
    CHECK_THROWS_AS(bulb::TlsContext::server(pki.srv, pki.srv_key, so), bulb::Error);
    bulb::TlsServerOptions so2;
    so2.client_ca_file = pki.dir + "/missing-ca.pem";
    CHECK_THROWS_AS(bulb::TlsContext::server(pki.srv, pki.srv_key, so2), bulb::Error);
    bulb::TlsClientOptions co;
    co.cert_file = pki.cli;
    co.key_file = pki.srv_key;  // mismatched
    CHECK_THROWS_AS(bulb::TlsContext::client(co), bulb::Error);
    bulb::TlsClientOptions co2;
    co2.ca_file = pki.dir + "/missing-ca.pem";
    CHECK_THROWS_AS(bulb::TlsContext::client(co2), bulb::Error);
    try {
        bulb::TlsContext::server(pki.srv, pki.cli_key);
    } catch (const bulb::Error& e) {
        CHECK(e.code().category() == bulb::tls_category());
    }
    CHECK_NOTHROW(bulb::TlsContext::server(pki.srv, pki.srv_key));
}

}  // TEST_SUITE
