// SPDX-License-Identifier: MIT
/// @file
/// libFuzzer target (RELIABILITY.md test 7, transport-state-machine-fuzz): the input is a
/// program of operations on a bulb StreamTransport over one end of a Unix socketpair, and on a
/// raw peer socket at the other end. Transport calls: write, writelines, write_eof,
/// pause_reading / resume_reading, set_write_buffer_limits, set_protocol, close, abort; the protocol's own
/// reactions inside its callbacks (pause, close, abort, write, keep open on EOF); peer reads,
/// writes, shutdown(SHUT_WR) and close; loop iterations. Checked after every operation and at
/// the end of each input:
///
/// - callback order: connection_made first and once, nothing after connection_lost, which comes
///   exactly once; pause_writing / resume_writing alternate, starting with pause, and match
///   is_writing_paused();
/// - the bytes each side received are a prefix of what the other side had written (a position-
///   dependent pattern, so loss, duplication and reordering show); eof_received comes only after
///   the peer's shutdown and after all its bytes;
/// - write() throws exactly after write_eof(); get_write_buffer_size() never exceeds what is
///   still in flight;
/// - when nobody aborted and the peer never closed, the end is graceful: connection_lost has no
///   error and the peer receives every byte write() accepted, then EOF;
/// - no exception-handler report, the descriptor closed after connection_lost, ASan/UBSan/LSan
///   clean (a fresh loop per input, closed at its end).
#include <bulb/bulb.hpp>

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

/// BULB_FUZZ_TRACE=1 prints each operation (for triaging a saved input).
bool tracing() {
    static const bool on = std::getenv("BULB_FUZZ_TRACE") != nullptr;
    return on;
}

[[noreturn]] void violated(const char* what, const std::string& detail = {}) {
    std::fprintf(stderr, "fuzz_transport_ops: invariant violated: %s %s\n", what, detail.c_str());
    std::abort();
}
/// Aborts (a crash for libFuzzer, with the input saved) when an invariant does not hold.
void expect(bool holds, const char* what, const std::string& detail = {}) {
    if (!holds) violated(what, detail);
}

/// A position-dependent byte stream: byte p of a stream is pattern()[(p + start) % period].
constexpr std::size_t period = 1'000'003;  // prime: no power-of-two write size lines up with it
constexpr std::size_t max_write = 1 << 20;
const std::vector<std::byte>& pattern() {
    static const std::vector<std::byte> p = [] {
        std::vector<std::byte> v(period + max_write);
        std::uint32_t x = 2463534242u;
        for (std::size_t i = 0; i < period; ++i) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            v[i] = static_cast<std::byte>(x >> 24);
        }
        // The tail repeats the head, so a view that starts before `period` and runs past it
        // reads the same bytes as the stream does there (pattern()[p % period]).
        // (max_write > period: the copy overlaps its source, so byte by byte, front to back.)
        for (std::size_t i = period; i < v.size(); ++i) v[i] = v[i - period];
        return v;
    }();
    return p;
}
bulb::ByteView stream_bytes(std::size_t start, std::size_t pos, std::size_t n) {
    return bulb::ByteView(pattern().data() + (start + pos) % period, n);
}
bool is_stream_bytes(std::size_t start, std::size_t pos, const std::byte* data, std::size_t n) {
    return n == 0 || std::memcmp(pattern().data() + (start + pos) % period, data, n) == 0;
}
constexpr std::size_t bulb_stream = 0, peer_stream = 500'009;

/// What the protocol does from inside its callbacks (chosen per input).
struct Reactions {
    std::size_t pause_after = 0;     // pause_reading once this many bytes arrived (0: never)
    std::size_t close_after = 0;     // close() once this many bytes arrived (0: never)
    std::size_t abort_after = 0;     // abort() once this many bytes arrived (0: never)
    std::size_t echo = 0;            // write this many bytes from each data_received
    bool keep_open_on_eof = false;   // eof_received's answer
    int on_pause_writing = 0;        // 0 nothing, 1 close(), 2 abort()
    bool buffered = false;           // a BufferedProtocol
    std::size_t buffer_size = 1;     // its get_buffer size
};

/// The model both sides are checked against.
struct Model {
    bulb::Transport* transport = nullptr;
    Reactions react;
    int made = 0, lost = 0, eofs = 0;
    bool writing_paused = false;
    std::error_code lost_ec;
    std::size_t received = 0;  // bytes the protocol got (of the peer's stream)
    std::size_t accepted = 0;  // bytes write()/writelines() took (of bulb's stream)
    bool eof_requested = false, closed = false, aborted = false;
    // The peer.
    int peer = -1;
    bool peer_shut_wr = false, peer_closed = false, peer_eof = false, peer_error = false;
    std::size_t peer_written = 0, peer_received = 0;

