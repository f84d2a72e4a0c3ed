// SPDX-License-Identifier: MIT
/// @file
/// TLS test support: a throwaway PKI made with the openssl CLI in a mkdtemp directory, openssl
/// child processes with piped stdio, a recording protocol, and a loop fixture.
#pragma once

#include <bulb/bulb.hpp>

#include "../support/loop_audit.hpp"
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bulb_tls_test {

using namespace std::chrono_literals;

inline void sh(const std::string& cmd) {
    int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
    REQUIRE_MESSAGE(rc == 0, "command failed: " << cmd);
}

/// The test PKI (made once per process; removed at exit).
struct Pki {
    std::string dir;
    std::string ca, ca_key, ca2, ca2_key;
    std::string srv, srv_key;        // CN=localhost, SAN DNS:localhost, IP:127.0.0.1 (ca)
    std::string alt, alt_key;        // CN=alt.test, SAN DNS:alt.test (ca)
    std::string rogue, rogue_key;    // CN=localhost, signed by ca2 (untrusted)
    std::string cli, cli_key;        // CN=bulb-client (ca)
    std::string rsa, rsa_key;        // CN=localhost, SAN DNS:localhost, IP:127.0.0.1, RSA 2048 (ca):
                                     // for the RSA key exchange and authentication suites

    static const Pki& get() {
        static Pki p;
        return p;
    }

private:
    Pki() {
        char tmpl[] = "/tmp/bulb-tls-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        auto f = [&](const char* n) { return dir + "/" + n; };
        ca = f("ca.pem"), ca_key = f("ca.key"), ca2 = f("ca2.pem"), ca2_key = f("ca2.key");
        srv = f("srv.pem"), srv_key = f("srv.key"), alt = f("alt.pem"), alt_key = f("alt.key");
        rogue = f("rogue.pem"), rogue_key = f("rogue.key"), cli = f("cli.pem"), cli_key = f("cli.key");
        rsa = f("rsa.pem"), rsa_key = f("rsa.key");
        auto make_ca = [&](const std::string& cert, const std::string& key, const char* cn) {
            sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=" +
               std::string(cn) + " -keyout " + key + " -out " + cert +
               " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
        };
        make_ca(ca, ca_key, "bulb-test-ca");
        make_ca(ca2, ca2_key, "bulb-untrusted-ca");
        auto leaf = [&](const std::string& cert, const std::string& key, const std::string& cn,
                        const std::string& ext, const std::string& by, const std::string& by_key,
                        const std::string& key_spec = "ec -pkeyopt ec_paramgen_curve:P-256") {
            std::string csr = cert + ".csr", extf = cert + ".ext";
            sh("openssl req -newkey " + key_spec + " -nodes -subj /CN=" + cn + " -keyout " + key + " -out " + csr);
            std::ofstream(extf) << ext << "\n";
            sh("openssl x509 -req -in " + csr + " -CA " + by + " -CAkey " + by_key +
               " -CAcreateserial -days 2 -extfile " + extf + " -out " + cert);
        };
        leaf(srv, srv_key, "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1", ca, ca_key);
        leaf(alt, alt_key, "alt.test", "subjectAltName=DNS:alt.test", ca, ca_key);
        leaf(rogue, rogue_key, "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1", ca2, ca2_key);
        leaf(cli, cli_key, "bulb-client", "extendedKeyUsage=clientAuth", ca, ca_key);
        leaf(rsa, rsa_key, "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1", ca, ca_key, "rsa:2048");
        static std::string to_remove;
        to_remove = dir;
        std::atexit([] { std::system(("rm -rf " + to_remove).c_str()); });
    }
};

/// A free TCP port on 127.0.0.1 (bound to port 0, then released).
inline std::uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

/// A child process with stdin and (merged) stdout/stderr pipes; killed by the destructor.
struct Child {
    pid_t pid = -1;
    int in = -1, out = -1;
    std::string output;
    int status = -1;

    explicit Child(const std::vector<std::string>& argv) {
        int pin[2], pout[2];
        REQUIRE(::pipe2(pin, O_CLOEXEC) == 0);
        REQUIRE(::pipe2(pout, O_CLOEXEC) == 0);
        pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::dup2(pin[0], 0);
            ::dup2(pout[1], 1);
            ::dup2(pout[1], 2);
            std::vector<char*> args;
            for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            ::execvp(args[0], args.data());
            ::_exit(127);
        }
        ::close(pin[0]);
        ::close(pout[1]);
        in = pin[1];
        out = pout[0];
        ::fcntl(out, F_SETFL, O_NONBLOCK);
    }
    ~Child() {
        if (in >= 0) ::close(in);
        if (pid > 0 && status < 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        if (out >= 0) ::close(out);
    }
    void send(const std::string& s) { REQUIRE(::write(in, s.data(), s.size()) == static_cast<ssize_t>(s.size())); }
    void close_stdin() {
        ::close(in);
        in = -1;
    }
    /// Reads what is available (non-blocking).
    void drain() {
        char buf[4096];
        for (;;) {
            ssize_t n = ::read(out, buf, sizeof buf);
            if (n <= 0) break;
            output.append(buf, static_cast<std::size_t>(n));
        }
    }
    /// Non-blocking: true once the child exited (status then holds its wait status).
    bool exited() {
        if (status >= 0) return true;
        int st = 0;
        if (::waitpid(pid, &st, WNOHANG) == pid) status = st;
        return status >= 0;
    }
    /// Blocks (polling) until `text` appears in the output or `limit` passes.
    bool wait_for(const std::string& text, std::chrono::milliseconds limit = 10s) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (output.find(text) == std::string::npos) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            pollfd p{out, POLLIN, 0};
            ::poll(&p, 1, 20);
            drain();
        }
        return true;
    }
    void kill9() {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
    }
};

