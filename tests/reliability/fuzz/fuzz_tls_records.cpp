// SPDX-License-Identifier: MIT
/// @file
/// libFuzzer target (RELIABILITY.md tests 22 and 7, the TLS record feed): bulb's TLS transport,
/// client or server side, on one end of a Unix socketpair; at the other end a real OpenSSL peer
/// run through memory BIOs, whose ciphertext toward bulb passes a tamperer the input drives. The
/// input picks the side, the path (a connection wrapped from the start, as create_connection and
/// create_server do, or start_tls on a plain connection), TLS 1.2 or 1.3, and then a program of:
/// the peer's flights and records sent whole, split at any byte, with a byte flipped, with bytes
/// dropped, or hostile bytes injected; peer application data, close_notify, KeyUpdate, a
/// renegotiation request, TCP shutdown(SHUT_WR) and close; bulb writes, close, abort, reading
/// paused and resumed, the handshake's future cancelled; loop iterations. Checked:
///
/// - plaintext bulb delivers is always a prefix of what the peer's application wrote (TLS is
///   authenticated: tampering may end the connection, never change or invent data); the peer
///   likewise only ever reads bulb's bytes, in order;
/// - eof_received only after the peer's close_notify and after every byte before it;
/// - callback order: connection_made once (after the handshake on the wrapped path), nothing
///   after connection_lost, which comes once; the handshake's future resolves or fails with a
///   bulb::Error that names what failed;
/// - when nothing was tampered with and nobody aborted, the end is graceful: the handshake
///   completes, every byte arrives both ways, and close() ends with close_notify both ways and
///   connection_lost without error;
/// - after the peer goes away every connection ends within a bounded number of loop
///   iterations; no exception-handler report; the descriptor closed; ASan/UBSan/LSan clean.
///
/// The PKI (a CA and a "localhost" certificate) is made once per process with the openssl CLI.
#include <bulb/bulb.hpp>
#include <bulb/tls_context.hpp>

#include "tls/tls_protocol.hpp"  // wrap_tls: the path create_connection/create_server take

#include <fuzzer/FuzzedDataProvider.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

bool tracing() {
    static const bool on = std::getenv("BULB_FUZZ_TRACE") != nullptr;
    return on;
}
#define TRACE(...) \
    do { \
        if (tracing()) std::fprintf(stderr, __VA_ARGS__); \
    } while (0)

[[noreturn]] void violated(const char* what, const std::string& detail = {}) {
    std::fprintf(stderr, "fuzz_tls_records: invariant violated: %s %s\n", what, detail.c_str());
    std::abort();
}
/// Aborts (a crash for libFuzzer, with the input saved) when an invariant does not hold.
void expect(bool holds, const char* what, const std::string& detail = {}) {
    if (!holds) violated(what, detail);
}

/// Position-dependent plaintext: byte p of a stream with salt s. Loss, duplication, reordering
/// and altered bytes all show.
std::byte stream_byte(std::size_t p, unsigned salt) {
    return static_cast<std::byte>(((p ^ (p >> 8) ^ (p >> 16)) * 131u + salt) & 0xff);
}
std::vector<std::byte> stream_bytes(std::size_t pos, std::size_t n, unsigned salt) {
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = stream_byte(pos + i, salt);
    return v;
}
bool is_stream_bytes(std::size_t pos, const std::byte* data, std::size_t n, unsigned salt) {
    for (std::size_t i = 0; i < n; ++i)
        if (data[i] != stream_byte(pos + i, salt)) return false;
    return true;
}
constexpr unsigned bulb_salt = 17, peer_salt = 101;

// --- the PKI and contexts (once per process) ----------------------------------------------