    bool in_callback = false;

    /// Writes from the protocol or the program: counts what the transport accepted.
    void write(std::size_t n, bool lines, std::size_t pieces) {
        const bool closing = transport->is_closing();
        const std::size_t len = std::min(n, max_write);
        bool threw = false;
        try {
            if (lines) {
                std::vector<bulb::ByteView> bufs;
                std::size_t pos = accepted, left = len;
                for (std::size_t i = 0; i < pieces; ++i) {
                    std::size_t part = i + 1 == pieces ? left : left / 2;
                    bufs.push_back(stream_bytes(bulb_stream, pos, part));
                    pos += part;
                    left -= part;
                }
                transport->writelines(bufs);
            } else {
                transport->write(stream_bytes(bulb_stream, accepted, len));
            }
        } catch (const bulb::InvalidStateError&) {
            threw = true;
        }
        expect(threw == eof_requested, "write() throws exactly after write_eof()");
        if (!threw && !closing) accepted += len;
        if (tracing()) std::fprintf(stderr, "  write %zu%s: %s, accepted %zu\n", len, lines ? " (writelines)" : "",
                                    threw ? "threw" : closing ? "closing" : "ok", accepted);
    }
    void close() {
        if (!transport->is_closing()) closed = true;
        transport->close();
    }
    void abort() {
        if (lost == 0) aborted = true;  // the buffer may be dropped: no graceful end any more
        transport->abort();
    }
};

template <class Base>
class Checker : public Base {
public:
    explicit Checker(Model& m) : m_(m) {}

    void connection_made(bulb::Transport& t) override {
        expect(m_.made == 0 && m_.lost == 0, "connection_made first and once");
        ++m_.made;
        m_.transport = &t;
    }
    bool eof_received() override {
        enter();
        expect(m_.eofs == 0, "eof_received once");
        expect(m_.peer_shut_wr || m_.peer_closed, "eof_received only after the peer's shutdown or close");
        if (m_.peer_shut_wr && !m_.peer_closed)
            expect(m_.received == m_.peer_written, "every byte before the EOF",
                   std::to_string(m_.received) + " of " + std::to_string(m_.peer_written));
        ++m_.eofs;
        if (tracing()) std::fprintf(stderr, "  eof_received\n");
        m_.in_callback = false;
        return m_.react.keep_open_on_eof;
    }
    void connection_lost(std::error_code ec) override {
        enter();
        expect(m_.lost == 0, "connection_lost exactly once");
        ++m_.lost;
        m_.lost_ec = ec;
        if (tracing()) std::fprintf(stderr, "  connection_lost %s\n", ec.message().c_str());
        m_.in_callback = false;
    }
    void pause_writing() override {
        enter();
        expect(!m_.writing_paused, "pause_writing only when not paused");
        m_.writing_paused = true;
        if (m_.react.on_pause_writing == 1) m_.close();
        if (m_.react.on_pause_writing == 2) m_.abort();
        m_.in_callback = false;
    }
    void resume_writing() override {
        enter();
        expect(m_.writing_paused, "resume_writing only after pause_writing");
        m_.writing_paused = false;
        m_.in_callback = false;
    }

protected:
    void enter() {
        expect(m_.made == 1, "no callback before connection_made");
        expect(m_.lost == 0, "no callback after connection_lost");
        m_.in_callback = true;
    }
    void on_data(const std::byte* data, std::size_t n) {
        enter();
        expect(n > 0, "no empty data_received");
        expect(m_.eofs == 0, "no data after eof_received");
        expect(m_.received + n <= m_.peer_written, "no more bytes than the peer wrote");
        expect(is_stream_bytes(peer_stream, m_.received, data, n), "received bytes are the peer's, in order");
        const std::size_t before = m_.received;
        if (tracing()) std::fprintf(stderr, "  data_received %zu\n", n);
        m_.received += n;
        const Reactions& r = m_.react;
        auto crossed = [&](std::size_t mark) { return mark != 0 && before < mark && m_.received >= mark; };
        if (crossed(r.pause_after)) m_.transport->pause_reading();
        if (r.echo) m_.write(r.echo, false, 1);
        if (crossed(r.close_after)) m_.close();
        if (crossed(r.abort_after)) m_.abort();
        m_.in_callback = false;
    }
    Model& m_;
};

class PlainChecker final : public Checker<bulb::Protocol> {
public:
    using Checker::Checker;
    void data_received(bulb::ByteView data) override { on_data(data.data(), data.size()); }
};

