// SPDX-License-Identifier: MIT
/// @file
/// bulb's own transports on both ends of the impairment proxy (tests/support/impair_proxy.py):
/// plain TCP, TLS, a length-prefixed framed protocol and streams. Through 1-byte segments,
/// delays and stalls every byte arrives intact; a RST injected mid-transfer ends both sides with
/// connection_lost carrying an error; a FIN inside a TLS record or a frame is reported as an
/// error, never as a clean end of data (RELIABILITY.md tests 3, 23, 30 and 31).
#include "../support/impair_proxy.hpp"
#include "../support/transport_fixture.hpp"

#include <bulb/bulb.hpp>
#include <bulb/coro.hpp>
#include <bulb/protocols/framed_protocol.hpp>
#include <bulb/protocols/length_prefixed_codec.hpp>
#include <doctest/doctest.h>

#include <cerrno>
#include <cstdlib>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

using namespace std::chrono_literals;
using bulb_test::ImpairProxyProcess;
using bulb_transport_test::Recorder;
using bulb_transport_test::TransportFixture;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
}

bool is_reset(std::error_code ec) {
    return ec == std::errc::connection_reset || ec == std::errc::broken_pipe;
}

/// A CA-less self-signed certificate for localhost / 127.0.0.1, made once per process.
struct Cert {
    std::string dir, cert, key;
    static const Cert& get() {
        static Cert c;
        return c;
    }

private:
    Cert() {
        char tmpl[] = "/tmp/bulb-impair-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        cert = dir + "/cert.pem", key = dir + "/key.pem";
        std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
                          "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
                          key + " -out " + cert + " >/dev/null 2>&1";
        REQUIRE(std::system(cmd.c_str()) == 0);
        static std::string to_remove;
        to_remove = dir;
        std::atexit([] { std::system(("rm -rf " + to_remove).c_str()); });
    }
};

bulb::ConnectOptions tls_client_options() {
    bulb::ConnectOptions o;
    o.tls = bulb::TlsContext::client({.ca_file = Cert::get().cert});
    o.server_hostname = "localhost";
    o.tls_handshake_timeout = 10s;
    return o;
}

bulb::ServerOptions tls_server_options(bool tls) {
    bulb::ServerOptions o;
    if (tls) o.tls = bulb::TlsContext::server(Cert::get().cert, Cert::get().key);
    o.tls_handshake_timeout = 10s;
    return o;
}

/// A server whose connections echo everything and close at EOF.
struct EchoServer {
    bulb_transport_test::RecorderSetPtr set;
    bulb::Server server;
    std::uint16_t port() const { return server.sockets().at(0).port(); }
};

EchoServer echo_server(TransportFixture& f, bool tls) {
    auto set = f.recorders([](Recorder& r) {
        r.keep_data = false;
        r.on_made = [&r](bulb::Transport& t) { r.transport = &t; };
        r.on_data = [&r](bulb::ByteView d) { r.transport->write(d); };
        r.on_eof = [] { return false; };  // close after the echo is flushed
    });
    auto server = f.wait(f.loop.create_server(bulb_transport_test::recording_factory(set), "127.0.0.1", 0,
                                              tls_server_options(tls)));
    return {set, std::move(server)};
}

/// A server whose connections send `payload` on connection_made, then close.
EchoServer sending_server(TransportFixture& f, bool tls, const std::string& payload) {
    auto set = f.recorders([&payload](Recorder& r) {
        r.keep_data = false;
        r.on_made = [&payload](bulb::Transport& t) {
            t.write(payload);
            t.close();
        };
    });
    auto server = f.wait(f.loop.create_server(bulb_transport_test::recording_factory(set), "127.0.0.1", 0,
                                              tls_server_options(tls)));
    return {set, std::move(server)};
}

bulb::Connection connect_through(TransportFixture& f, bulb_transport_test::RecorderSetPtr set,
                                 const ImpairProxyProcess& proxy, bool tls) {
    bulb::ConnectOptions o = tls ? tls_client_options() : bulb::ConnectOptions{};
    return f.wait(f.loop.create_connection(bulb_transport_test::recording_factory(set), "127.0.0.1", proxy.port(), o),
                  15000ms);
}

}  // namespace

