// SPDX-License-Identifier: MIT
/// @file
/// The one error rule (include/bulb/error.hpp), entry point by entry point: each public call
/// that can fail is made to fail, and the test checks the exception's type (misuse:
/// std::invalid_argument or InvalidStateError; everything else: bulb::Error), its code, and that
/// its message names what failed (the address, host, file, descriptor or program).
#include <bulb/bulb.hpp>
#include <bulb/coro.hpp>
#include <bulb/datagram.hpp>
#include <bulb/pipe.hpp>
#include <bulb/sock.hpp>

#include "../tls/tls_support.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

using bulb_tls_test::free_port;
using bulb_tls_test::Pki;

enum class Kind { invalid_argument, invalid_state, error };

const char* kind_name(Kind k) {
    switch (k) {
        case Kind::invalid_argument: return "std::invalid_argument";
        case Kind::invalid_state: return "bulb::InvalidStateError";
        case Kind::error: return "bulb::Error";
    }
    return "?";
}

/// One row: a call that must fail, and how.
struct Row {
    std::string entry_point;
    std::function<void()> call;
    Kind kind;
    std::error_code code;           ///< for Kind::error: the code (value 0: only its category)
    std::vector<std::string> names;  ///< substrings the message must hold
};

/// Makes the call, classifies what it threw (most derived first) and checks the row.
void check_row(const Row& row) {
    INFO("entry point: " << row.entry_point);
    std::string thrown = "(nothing)", what;
    std::error_code code;
    try {
        row.call();
    } catch (const bulb::InvalidStateError& e) {
        thrown = kind_name(Kind::invalid_state), what = e.what(), code = e.code();
    } catch (const bulb::Error& e) {
        thrown = kind_name(Kind::error), what = e.what(), code = e.code();
    } catch (const std::invalid_argument& e) {
        thrown = kind_name(Kind::invalid_argument), what = e.what();
    } catch (const std::system_error& e) {
        thrown = "std::system_error (not bulb::Error)", what = e.what(), code = e.code();
    } catch (const std::exception& e) {
        thrown = "another std::exception", what = e.what();
    } catch (const bulb::CancelledError& e) {
        thrown = "bulb::CancelledError", what = e.what();
    }
    INFO("thrown: " << thrown << ": " << what);
    CHECK(thrown == kind_name(row.kind));
    if (row.kind == Kind::error) {
        INFO("code: " << code.category().name() << " " << code.value() << " (" << code.message() << ")");
        if (row.code.value() == 0)
            CHECK(code.category() == row.code.category());
        else
            CHECK(code == row.code);
    }
    for (const std::string& name : row.names) {
        INFO("expected in the message: " << name);
        CHECK(what.find(name) != std::string::npos);
    }
}

std::error_code os(int e) { return {e, std::system_category()}; }
std::error_code gai(int e) { return {e, bulb::gai_category()}; }

auto plain() {
    return [] { return std::make_unique<bulb::Protocol>(); };
}

/// Runs one callback-API future to completion on a fresh loop (the future's exception escapes).
/// A future still pending after 5 s is cancelled: the row then fails with CancelledError
/// instead of hanging the test.
template <class MakeFuture>
void on_loop(MakeFuture make) {
    bulb::EventLoop loop;
    auto f = make(loop);
    auto guard = loop.call_later(5s, [f]() mutable { f.cancel("still pending after 5 s"); });
    loop.run_until_complete(f);
}

/// A listening socket on 127.0.0.1 that holds its port (a busy port, or a peer that accepts).
struct Listener {
    int fd = -1;
    std::uint16_t port = 0;
    explicit Listener(int type = SOCK_STREAM, int backlog = 8) {
        fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        if (type == SOCK_STREAM) REQUIRE(::listen(fd, backlog) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
    }
    ~Listener() { ::close(fd); }
    std::string where() const { return "127.0.0.1:" + std::to_string(port); }
};

/// A descriptor number that is not open (and high enough that nothing the rows open takes it).
int closed_fd() {
    int fd = 900;
    while (::fcntl(fd, F_GETFD) >= 0) ++fd;
    return fd;
}

/// A non-blocking TCP socket (not connected), closed by the destructor.
struct NonBlockingSocket {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ~NonBlockingSocket() { ::close(fd); }
};

}  // namespace