class BufferedChecker final : public Checker<bulb::BufferedProtocol> {
public:
    explicit BufferedChecker(Model& m) : Checker(m), buf_(m.react.buffer_size) {}
    bulb::MutableByteView get_buffer(std::size_t) override {
        enter();
        m_.in_callback = false;
        return bulb::MutableByteView(buf_.data(), buf_.size());
    }
    void buffer_updated(std::size_t n) override {
        expect(n <= buf_.size(), "buffer_updated within the buffer");
        on_data(buf_.data(), n);
    }

private:
    std::vector<std::byte> buf_;
};

// --- the peer ------------------------------------------------------------------------------

void peer_read(Model& m, std::size_t max) {
    // recv() of 0 bytes returns 0 without meaning EOF: read at least one byte.
    max = std::max<std::size_t>(max, 1);
    if (m.peer_closed || m.peer_eof || m.peer_error) return;
    static std::vector<std::byte> buf(max_write);
    ssize_t n = ::recv(m.peer, buf.data(), std::min(max, buf.size()), MSG_DONTWAIT);
    if (n > 0) {
        const auto got = static_cast<std::size_t>(n);
        expect(m.peer_received + got <= m.accepted, "the peer gets no more than write() accepted");
        if (!is_stream_bytes(bulb_stream, m.peer_received, buf.data(), got)) {
            std::size_t i = 0;
            while (is_stream_bytes(bulb_stream, m.peer_received + i, buf.data() + i, 1)) ++i;
            violated("the peer gets bulb's bytes, in order",
                     "(first wrong byte at stream offset " + std::to_string(m.peer_received + i) + ")");
        }
        m.peer_received += got;
        if (tracing()) std::fprintf(stderr, "  peer got %zu (total %zu)\n", got, m.peer_received);
    } else if (n == 0) {
        expect(m.eof_requested || m.closed || m.aborted || m.lost, "the peer sees EOF only after bulb ended");
        m.peer_eof = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        expect(m.aborted || m.lost, "a peer read error only after an abort or loss", std::strerror(errno));
        m.peer_error = true;
    }
}