struct Pki {
    std::string dir, ca, ca_key, srv, srv_key;
};
const Pki& pki() {
    static const Pki p = [] {
        Pki k;
        char tmpl[] = "/tmp/bulb-fuzz-tls-XXXXXX";
        if (!::mkdtemp(tmpl)) violated("mkdtemp");
        k.dir = tmpl;
        k.ca = k.dir + "/ca.pem", k.ca_key = k.dir + "/ca.key";
        k.srv = k.dir + "/srv.pem", k.srv_key = k.dir + "/srv.key";
        const std::string q = " >/dev/null 2>&1";
        const std::string cmds[] = {
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bulb-fuzz-ca"
            " -keyout " + k.ca_key + " -out " + k.ca +
                " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign" + q,
            "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -keyout " +
                k.srv_key + " -out " + k.dir + "/srv.csr" + q,
            "printf 'subjectAltName=DNS:localhost\\n' > " + k.dir + "/srv.ext",
            "openssl x509 -req -in " + k.dir + "/srv.csr -CA " + k.ca + " -CAkey " + k.ca_key +
                " -CAcreateserial -days 2 -extfile " + k.dir + "/srv.ext -out " + k.srv + q,
        };
        for (const auto& c : cmds)
            if (std::system(c.c_str()) != 0) violated("making the test PKI failed:", c);
        static std::string to_remove;
        to_remove = k.dir;
        std::atexit([] { std::system(("rm -rf " + to_remove).c_str()); });
        return k;
    }();
    return p;
}

/// bulb's contexts: a verifying client (the test CA, host name checked) and a server.
const bulb::TlsContext& bulb_client_ctx() {
    static const bulb::TlsContext c = bulb::TlsContext::client(bulb::TlsClientOptions{.ca_file = pki().ca});
    return c;
}
const bulb::TlsContext& bulb_server_ctx() {
    static const bulb::TlsContext c = bulb::TlsContext::server(pki().srv, pki().srv_key);
    return c;
}

/// The peer's OpenSSL contexts.
SSL_CTX* peer_ctx(bool server) {
    static SSL_CTX* const ctxs[2] = {
        [] {
            SSL_CTX* c = SSL_CTX_new(TLS_client_method());
            SSL_CTX_load_verify_locations(c, pki().ca.c_str(), nullptr);
            SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
            return c;
        }(),
        [] {
            SSL_CTX* c = SSL_CTX_new(TLS_server_method());
            if (SSL_CTX_use_certificate_chain_file(c, pki().srv.c_str()) != 1 ||
                SSL_CTX_use_PrivateKey_file(c, pki().srv_key.c_str(), SSL_FILETYPE_PEM) != 1)
                violated("peer server context");
            return c;
        }(),
    };
    return ctxs[server ? 1 : 0];
}

// --- the OpenSSL peer ----------------------------------------------------------------------

struct Peer {
    SSL* ssl = nullptr;
    BIO* rbio = nullptr;  // ciphertext from bulb (the SSL reads it)
    BIO* wbio = nullptr;  // ciphertext toward bulb (the SSL writes it)
    int fd = -1;
    bool tls12 = false;
    bool handshake_done = false, failed = false, got_close_notify = false, sent_close_notify = false;
    bool tcp_eof = false, tcp_shut_wr = false, tcp_closed = false;
    bool tampered = false;       // the stream toward bulb was changed (flip, drop, injection)
    std::string out;             // ciphertext made by the SSL, not yet sent
    std::size_t written = 0;     // plaintext SSL_write took
    std::size_t close_notify_at = 0;  // `written` when close_notify was queued
    std::size_t received = 0;    // plaintext read from bulb

    ~Peer() {
        if (ssl) SSL_free(ssl);  // frees both BIOs
        if (fd >= 0) ::close(fd);
    }

    void collect() {
        char buf[16384];
        for (;;) {
            const int n = BIO_read(wbio, buf, sizeof buf);
            if (n <= 0) break;
            out.append(buf, static_cast<std::size_t>(n));
        }
    }

