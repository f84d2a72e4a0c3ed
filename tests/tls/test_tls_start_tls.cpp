// SPDX-License-Identifier: MIT
/// @file
/// start_tls: upgrading a plaintext connection, with read-ahead, buffered plaintext and a paused writer.
#include "tls_support.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

using namespace bulb_tls_test;

TEST_SUITE("tls") {

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

}  // TEST_SUITE