void peer_write(Model& m, std::size_t n) {
    if (m.peer_closed || m.peer_shut_wr) return;
    ssize_t k = ::send(m.peer, stream_bytes(peer_stream, m.peer_written, std::min(n, max_write)).data(),
                       std::min(n, max_write), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (k > 0) m.peer_written += static_cast<std::size_t>(k);
}

void run_iterations(bulb::EventLoop& loop, int n) {
    for (int i = 0; i < n; ++i) {
        loop.stop();
        loop.run_forever();  // one iteration, polling without blocking
    }
}

void check_state(Model& m) {
    if (m.lost) return;
    expect(m.transport->is_writing_paused() == m.writing_paused, "is_writing_paused() matches the callbacks");
    expect(m.transport->get_write_buffer_size() <= m.accepted - m.peer_received,
           "the write buffer holds no more than is in flight");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    Model m;
    Reactions& r = m.react;
    r.buffered = in.ConsumeBool();
    r.buffer_size = in.ConsumeIntegralInRange<std::size_t>(1, 70000);
    if (in.ConsumeBool()) r.pause_after = in.ConsumeIntegralInRange<std::size_t>(1, 300000);
    if (in.ConsumeProbability<float>() < 0.2f) r.close_after = in.ConsumeIntegralInRange<std::size_t>(1, 300000);
    if (in.ConsumeProbability<float>() < 0.2f) r.abort_after = in.ConsumeIntegralInRange<std::size_t>(1, 300000);
    if (in.ConsumeBool()) r.echo = in.ConsumeIntegralInRange<std::size_t>(1, 5000);
    r.keep_open_on_eof = in.ConsumeBool();
    r.on_pause_writing = in.ConsumeIntegralInRange(0, 2);
    const int sndbuf = in.ConsumeIntegralInRange(0, 262144);
    if (tracing())
        std::fprintf(stderr, "buffered %d size %zu pause_after %zu close_after %zu abort_after %zu echo %zu keep_open %d on_pause_writing %d sndbuf %d\n",
                     r.buffered, r.buffer_size, r.pause_after, r.close_after, r.abort_after, r.echo,
                     r.keep_open_on_eof, r.on_pause_writing, sndbuf);

    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 0;
    if (sndbuf > 0) ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    m.peer = sv[1];
    int reports = 0;
    std::string first_report;
    {
        bulb::EventLoop loop;
        loop.set_exception_handler([&](bulb::EventLoop&, const bulb::ExceptionContext& c) {
            if (reports++ == 0) first_report = c.message;
        });
        auto connected = loop.connect_accepted_socket(
            [&m]() -> std::unique_ptr<bulb::Protocol> {
                if (m.react.buffered) return std::make_unique<BufferedChecker>(m);
                return std::make_unique<PlainChecker>(m);
            },
            sv[0]);
        bulb::TransportPtr t = loop.run_until_complete(std::move(connected)).transport;
        expect(m.made == 1 && m.transport == t.get(), "connection_made before the connection is handed out");

        std::size_t total = 0;  // bounds the bytes one input may move
        while (in.remaining_bytes() > 0) {
            const int op = in.ConsumeIntegralInRange(0, 17);
            const std::size_t n =
                in.ConsumeBool() ? in.ConsumeIntegralInRange<std::size_t>(0, 2000) : in.ConsumeIntegralInRange<std::size_t>(0, max_write);
            if (tracing()) std::fprintf(stderr, "op %d n %zu\n", op, n);
            if (op <= 2 && total + n > (32u << 20)) continue;
            switch (op) {
            case 0: m.write(n, false, 1); total += n; break;
            case 1: m.write(n, true, in.ConsumeIntegralInRange<std::size_t>(1, 80)); total += n; break;
            case 2: peer_write(m, n); total += n; break;
            case 3:
                if (!t->is_closing()) m.eof_requested = true;
                t->write_eof();
                break;
            case 4: t->pause_reading(); break;
            case 5: t->resume_reading(); break;
            case 6: {
                std::optional<std::size_t> high, low;
                if (in.ConsumeBool()) high = n;
                if (in.ConsumeBool()) low = in.ConsumeIntegralInRange<std::size_t>(0, 300000);
                const bool bad = high && low && *high < *low;
                bool threw = false;
                try {
                    t->set_write_buffer_limits(high, low);
                } catch (const std::invalid_argument&) {
                    threw = true;
                }
                expect(threw == bad, "set_write_buffer_limits refuses exactly high < low");
                break;
            }
            case 7: m.close(); break;
            case 8: if (in.ConsumeProbability<float>() < 0.3f) m.abort(); break;
            case 9: case 10: case 11: run_iterations(loop, static_cast<int>(n % 4) + 1); break;
            case 12: case 13: peer_read(m, n); break;
            case 14:
                if (!m.peer_closed && !m.peer_shut_wr) {
                    ::shutdown(m.peer, SHUT_WR);
                    m.peer_shut_wr = true;
                }
                break;
            case 15:
                if (!m.peer_closed && in.ConsumeProbability<float>() < 0.3f) {
                    ::close(m.peer);
                    m.peer_closed = true;
                }
                break;
            case 16: {
                // set_protocol: the connection goes on with a new protocol of the other kind
                // (plain <-> buffered), which gets no connection_made; the old one is dropped.
                m.react.buffered = !m.react.buffered;
                std::unique_ptr<bulb::Protocol> next;
                if (m.react.buffered)
                    next = std::make_unique<BufferedChecker>(m);
                else
                    next = std::make_unique<PlainChecker>(m);
                auto old = t->set_protocol(std::move(next));
                expect(m.lost ? old != nullptr : t->get_protocol() != old.get(), "set_protocol hands back the old protocol");
                break;
            }
            default: (void)t->is_reading(); (void)t->get_write_buffer_limits(); break;
            }
            check_state(m);
        }

        // The end: a graceful one when nothing forbids it, else an abort; then everything settles.
        const bool graceful = !m.aborted && !m.peer_closed;
        if (graceful) {
            m.close();
            for (int i = 0; i < 100000 && !(m.lost && (m.peer_eof || m.peer_error)); ++i) {
                run_iterations(loop, 1);
                peer_read(m, max_write);
            }
            expect(m.lost == 1, "connection_lost after close() while the peer reads");
            expect(!m.lost_ec, "a graceful end has no error", m.lost_ec.message());
            // A Unix socket closed with unread input gives its peer ECONNRESET after the data.
            expect(m.peer_eof || m.peer_error, "the peer sees the end after a graceful close");
            expect(m.peer_received == m.accepted, "the peer got every byte write() accepted",
                   std::to_string(m.peer_received) + " of " + std::to_string(m.accepted));
        } else {
            m.abort();
            for (int i = 0; i < 1000 && !m.lost; ++i) run_iterations(loop, 1);
            expect(m.lost == 1, "connection_lost after abort()");
        }
        expect(t->is_closing() && t->get_fd() == -1 && t->get_protocol() == nullptr, "a lost transport is inert");
        // Calls on the inert transport are harmless and call nothing.
        t->close();
        t->abort();
        t->pause_reading();
        t->resume_reading();
        t = bulb::TransportPtr();
        run_iterations(loop, 2);
        expect(m.lost == 1, "nothing after connection_lost");
        loop.close();
    }
    expect(reports == 0, "no exception-handler report", first_report);
    expect(::fcntl(sv[0], F_GETFD) == -1 && errno == EBADF, "the transport closed its descriptor");
    if (!m.peer_closed) ::close(m.peer);
    return 0;
}