    /// Ciphertext from the socket into the SSL.
    void receive() {
        if (tcp_closed || tcp_eof) return;
        char buf[65536];
        for (int i = 0; i < 8; ++i) {
            const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) {
                BIO_write(rbio, buf, static_cast<int>(n));
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) tcp_eof = true;  // EOF or reset
            break;
        }
    }

    /// Advances the handshake and reads bulb's plaintext (checked against bulb's stream).
    void process(std::size_t bulb_accepted) {
        if (failed || !ssl) return;
        if (!handshake_done) {
            const int r = SSL_do_handshake(ssl);
            if (r == 1) {
                handshake_done = true;
                TRACE("  peer: handshake done (%s)\n", SSL_get_version(ssl));
            } else {
                const int e = SSL_get_error(ssl, r);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) fail("handshake");
            }
        }
        while (handshake_done && !failed && !got_close_notify) {
            std::byte buf[16384];
            const int r = SSL_read(ssl, buf, sizeof buf);
            if (r > 0) {
                const auto n = static_cast<std::size_t>(r);
                expect(received + n <= bulb_accepted, "the peer reads no more than bulb's write() accepted");
                expect(is_stream_bytes(received, buf, n, bulb_salt), "the peer reads bulb's bytes, in order");
                received += n;
                continue;
            }
            const int e = SSL_get_error(ssl, r);
            if (e == SSL_ERROR_ZERO_RETURN) {
                got_close_notify = true;
                TRACE("  peer: got close_notify after %zu bytes\n", received);
            } else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                fail("read");
            }
            break;
        }
        collect();
    }

    void fail(const char* where) {
        failed = true;
        ERR_clear_error();
        TRACE("  peer: %s failed\n", where);
    }

    /// Sends `n` bytes of the pending ciphertext, optionally flipping one of them.
    void send_out(std::size_t n, std::optional<std::size_t> flip_at) {
        n = std::min(n, out.size());
        if (n == 0 || tcp_closed || tcp_shut_wr) return;
        std::string chunk = out.substr(0, n);
        if (flip_at && *flip_at < n) {
            chunk[*flip_at] = static_cast<char>(chunk[*flip_at] ^ 0x01);
            tampered = true;
        }
        const ssize_t k = ::send(fd, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k > 0) out.erase(0, static_cast<std::size_t>(k));
    }
    void send_raw(const std::string& bytes) {
        if (bytes.empty() || tcp_closed || tcp_shut_wr) return;
        tampered = true;
        (void)::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    void drop(std::size_t n) {
        n = std::min(n, out.size());
        if (n == 0) return;
        out.erase(0, n);
        tampered = true;
    }
    void write_app(std::size_t n) {
        if (!handshake_done || failed || sent_close_notify || got_close_notify || n == 0) return;
        const auto data = stream_bytes(written, n, peer_salt);
        const int r = SSL_write(ssl, data.data(), static_cast<int>(n));
        if (r > 0) {
            written += static_cast<std::size_t>(r);
        } else {
            fail("write");
        }
        collect();
    }
    void close_notify() {
        if (!handshake_done || failed || sent_close_notify) return;
        sent_close_notify = true;
        close_notify_at = written;
        (void)SSL_shutdown(ssl);
        ERR_clear_error();
        collect();
    }
    void close_tcp() {
        if (tcp_closed) return;
        ::close(fd);
        fd = -1;
        tcp_closed = true;
    }
};

// --- bulb's side ---------------------------------------------------------------------------

struct Model {
    Peer peer;
    bool wrapped_path = true;       // wrap_tls (create_connection/create_server) or start_tls
    bool keep_open_on_eof = false;
    bulb::TransportPtr tls;         // the TLS transport, once the handshake handed it out
    int made = 0, lost = 0, eofs = 0;
    std::error_code lost_ec;
    bool writing_paused = false;
    int handshake = 0;              // 0 pending, 1 done, 2 failed
    std::string handshake_error;
    std::size_t received = 0;       // plaintext delivered to the app
    std::size_t accepted = 0;       // plaintext the app's write() took
    bool closed = false, aborted = false, cancelled = false;
    bool renegotiation_requested = false;
};

class App final : public bulb::Protocol {
public:
    explicit App(Model& m) : m_(m) {}
    void connection_made(bulb::Transport& t) override {
        expect(m_.made == 0 && m_.lost == 0, "connection_made first and once");
        ++m_.made;
        // On the wrapped path this is the TLS transport, after the handshake; on the start_tls
        // path it is the plain connection (the TLS transport comes from start_tls's future).
        if (m_.wrapped_path) {
            expect(std::string(t.kind()) == "TlsTransport", "connection_made gets the TLS transport");
            m_.tls = bulb::TransportPtr(&t);
        }
    }
    void data_received(bulb::ByteView data) override {
        enter();
        expect(!data.empty(), "no empty data_received");
        expect(m_.eofs == 0, "no data after eof_received");
        expect(m_.received + data.size() <= m_.peer.written, "no more plaintext than the peer wrote");
        expect(is_stream_bytes(m_.received, data.data(), data.size(), peer_salt),
               "delivered plaintext is the peer's, in order (never altered)");
        m_.received += data.size();
        TRACE("  data_received %zu (total %zu)\n", data.size(), m_.received);
    }
    bool eof_received() override {
        enter();
        expect(m_.eofs == 0, "eof_received once");
        expect(m_.peer.sent_close_notify, "eof_received only after the peer's close_notify");
        expect(m_.received == m_.peer.close_notify_at, "every byte before close_notify, then eof_received",
               std::to_string(m_.received) + " of " + std::to_string(m_.peer.close_notify_at));
        ++m_.eofs;
        TRACE("  eof_received\n");
        return m_.keep_open_on_eof;
    }
    void connection_lost(std::error_code ec) override {
        enter();
        ++m_.lost;
        m_.lost_ec = ec;
        TRACE("  connection_lost: %s\n", ec ? ec.message().c_str() : "no error");
    }
    void pause_writing() override {
        enter();
        expect(!m_.writing_paused, "pause_writing only when not paused");
        m_.writing_paused = true;
    }
    void resume_writing() override {
        enter();
        expect(m_.writing_paused, "resume_writing only after pause_writing");
        m_.writing_paused = false;
    }

private:
    void enter() {
        expect(m_.made == 1, "no callback before connection_made");
        expect(m_.lost == 0, "no callback after connection_lost");
    }
    Model& m_;
};

