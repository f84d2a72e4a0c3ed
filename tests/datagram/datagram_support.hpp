// SPDX-License-Identifier: MIT
/// @file
/// Helpers of the datagram tests: a protocol that records every callback in order, an
/// exception-recording loop fixture that fails a test leaving an endpoint open, and raw sockets.
#pragma once

#include "../support/loop_fixture.hpp"

#include <bulb/bulb.hpp>
#include <bulb/datagram.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace dgram_test {

using namespace std::chrono_literals;

/// What a RecordingDatagram protocol saw; shared with the test so it outlives the protocol.
struct Record {
    std::vector<std::string> events;  // "made", "data", "error", "pause", "resume", "lost"
    std::vector<std::string> datagrams;
    std::vector<bulb::SocketAddress> senders;
    std::vector<std::error_code> errors;
    std::vector<bulb::SocketAddress> error_addrs;
    std::error_code lost_code;
    int lost = 0;
    int made = 0;
    bulb::DatagramTransport* transport = nullptr;
};

/// Records callbacks; optional hooks run inside them (to echo, close, throw...).
class RecordingDatagram : public bulb::DatagramProtocol {
public:
    explicit RecordingDatagram(std::shared_ptr<Record> r) : r_(std::move(r)) {}
    std::function<void(bulb::DatagramTransport&, bulb::ByteView, const bulb::SocketAddress&)> on_data;
    std::function<void()> on_made;

    void connection_made(bulb::DatagramTransport& t) override {
        CHECK(r_->events.empty());
        r_->events.push_back("made");
        ++r_->made;
        r_->transport = &t;
        if (on_made) on_made();
    }
    void datagram_received(bulb::ByteView data, const bulb::SocketAddress& addr) override {
        CHECK(r_->lost == 0);
        r_->events.push_back("data");
        r_->datagrams.push_back(bulb::to_string(data));
        r_->senders.push_back(addr);
        if (on_data) on_data(*r_->transport, data, addr);
    }
    void error_received(std::error_code ec, const bulb::SocketAddress& addr) override {
        CHECK(r_->lost == 0);
        r_->events.push_back("error");
        r_->errors.push_back(ec);
        r_->error_addrs.push_back(addr);
    }
    void connection_lost(std::error_code ec) override {
        CHECK(r_->lost == 0);
        r_->events.push_back("lost");
        r_->lost_code = ec;
        ++r_->lost;
    }
    void pause_writing() override { r_->events.push_back("pause"); }
    void resume_writing() override { r_->events.push_back("resume"); }

private:
    std::shared_ptr<Record> r_;
};

/// A factory making one RecordingDatagram over `r`, with `setup` applied to it.
inline bulb::DatagramProtocolFactory recorder(std::shared_ptr<Record> r,
                                              std::function<void(RecordingDatagram&)> setup = {}) {
    return [r, setup] {
        auto p = std::make_unique<RecordingDatagram>(r);
        if (setup) setup(*p);
        return std::unique_ptr<bulb::DatagramProtocol>(std::move(p));
    };
}

/// A loop whose exception reports are recorded, audited when the test ends (loop_audit.hpp: no
/// endpoint left open, exactly the declared reports, descriptors back to the baseline).
struct LoopFixture : bulb_test::LoopAudit {
    bulb::EventLoop loop;
    std::vector<std::string> reports;
    std::vector<bulb::DatagramTransport*> report_transports;
    LoopFixture() {
        loop.set_exception_handler([this](bulb::EventLoop&, const bulb::ExceptionContext& c) {
            reports.push_back(c.message + (c.exception ? ": " + bulb::describe_exception(c.exception) : ""));
            report_transports.push_back(c.datagram_transport);
        });
    }
    LoopFixture(const LoopFixture&) = delete;
    LoopFixture& operator=(const LoopFixture&) = delete;
    ~LoopFixture() {
        run_briefly();
        audit(loop, [this] { return reports; }, [this](auto done) { run_until(done, 500ms); });
    }
    void run_briefly() { bulb_test::run_iterations(loop, 3); }
    /// Runs the loop until `done()` holds; false after `limit`.
    template <class Pred>
    bool run_until(Pred done, std::chrono::milliseconds limit = 5000ms) {
        return bulb_test::run_until(loop, done, limit);
    }
    template <class T>
    T wait(bulb::Future<T> f) {
        REQUIRE(run_until([&] { return f.done(); }));
        return f.result();
    }
};

/// A plain blocking datagram socket for the other side of a test.
struct RawSocket {
    int fd;
    explicit RawSocket(int family) : fd(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) { REQUIRE(fd >= 0); }
    ~RawSocket() { ::close(fd); }
    RawSocket(const RawSocket&) = delete;
    void bind(const bulb::SocketAddress& a) { REQUIRE(::bind(fd, a.data(), a.size()) == 0); }
    bulb::SocketAddress name() const {
        bulb::SocketAddress a;
        socklen_t len = a.capacity();
        ::getsockname(fd, a.data(), &len);
        a.set_size(len);
        return a;
    }
    void send_to(const std::string& s, const bulb::SocketAddress& a) {
        REQUIRE(::sendto(fd, s.data(), s.size(), 0, a.data(), a.size()) == static_cast<ssize_t>(s.size()));
    }
    /// Receives one datagram, waiting up to 5 s; returns false on timeout.
    bool recv(std::string& out, std::size_t cap = 300 * 1024) {
        timeval tv{5, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        out.resize(cap);
        ssize_t n = ::recv(fd, out.data(), cap, 0);
        if (n < 0) return false;
        out.resize(static_cast<std::size_t>(n));
        return true;
    }
};

/// A fresh temporary directory, removed (with what is in it) afterwards.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/bulb-dgram-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

inline bool has_ipv6_loopback() {
    int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0) return false;
    auto a = bulb::SocketAddress::from_ip("::1", 0);
    bool ok = ::bind(fd, a.data(), a.size()) == 0;
    ::close(fd);
    return ok;
}

inline std::string pattern(std::size_t n, unsigned seed = 1) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
    return s;
}

}  // namespace dgram_test