/// The port an `openssl s_server -accept 127.0.0.1:0` child reports ("ACCEPT 127.0.0.1:PORT"):
/// the kernel chose it, so no other process can hold it.
inline std::uint16_t openssl_accept_port(Child& server) {
    const std::string mark = "ACCEPT 127.0.0.1:";
    REQUIRE_MESSAGE(server.wait_for(mark), server.output);
    auto at = server.output.find(mark) + mark.size();
    for (int i = 0; i < 500 && server.output.find('\n', at) == std::string::npos; ++i) {
        pollfd p{server.out, POLLIN, 0};
        ::poll(&p, 1, 20);
        server.drain();
    }
    REQUIRE_MESSAGE(server.output.find('\n', at) != std::string::npos, server.output);
    return static_cast<std::uint16_t>(std::stoi(server.output.substr(at)));
}

/// What a recording protocol saw.
struct Record {
    bulb::Transport* transport = nullptr;
    bool made = false, lost = false, eof = false;
    std::error_code ec;
    std::string data;
    std::size_t received = 0;
    int pauses = 0, resumes = 0;
    bool paused = false;
};
using RecordPtr = std::shared_ptr<Record>;

/// Records every callback; optionally echoes (with back-pressure: pauses reading while its own
/// writes are paused) and keeps data (or only counts it).
class Recorder : public bulb::Protocol {
public:
    explicit Recorder(RecordPtr r, bool echo = false, bool keep = true) : r_(std::move(r)), echo_(echo), keep_(keep) {}
    void connection_made(bulb::Transport& t) override {
        r_->transport = &t;
        r_->made = true;
    }
    void data_received(bulb::ByteView d) override {
        r_->received += d.size();
        if (keep_) r_->data.append(reinterpret_cast<const char*>(d.data()), d.size());
        if (on_data) on_data(*r_, d);
        if (echo_) r_->transport->write(d);
    }
    bool eof_received() override {
        r_->eof = true;
        return false;
    }
    void connection_lost(std::error_code ec) override {
        r_->lost = true;
        r_->ec = ec;
        r_->transport = nullptr;
    }
    void pause_writing() override {
        ++r_->pauses;
        r_->paused = true;
        if (echo_) r_->transport->pause_reading();
        if (on_pause) on_pause(*r_);
    }
    void resume_writing() override {
        ++r_->resumes;
        r_->paused = false;
        if (echo_) r_->transport->resume_reading();
        if (on_resume) on_resume(*r_);
    }
    std::function<void(Record&, bulb::ByteView)> on_data;
    std::function<void(Record&)> on_pause, on_resume;

private:
    RecordPtr r_;
    bool echo_, keep_;
};