TEST_SUITE("impairment proxy") {

TEST_CASE_FIXTURE(TransportFixture, "echo intact through 1-byte segments, delays and a stall (TCP and TLS)") {
    for (bool tls : {false, true}) {
        CAPTURE(tls);
        EchoServer srv = echo_server(*this, tls);
        ImpairProxyProcess proxy(srv.port(), {"--up-split", "1", "--down-split", "3", "--down-delay", "0.0005",
                                              "--down-stall-at", "1000", "--down-stall-for", "0.3"});
        const std::string data = random_bytes(3000, 1);
        auto client = recorders();
        bulb::Connection c = connect_through(*this, client, proxy, tls);
        c.transport->write(data);
        REQUIRE(run_until([&] { return (*client)[0].data.size() >= data.size() || (*client)[0].is_lost(); }, 20000ms));
        CHECK((*client)[0].data == data);
        c.transport->close();
        REQUIRE(run_until([&] { return (*client)[0].is_lost() && srv.set->count_lost() == 1; }, 10000ms));
        CHECK_FALSE((*client)[0].lost_ec);
        srv.server.close();
    }
}

TEST_CASE_FIXTURE(TransportFixture, "RST mid-transfer: connection_lost with an error on both sides (TCP and TLS)") {
    for (bool tls : {false, true}) {
        CAPTURE(tls);
        // The server streams 1 MiB; the proxy resets both connections after 100,000 bytes.
        const std::string payload = random_bytes(1 << 20, 2);
        EchoServer srv = sending_server(*this, tls, payload);
        ImpairProxyProcess proxy(srv.port(), {"--down-rst-at", "100000"});
        auto client = recorders();
        bulb::Connection c = connect_through(*this, client, proxy, tls);
        REQUIRE(run_until([&] { return (*client)[0].is_lost() && srv.set->count_lost() == 1; }, 15000ms));
        Recorder& r = (*client)[0];
        INFO("client sequence: " << r.sequence() << ", error: " << r.lost_ec.message());
        CHECK(is_reset(r.lost_ec));
        CHECK(r.eofs == 0);  // a reset is not an end of data
        CHECK(r.data.size() <= 100000);
        CHECK(r.data == payload.substr(0, r.data.size()));  // a prefix, in order
        // The server wrote into its socket buffer; whether it saw the reset or finished first,
        // its connection ended once, and with an error if the reset came before its close.
        CHECK((*srv.set)[0].lost == 1);
        MESSAGE("tls=" << tls << ": client lost after " << r.data.size() << " bytes with '" << r.lost_ec.message()
                       << "'; server lost with '" << (*srv.set)[0].lost_ec.message() << "'");
        srv.server.close();
    }
}

TEST_CASE_FIXTURE(TransportFixture, "TLS: a FIN inside a record is an error, not a clean EOF") {
    const std::string payload = random_bytes(200000, 3);
    EchoServer srv = sending_server(*this, true, payload);
    // 50,003 bytes: inside an application-data record (records are at most 16 KiB + overhead).
    ImpairProxyProcess proxy(srv.port(), {"--down-fin-at", "50003"});
    auto client = recorders();
    bulb::Connection c = connect_through(*this, client, proxy, true);
    REQUIRE(run_until([&] { return (*client)[0].is_lost(); }, 15000ms));
    Recorder& r = (*client)[0];
    INFO("sequence: " << r.sequence() << ", error: " << r.lost_ec.message());
    CHECK(r.lost_ec);  // the truncation is reported ...
    CHECK(r.eofs == 0);  // ... and not as an end of data
    CHECK(r.data.size() < 50003);
    CHECK(r.data == payload.substr(0, r.data.size()));
    MESSAGE("TLS cut by FIN: " << r.data.size() << " bytes delivered, then '" << r.lost_ec.message() << "'");
    srv.server.close();
}

TEST_CASE_FIXTURE(TransportFixture, "framed protocol: whole frames through 1-byte segments; a frame cut by FIN is an error") {
    using bulb::protocols::FrameError;
    using bulb::protocols::LengthPrefixedCodec;
    struct Frames : bulb::protocols::FramedProtocol<LengthPrefixedCodec> {
        std::vector<std::string>* frames;
        std::vector<std::string>* errors;
        bool* lost;
        Frames(std::vector<std::string>* f, std::vector<std::string>* e, bool* l) : frames(f), errors(e), lost(l) {}
        void frame_received(std::string frame) override { frames->push_back(std::move(frame)); }
        void frame_error(const FrameError& e) override {
            errors->push_back(e.what());
            close();
        }
        void connection_lost(std::error_code) override { *lost = true; }
    };
    std::vector<std::string> sent;
    std::string wire;
    LengthPrefixedCodec codec;
    for (unsigned i = 0; i < 40; ++i) {
        sent.push_back(random_bytes(i * 37, 10 + i));
        codec.encode(sent.back(), wire);
    }
    for (std::string mode : {"split", "fin"}) {
        CAPTURE(mode);
        EchoServer srv = sending_server(*this, false, wire);
        std::vector<std::string> opts = mode == "split"
            ? std::vector<std::string>{"--down-split", "1"}
            : std::vector<std::string>{"--down-split", "64", "--down-fin-at", std::to_string(wire.size() - 100)};
        ImpairProxyProcess proxy(srv.port(), opts);
        std::vector<std::string> frames, errors;
        bool lost = false;
        auto conn = wait(loop.create_connection([&] { return std::make_unique<Frames>(&frames, &errors, &lost); },
                                                "127.0.0.1", proxy.port()));
        REQUIRE(run_until([&] { return lost; }, 20000ms));
        if (mode == "split") {
            CHECK(errors.empty());
            CHECK(frames == sent);
        } else {
            REQUIRE(errors.size() == 1);
            CHECK(errors[0].find("end of stream") != std::string::npos);
            REQUIRE(frames.size() < sent.size());
            for (std::size_t i = 0; i < frames.size(); ++i) CHECK(frames[i] == sent[i]);
            MESSAGE("frames cut by FIN: " << frames.size() << " of " << sent.size() << " delivered whole, then '"
                                          << errors[0] << "'");
        }
        srv.server.close();
    }
}

TEST_CASE_FIXTURE(TransportFixture, "streams: readexactly through a cut stream raises, never returns short data") {
    const std::string payload = random_bytes(300000, 4);
    for (std::string cut : {"--down-fin-at", "--down-rst-at"}) {
        for (bool tls : {false, true}) {
            CAPTURE(cut);
            CAPTURE(tls);
            EchoServer srv = sending_server(*this, tls, payload);
            ImpairProxyProcess proxy(srv.port(), {cut, "150001"});
            std::string outcome;
            auto task = [](std::uint16_t port, bool tls, std::size_t n, std::string& out) -> bulb::Task<> {
                bulb::StreamOptions o;
                o.connect = tls ? tls_client_options() : bulb::ConnectOptions{};
                auto [reader, writer] = co_await bulb::open_connection("127.0.0.1", port, o);
                try {
                    std::string all = co_await reader.readexactly(n);
                    out = "returned " + std::to_string(all.size()) + " bytes";
                } catch (const bulb::IncompleteReadError& e) {
                    out = "IncompleteReadError after " + std::to_string(e.partial.size()) + " bytes";
                } catch (const bulb::Error& e) {
                    out = std::string("Error: ") + e.what();
                }
                writer.close();
                try {
                    co_await writer.wait_closed();  // raises what the connection was lost with
                } catch (const bulb::Error&) {
                }
            }(proxy.port(), tls, payload.size(), outcome);
            auto fut = bulb::create_task(loop, std::move(task));
            REQUIRE(run_until([&] { return fut.done(); }, 20000ms));
            fut.result();
            std::string what = cut + (tls ? " (TLS): " : ": ") + outcome;
            MESSAGE(what);
            CHECK(outcome.rfind("returned", 0) != 0);
            srv.server.close();
        }
    }
}

}  // TEST_SUITE