TEST_CASE("every public entry point that can fail: misuse is invalid_argument/InvalidStateError, the rest bulb::Error naming what failed") {
    const std::uint16_t refused = free_port();  // nothing listens there
    const std::string refused_at = "127.0.0.1:" + std::to_string(refused);
    Listener busy;                               // holds its port
    Listener busy_udp(SOCK_DGRAM);
    const std::string long_path = "/tmp/" + std::string(150, 'x');
    const std::string missing_dir = "/nonexistent-bulb-dir/socket";
    const std::string missing_file = "/nonexistent-bulb-dir/cert.pem";
    const int bad_fd = closed_fd();
    const std::string bad_fd_text = "descriptor " + std::to_string(bad_fd);
    const Pki& pki = Pki::get();

    const std::vector<Row> rows = {
        // --- connecting ------------------------------------------------------------------------
        {"create_connection, refused",
         [&] { on_loop([&](bulb::EventLoop& l) { return l.create_connection(plain(), "127.0.0.1", refused); }); },
         Kind::error, os(ECONNREFUSED), {refused_at}},
        {"create_connection, unresolvable host",
         [&] { on_loop([&](bulb::EventLoop& l) { return l.create_connection(plain(), "no such host", 80); }); },
         Kind::error, gai(EAI_NONAME), {"no such host"}},
        {"create_connection, empty host",
         [&] { on_loop([&](bulb::EventLoop& l) { return l.create_connection(plain(), "", 80); }); },
         Kind::invalid_argument, {}, {"create_connection"}},
        {"create_connection, a server TlsContext",
         [&] {
             bulb::ConnectOptions o;
             o.tls = bulb::TlsContext::server(pki.srv, pki.srv_key);
             on_loop([&](bulb::EventLoop& l) { return l.create_connection(plain(), "127.0.0.1", refused, o); });
         },
         Kind::invalid_argument, {}, {"create_connection"}},
        {"create_connection, closed loop",
         [&] {
             bulb::EventLoop loop;
             loop.close();
             (void)loop.create_connection(plain(), "127.0.0.1", refused);
         },
         Kind::invalid_state, {}, {"create_connection", "closed"}},
        {"open_connection, refused", [&] { (void)bulb::run(bulb::open_connection("127.0.0.1", refused)); },
         Kind::error, os(ECONNREFUSED), {refused_at}},
        {"open_connection, unresolvable host", [&] { (void)bulb::run(bulb::open_connection("no such host", 80)); },
         Kind::error, gai(EAI_NONAME), {"no such host"}},
        {"open_connection with TLS, refused",
         [&] {
             bulb::TlsClientOptions o;
             o.ca_file = pki.ca;
             (void)bulb::run(bulb::open_connection("127.0.0.1", refused, bulb::TlsContext::client(o)));
         },
         Kind::error, os(ECONNREFUSED), {refused_at}},
        {"create_unix_connection, missing socket",
         [&] { on_loop([&](bulb::EventLoop& l) { return l.create_unix_connection(plain(), missing_dir); }); },
         Kind::error, os(ENOENT), {missing_dir}},
        {"open_unix_connection, missing socket", [&] { (void)bulb::run(bulb::open_unix_connection(missing_dir)); },
         Kind::error, os(ENOENT), {missing_dir}},
        {"create_unix_connection, path too long",
         [&] { on_loop([&](bulb::EventLoop& l) { return l.create_unix_connection(plain(), long_path); }); },
         Kind::invalid_argument, {}, {long_path.substr(0, 20)}},
        {"sock_connect, refused",
         [&] {
             NonBlockingSocket s;
             on_loop([&](bulb::EventLoop& l) {
                 return bulb::sock_connect(l, s.fd, bulb::SocketAddress::from_ip("127.0.0.1", refused));
             });
         },
         Kind::error, os(ECONNREFUSED), {refused_at}},

        // --- serving ---------------------------------------------------------------------------
        {"create_server, port in use",
         [&] { on_loop([&](bulb::EventLoop& l) { return l.create_server(plain(), "127.0.0.1", busy.port); }); },
         Kind::error, os(EADDRINUSE), {busy.where()}},
        {"create_server, several hosts, port in use",
         [&] {
             on_loop([&](bulb::EventLoop& l) {
                 return l.create_server(plain(), std::vector<std::string>{"127.0.0.1"}, busy.port);
             });
         },
         Kind::error, os(EADDRINUSE), {busy.where()}},
        {"create_server, unresolvable host",
         [&] { on_loop([&](bulb::EventLoop& l) { return l.create_server(plain(), "no such host", 0); }); },
         Kind::error, gai(EAI_NONAME), {"no such host"}},
        {"create_server, a client TlsContext",
         [&] {
             bulb::ServerOptions o;
             o.tls = bulb::TlsContext::client({.ca_file = pki.ca});
             on_loop([&](bulb::EventLoop& l) { return l.create_server(plain(), "127.0.0.1", 0, o); });
         },
         Kind::invalid_argument, {}, {"create_server"}},
        {"create_server, empty host list",
         [&] {
             on_loop([&](bulb::EventLoop& l) { return l.create_server(plain(), std::vector<std::string>{}, 0); });
         },
         Kind::invalid_argument, {}, {"create_server"}},
        {"start_server, port in use",
         [&] {
             (void)bulb::run(bulb::start_server([](bulb::StreamReader, bulb::StreamWriter) -> bulb::Task<void> { co_return; },
                                                std::string("127.0.0.1"), busy.port));
         },
         Kind::error, os(EADDRINUSE), {busy.where()}},
        {"create_unix_server, missing directory",
         [&] { on_loop([&](bulb::EventLoop& l) { return l.create_unix_server(plain(), missing_dir); }); },
         Kind::error, os(ENOENT), {missing_dir}},
        {"create_unix_server, path too long",
         [&] { on_loop([&](bulb::EventLoop& l) { return l.create_unix_server(plain(), long_path); }); },
         Kind::invalid_argument, {}, {long_path.substr(0, 20)}},
        {"start_unix_server, missing directory",
         [&] {
             (void)bulb::run(bulb::start_unix_server(
                 [](bulb::StreamReader, bulb::StreamWriter) -> bulb::Task<void> { co_return; }, missing_dir));
         },
         Kind::error, os(ENOENT), {missing_dir}},

        // --- TLS contexts ----------------------------------------------------------------------
        {"TlsContext::server, missing certificate file", [&] { (void)bulb::TlsContext::server(missing_file, pki.srv_key); },
         Kind::error, os(ENOENT), {missing_file}},
        {"TlsContext::server, missing key file", [&] { (void)bulb::TlsContext::server(pki.srv, missing_file); },
         Kind::error, os(ENOENT), {missing_file}},
        {"TlsContext::server, key of another certificate", [&] { (void)bulb::TlsContext::server(pki.srv, pki.cli_key); },
         Kind::error, {0, bulb::tls_category()}, {pki.cli_key}},
        {"TlsContext::client, missing CA file", [&] { (void)bulb::TlsContext::client({.ca_file = missing_file}); },
         Kind::error, os(ENOENT), {missing_file}},
        {"TlsContext::client, missing client certificate",
         [&] { (void)bulb::TlsContext::client({.ca_file = pki.ca, .cert_file = missing_file, .key_file = pki.cli_key}); },
         Kind::error, os(ENOENT), {missing_file}},
        {"TlsContext::client, empty ALPN name", [&] { (void)bulb::TlsContext::client({.alpn = {""}}); },
         Kind::invalid_argument, {}, {"ALPN"}},
        {"TlsContext::client, unusable cipher list", [&] { (void)bulb::TlsContext::client({.ciphers = "NO-SUCH-SUITE"}); },
         Kind::invalid_argument, {}, {"NO-SUCH-SUITE"}},

        // --- datagrams -------------------------------------------------------------------------
        {"create_datagram_endpoint, port in use",
         [&] {
             on_loop([&](bulb::EventLoop& l) {
                 return l.create_datagram_endpoint([] { return std::make_unique<bulb::DatagramProtocol>(); },
                                                   {.local_addr = bulb::HostPort{"127.0.0.1", busy_udp.port}});
             });
         },
         Kind::error, os(EADDRINUSE), {busy_udp.where()}},
        {"create_datagram_endpoint, unresolvable host",
         [&] {
             on_loop([&](bulb::EventLoop& l) {
                 return l.create_datagram_endpoint([] { return std::make_unique<bulb::DatagramProtocol>(); },
                                                   {.remote_addr = bulb::HostPort{"no such host", 9}});
             });
         },
         Kind::error, gai(EAI_NONAME), {"no such host"}},
        {"create_datagram_endpoint, missing directory",
         [&] {
             on_loop([&](bulb::EventLoop& l) {
                 return l.create_datagram_endpoint([] { return std::make_unique<bulb::DatagramProtocol>(); },
                                                   {.local_path = missing_dir});
             });
         },
         Kind::error, os(ENOENT), {missing_dir}},
        {"create_datagram_endpoint, nothing to open",
         [&] {
             on_loop([&](bulb::EventLoop& l) {
                 return l.create_datagram_endpoint([] { return std::make_unique<bulb::DatagramProtocol>(); }, {});
             });
         },
         Kind::invalid_argument, {}, {"create_datagram_endpoint"}},

        // --- subprocesses ----------------------------------------------------------------------
        {"subprocess_exec, missing program",
         [&] {
             on_loop([&](bulb::EventLoop& l) {
                 return l.subprocess_exec([] { return std::make_unique<bulb::SubprocessProtocol>(); },
                                          {"bulb-no-such-program", "x"});
             });
         },
         Kind::error, os(ENOENT), {"bulb-no-such-program"}},
        {"subprocess_exec, missing working directory",
         [&] {
             bulb::SubprocessOptions o;
             o.cwd = "/nonexistent-bulb-dir";
             on_loop([&](bulb::EventLoop& l) {
                 return l.subprocess_exec([] { return std::make_unique<bulb::SubprocessProtocol>(); }, {"true"}, o);
             });
         },
         Kind::error, os(ENOENT), {"/nonexistent-bulb-dir"}},
        {"subprocess_exec, empty argv",
         [&] {
             on_loop([&](bulb::EventLoop& l) {
                 return l.subprocess_exec([] { return std::make_unique<bulb::SubprocessProtocol>(); }, {});
             });
         },
         Kind::invalid_argument, {}, {"subprocess_exec"}},
        {"create_subprocess_exec, missing program",
         [&] { (void)bulb::run(bulb::create_subprocess_exec({"bulb-no-such-program"})); },
         Kind::error, os(ENOENT), {"bulb-no-such-program"}},

        // --- name resolution -------------------------------------------------------------------
        {"getaddrinfo, unresolvable host",
         [&] { on_loop([&](bulb::EventLoop& l) { return l.getaddrinfo(std::string("no such host"), std::string("80")); }); },
         Kind::error, gai(EAI_NONAME), {"no such host"}},
        {"getnameinfo, not an IP address",
         [&] { on_loop([&](bulb::EventLoop& l) { return l.getnameinfo(bulb::SocketAddress::from_unix_path("/tmp/x")); }); },
         Kind::invalid_argument, {}, {"getnameinfo"}},
        {"SocketAddress::from_ip, not numeric", [&] { (void)bulb::SocketAddress::from_ip("localhost", 80); },
         Kind::invalid_argument, {}, {"localhost"}},

        // --- descriptors -----------------------------------------------------------------------
        {"sock_recv, closed descriptor", [&] { on_loop([&](bulb::EventLoop& l) { return bulb::sock_recv(l, bad_fd, 10); }); },
         Kind::error, os(EBADF), {"sock_recv", bad_fd_text}},
        {"sock_sendall, closed descriptor",
         [&] { on_loop([&](bulb::EventLoop& l) { return bulb::sock_sendall(l, bad_fd, bulb::as_bytes("x")); }); },
         Kind::error, os(EBADF), {"sock_sendall", bad_fd_text}},
        {"sock_accept, closed descriptor", [&] { on_loop([&](bulb::EventLoop& l) { return bulb::sock_accept(l, bad_fd); }); },
         Kind::error, os(EBADF), {"sock_accept", bad_fd_text}},
        {"sock_recv, negative descriptor", [&] { on_loop([&](bulb::EventLoop& l) { return bulb::sock_recv(l, -1, 10); }); },
         Kind::invalid_argument, {}, {"sock_recv", "-1"}},
        {"sock_recv, blocking descriptor",
         [&] {
             int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
             try {
                 on_loop([&](bulb::EventLoop& l) { return bulb::sock_recv(l, fd, 10); });
             } catch (...) {
                 ::close(fd);
                 throw;
             }
             ::close(fd);
         },
         Kind::invalid_argument, {}, {"sock_recv", "blocking"}},
        {"add_reader, closed descriptor",
         [&] {
             bulb::EventLoop loop;
             loop.add_reader(bad_fd, [] {});
         },
         Kind::error, os(EBADF), {"add_reader", std::to_string(bad_fd)}},
        {"connect_read_pipe, closed descriptor",
         [&] { on_loop([&](bulb::EventLoop& l) { return l.connect_read_pipe(plain(), bad_fd); }); },
         Kind::error, os(EBADF), {"connect_read_pipe", std::to_string(bad_fd)}},
        {"connect_read_pipe, a regular file",
         [&] {
             int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
             try {
                 on_loop([&](bulb::EventLoop& l) { return l.connect_read_pipe(plain(), fd); });
             } catch (...) {
                 ::close(fd);
                 throw;
             }
             ::close(fd);
         },
         Kind::invalid_argument, {}, {"connect_read_pipe"}},

        // --- the loop --------------------------------------------------------------------------
        {"add_signal_handler, SIGKILL",
         [&] {
             bulb::EventLoop loop;
             loop.add_signal_handler(SIGKILL, [] {});
         },
         Kind::invalid_argument, {}, {"add_signal_handler"}},
        {"run_until_complete, loop closed",
         [&] {
             bulb::EventLoop loop;
             bulb::Future<int> f(loop);
             loop.close();
             loop.run_until_complete(f);
         },
         Kind::invalid_state, {}, {"closed"}},
        {"Future::result, pending",
         [&] {
             bulb::EventLoop loop;
             bulb::Future<int> f(loop);
             (void)f.result();
         },
         Kind::invalid_state, {}, {}},
        {"Future::set_result, already done",
         [&] {
             bulb::EventLoop loop;
             bulb::Future<int> f(loop);
             f.set_result(1);
             f.set_result(2);
         },
         Kind::invalid_state, {}, {}},
        {"connect timeout (TimeoutError)",
         [&] {
             // A listener whose accept queue is full drops further SYNs: the connect hangs.
             Listener full(SOCK_STREAM, 0);
             std::vector<int> fillers;
             for (int i = 0; i < 3; ++i) {
                 int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                 auto addr = bulb::SocketAddress::from_ip("127.0.0.1", full.port);
                 (void)::connect(fd, addr.data(), addr.size());
                 fillers.push_back(fd);
             }
             ::usleep(50'000);
             bulb::ConnectOptions o;
             o.timeout = 200ms;
             auto close_fillers = [&] {
                 for (int fd : fillers) ::close(fd);
             };
             try {
                 on_loop([&](bulb::EventLoop& l) { return l.create_connection(plain(), "127.0.0.1", full.port, o); });
             } catch (...) {
                 close_fillers();
                 throw;
             }
             close_fillers();
         },
         Kind::error, make_error_code(bulb::errc::timed_out), {"127.0.0.1:", "timed out after 200 ms"}},
    };
    for (const Row& row : rows) check_row(row);
}