/// The loop, run in slices until a condition holds; the harness audit (tests/support/loop_audit.hpp)
/// runs when the test ends: no transport left, descriptors back to the baseline, exactly the
/// declared exception-handler reports (none unless expect_reports/allow_reports).
struct Fixture : bulb_test::LoopAudit {
    bulb::EventLoop loop;
    std::vector<std::string> exceptions;

    Fixture() {
        loop.set_exception_handler([this](bulb::EventLoop&, const bulb::ExceptionContext& c) {
            exceptions.push_back(c.message + ": " + (c.exception ? bulb::describe_exception(c.exception) : ""));
        });
    }
    Fixture(const Fixture&) = delete;
    Fixture& operator=(const Fixture&) = delete;
    ~Fixture() { audit(loop, exceptions, [this](auto done) { run_until(done, std::chrono::milliseconds(500)); }); }
    void run_for(std::chrono::milliseconds d) {
        auto stopper = loop.call_later(d, [this] { loop.stop(); });
        loop.run_forever();
        stopper.cancel();
    }
    template <class Pred>
    bool run_until(Pred done, std::chrono::milliseconds limit = 10s) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            run_for(2ms);
        }
        return true;
    }
    template <class T>
    bulb::Future<T> settle(bulb::Future<T> f, std::chrono::milliseconds limit = 10s) {
        bool ok = run_until([&] { return f.done(); }, limit);
        REQUIRE_MESSAGE(ok, "future not done in time");
        return f;
    }
    template <class T>
    T wait(bulb::Future<T> f, std::chrono::milliseconds limit = 10s) {
        settle(f, limit);
        if constexpr (std::is_void_v<T>)
            f.result();
        else
            return std::move(f.result());
    }
    /// The failure of a future, as a bulb::Error (code and message); fails the test if it succeeded.
    template <class T>
    std::pair<std::error_code, std::string> failure(bulb::Future<T> f, std::chrono::milliseconds limit = 10s) {
        settle(f, limit);
        try {
            f.result();
        } catch (const bulb::Error& e) {
            return {e.code(), e.what()};
        } catch (...) {
            return {std::make_error_code(std::errc::io_error), bulb::describe_exception(std::current_exception())};
        }
        FAIL("the future succeeded");
        return {};
    }
    bulb::ProtocolFactory factory(RecordPtr r, bool echo = false, bool keep = true) {
        return [r, echo, keep] { return std::make_unique<Recorder>(r, echo, keep); };
    }
    bulb::TlsContext client_ctx(const std::string& ca = Pki::get().ca) {
        bulb::TlsClientOptions o;
        o.ca_file = ca;
        return bulb::TlsContext::client(o);
    }
    bulb::TlsContext server_ctx() { return bulb::TlsContext::server(Pki::get().srv, Pki::get().srv_key); }
    bulb::ConnectOptions tls_connect(bulb::TlsContext ctx, std::string host = "localhost") {
        bulb::ConnectOptions o;
        o.tls = std::move(ctx);
        o.server_hostname = std::move(host);
        return o;
    }
    bulb::Server tls_server(RecordPtr r, bulb::TlsContext ctx, bool echo = true) {
        bulb::ServerOptions o;
        o.tls = std::move(ctx);
        return wait(loop.create_server(factory(r, echo), "127.0.0.1", 0, o));
    }
    bulb::Server tls_server(bulb::ProtocolFactory f, bulb::TlsContext ctx) {
        bulb::ServerOptions o;
        o.tls = std::move(ctx);
        return wait(loop.create_server(std::move(f), "127.0.0.1", 0, o));
    }
};

/// A blocking raw TCP socket connected to 127.0.0.1:port.
inline int raw_connect(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

/// A raw listening socket on 127.0.0.1 (port in `port`).
inline int raw_listen(std::uint16_t& port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 8) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    return fd;
}

inline std::string random_bytes(std::size_t n, unsigned seed = 1) {
    std::string s(n, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& c : s) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        c = static_cast<char>(x);
    }
    return s;
}

}  // namespace bulb_tls_test