void run_iterations(bulb::EventLoop& loop, int n) {
    for (int i = 0; i < n; ++i) {
        loop.stop();
        loop.run_forever();  // one iteration, polling without blocking
    }
}

/// The handshake's outcome, from whichever future the path has.
void on_handshake(Model& m, std::exception_ptr e, bulb::TransportPtr t) {
    expect(m.handshake == 0, "the handshake's future completes once");
    if (!e) {
        m.handshake = 1;
        if (!m.tls) m.tls = std::move(t);
        TRACE("  bulb: handshake done\n");
        return;
    }
    m.handshake = 2;
    try {
        std::rethrow_exception(e);
    } catch (const bulb::Error& err) {
        m.handshake_error = err.what();
        expect(!m.handshake_error.empty(), "a failed handshake names what failed");
    } catch (const bulb::CancelledError&) {
        expect(m.cancelled, "the handshake's future is cancelled only when we cancelled it");
        m.handshake_error = "cancelled";
    } catch (...) {
        violated("the handshake fails with a bulb::Error");
    }
    TRACE("  bulb: handshake failed: %s\n", m.handshake_error.c_str());
}

/// One round of the pump: the peer sends everything, the loop turns, the peer reads.
void pump(bulb::EventLoop& loop, Model& m) {
    m.peer.send_out(m.peer.out.size(), std::nullopt);
    run_iterations(loop, 1);
    m.peer.receive();
    m.peer.process(m.accepted);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)pki();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    Model m;
    const bool bulb_server = in.ConsumeBool();
    m.wrapped_path = in.ConsumeBool();
    m.peer.tls12 = in.ConsumeBool();
    m.keep_open_on_eof = in.ConsumeBool();
    TRACE("bulb %s, %s path, peer %s, keep_open_on_eof %d\n", bulb_server ? "server" : "client",
          m.wrapped_path ? "wrapped" : "start_tls", m.peer.tls12 ? "TLS 1.2" : "TLS 1.3", m.keep_open_on_eof);

    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 0;
    m.peer.fd = sv[1];
    m.peer.ssl = SSL_new(peer_ctx(!bulb_server));
    m.peer.rbio = BIO_new(BIO_s_mem());
    m.peer.wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(m.peer.ssl, m.peer.rbio, m.peer.wbio);
    if (m.peer.tls12) SSL_set_max_proto_version(m.peer.ssl, TLS1_2_VERSION);
    if (bulb_server) {
        SSL_set_connect_state(m.peer.ssl);
        SSL_set_tlsext_host_name(m.peer.ssl, "localhost");
        SSL_set1_host(m.peer.ssl, "localhost");
    } else {
        SSL_set_accept_state(m.peer.ssl);
    }

    int reports = 0;
    std::string first_report;
    {
        bulb::EventLoop loop;
        loop.set_exception_handler([&](bulb::EventLoop&, const bulb::ExceptionContext& c) {
            if (reports++ == 0) first_report = c.message;
        });
        const bulb::TlsContext& ctx = bulb_server ? bulb_server_ctx() : bulb_client_ctx();
        const std::string hostname = bulb_server ? "" : "localhost";
        std::optional<bulb::Future<bulb::Connection>> waiter;
        std::optional<bulb::Future<bulb::TransportPtr>> upgraded;
        bulb::TransportPtr raw;
        if (m.wrapped_path) {
            waiter.emplace(loop);
            waiter->add_done_callback([&m](bulb::Future<bulb::Connection>& f) {
                if (f.cancelled()) return on_handshake(m, std::make_exception_ptr(bulb::CancelledError("")), {});
                auto e = f.exception();
                on_handshake(m, e, e ? bulb::TransportPtr() : f.result().transport);
            });
            auto wrapping = bulb::detail::wrap_tls(loop, bulb::detail::TlsSettings{ctx, bulb_server, hostname},
                                                   std::make_unique<App>(m), *waiter);
            auto raw_protocol = std::make_shared<std::unique_ptr<bulb::Protocol>>(std::move(wrapping.raw_protocol));
            raw = loop.run_until_complete(loop.connect_accepted_socket(
                                              [raw_protocol] { return std::move(*raw_protocol); }, sv[0]))
                      .transport;
        } else {
            raw = loop.run_until_complete(
                          loop.connect_accepted_socket([&m] { return std::make_unique<App>(m); }, sv[0]))
                      .transport;
            expect(m.made == 1, "the plain connection's connection_made");
            upgraded.emplace(loop.start_tls(raw, ctx, bulb_server, hostname));
            upgraded->add_done_callback([&m](bulb::Future<bulb::TransportPtr>& f) {
                if (f.cancelled()) return on_handshake(m, std::make_exception_ptr(bulb::CancelledError("")), {});
                auto e = f.exception();
                on_handshake(m, e, e ? bulb::TransportPtr() : f.result());
            });
        }

        std::size_t total = 0;  // bounds the plaintext one input may move
        while (in.remaining_bytes() > 0) {
            const int op = in.ConsumeIntegralInRange(0, 22);
            const std::size_t n = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::size_t>(0, 600)
                                                   : in.ConsumeIntegralInRange<std::size_t>(0, 70000);
            TRACE("op %d n %zu\n", op, n);
            bulb::Transport* t = m.tls.get();
            switch (op) {
            case 0: case 1: case 2: m.peer.send_out(n, std::nullopt); break;
            case 3: m.peer.send_out(n, in.ConsumeIntegralInRange<std::size_t>(0, 600)); break;
            case 4: if (in.ConsumeProbability<float>() < 0.5f) m.peer.drop(n % 64 + 1); break;
            case 5: m.peer.send_raw(in.ConsumeBytesAsString(n % 600)); break;
            case 6: m.peer.receive(); m.peer.process(m.accepted); break;
            case 7:  // round trips (the peer sends all, the loop turns, the peer reads): reaches the
                     // established connection in a few operations
                for (std::size_t i = 0; i < n % 8 + 1; ++i) pump(loop, m);
                break;
            case 8:
                if (total + n <= (8u << 20)) m.peer.write_app(n), total += n;
                break;
            case 9: m.peer.close_notify(); break;
            case 10:
                if (m.peer.handshake_done && !m.peer.failed && !m.peer.sent_close_notify) {
                    if (!m.peer.tls12)
                        SSL_key_update(m.peer.ssl, in.ConsumeBool() ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED);
                    else if (SSL_renegotiate(m.peer.ssl) == 1)
                        // bulb refuses renegotiation (no_renegotiation), which OpenSSL's server
                        // answers with a fatal alert: no graceful end promised after this.
                        m.renegotiation_requested = true;
                    // Sent with the next record (or a handshake step).
                    (void)SSL_do_handshake(m.peer.ssl);
                    ERR_clear_error();
                    m.peer.collect();
                }
                break;
            case 11:
                if (!m.peer.tcp_closed && !m.peer.tcp_shut_wr && in.ConsumeProbability<float>() < 0.3f) {
                    ::shutdown(m.peer.fd, SHUT_WR);
                    m.peer.tcp_shut_wr = true;
                }
                break;
            case 12:
                if (in.ConsumeProbability<float>() < 0.2f) m.peer.close_tcp();
                break;
            case 13: case 14: case 15: run_iterations(loop, static_cast<int>(n % 4) + 1); break;
            case 16:
                if (t && total + n <= (8u << 20)) {
                    const bool closing = t->is_closing();
                    const auto bytes = stream_bytes(m.accepted, n, bulb_salt);
                    t->write(bulb::ByteView(bytes.data(), bytes.size()));
                    if (!closing) m.accepted += n;
                    total += n;
                }
                break;
            case 17:
                if (t) {
                    if (!t->is_closing()) m.closed = true;
                    t->close();
                }
                break;
            case 18:
                if (in.ConsumeProbability<float>() < 0.3f) {
                    if (t) {
                        if (m.lost == 0) m.aborted = true;
                        t->abort();
                    } else if (raw && !m.wrapped_path && m.handshake == 0) {
                        m.aborted = true;  // the plain connection under the handshake
                        raw->abort();
                    }
                }
                break;
            case 19: if (t) t->pause_reading(); break;
            case 20: if (t) t->resume_reading(); break;
            case 21:
                if (in.ConsumeProbability<float>() < 0.3f && m.handshake == 0) {
                    m.cancelled = true;
                    if (waiter) waiter->cancel("fuzz");
                    if (upgraded) upgraded->cancel("fuzz");
                }
                break;
            default: if (t) (void)t->get_extra_info("cipher"), (void)t->get_write_buffer_size(); break;
            }
            if (t && m.lost == 0) expect(t->is_writing_paused() == m.writing_paused, "is_writing_paused() matches the callbacks");
        }

        // The end. Without tampering, aborts, cancels or a peer that went away, everything must
        // get through: the handshake, every byte both ways, and close_notify both ways.
        if (m.tls) m.tls->resume_reading();
        const bool graceful = !m.peer.tampered && !m.peer.failed && !m.peer.tcp_closed && !m.peer.tcp_shut_wr &&
                              !m.aborted && !m.cancelled && !m.renegotiation_requested && m.handshake != 2;
        if (graceful) {
            for (int i = 0; i < 200; ++i) pump(loop, m);
            expect(m.handshake == 1, "the handshake completes", m.handshake_error);
            expect(m.peer.handshake_done && !m.peer.failed, "the peer's handshake completes");
            // After the app's close() bulb drops what arrives (asyncio does the same).
            if (!m.closed)
                expect(m.received == m.peer.written, "bulb got every byte the peer wrote",
                       std::to_string(m.received) + " of " + std::to_string(m.peer.written));
            expect(m.peer.received == m.accepted, "the peer got every byte bulb's write() accepted",
                   std::to_string(m.peer.received) + " of " + std::to_string(m.accepted));
            if (m.lost == 0) {
                m.closed = true;
                m.tls->close();
            }
            for (int i = 0; i < 200 && m.lost == 0; ++i) {
                pump(loop, m);
                if (m.peer.got_close_notify) m.peer.close_notify();  // the answer
            }
            expect(m.lost == 1, "connection_lost after close() and the peer's answer");
            expect(!m.lost_ec, "a graceful end has no error", m.lost_ec.message());
            expect(m.peer.got_close_notify, "bulb's close() sends close_notify");
        }
        // The peer goes away: every connection ends within a bounded number of iterations.
        m.peer.close_tcp();
        // An app that kept its side open after close_notify (eof_received returned true) owns
        // the end, as over TCP: it closes once done.
        for (int i = 0; i < 1000 && (m.handshake == 0 || (m.made && !m.lost)); ++i) {
            if (m.eofs && m.keep_open_on_eof && m.tls && !m.tls->is_closing()) m.tls->close();
            run_iterations(loop, 1);
        }
        expect(m.handshake != 0, "the handshake's future completes once the peer is gone");
        expect(m.made == m.lost, "connection_lost follows connection_made, once");
        if (m.wrapped_path) expect((m.made == 1) == (m.handshake == 1), "connection_made exactly when the handshake succeeded");
        if (m.tls) {
            bulb::Transport& t = *m.tls;
            expect(t.is_closing() && t.get_fd() == -1 && t.get_protocol() == nullptr, "a lost transport is inert");
            t.close();
            t.abort();
            t.pause_reading();
            t.resume_reading();
            const auto bytes = stream_bytes(0, 10, bulb_salt);
            t.write(bulb::ByteView(bytes.data(), bytes.size()));
        }
        m.tls = bulb::TransportPtr();
        raw = bulb::TransportPtr();
        waiter.reset();
        upgraded.reset();
        run_iterations(loop, 2);
        expect(m.lost <= 1, "nothing after connection_lost");
        loop.close();
    }
    expect(reports == 0, "no exception-handler report", first_report);
    expect(::fcntl(sv[0], F_GETFD) == -1 && errno == EBADF, "the transport closed its descriptor");
    ERR_clear_error();
    return 0;
}
