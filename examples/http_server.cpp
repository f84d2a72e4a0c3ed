// SPDX-License-Identifier: MIT
/// @file
/// http_server: bulb::http::Server (callback style) as a tool.
///
///     http_server [--host H] [--port N] [--root DIR] [--tls-cert F --tls-key F] [--coro]
///                 [--body-timeout SECONDS]
///
/// --coro serves with coroutine handlers (http::serve, Task<Response>(Request&)) instead of
/// the callback API; the answers are the same. Requests go through a router (http::Router,
/// http::CoroRouter): other methods on a known path get 405 with Allow.
/// Prints "listening on HOST:PORT". GET/HEAD /hello answers "Hello, world!" (text/plain);
/// POST/PUT /upload reads the body (any framing) and answers "received N bytes". With --root,
/// other paths are files under DIR through http::StaticFiles (Last-Modified, If-Modified-Since,
/// one Range, MIME types; directories give 404, there is no index; "..", %2e%2e, NUL and
/// symlinks leading out of DIR give 404). A request body not complete --body-timeout seconds
/// (default 60) after its head gets 408. SIGINT/SIGTERM shut down gracefully (5 s).
#include <bulb/http/coro/router.hpp>
#include <bulb/http/coro/server.hpp>
#include <bulb/http/router.hpp>
#include <bulb/http/server.hpp>
#include <bulb/http/static_files.hpp>
#include <bulb/loop.hpp>
#include <bulb/tls_context.hpp>

#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace {

struct Settings {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    std::string root;
    std::string tls_cert;
    std::string tls_key;
    bool coro = false;
    bulb::Duration body_timeout = std::chrono::seconds(60);
};

[[noreturn]] void usage(std::string_view bad = {}) {
    if (!bad.empty()) std::fprintf(stderr, "http_server: unknown or incomplete option %.*s\n", int(bad.size()), bad.data());
    std::fprintf(stderr, "usage: http_server [--host H] [--port N] [--root DIR] [--tls-cert F --tls-key F] [--coro]\n"
                         "                   [--body-timeout SECONDS]\n");
    std::exit(2);
}

using bulb::http::RouteParams;

// The callback routes: /hello, /upload, then the files under --root (or 404).
bulb::http::Router callback_routes(const std::optional<bulb::http::StaticFiles>& files) {
    bulb::http::Router router;
    router.add("GET", "/hello", [](bulb::http::Exchange& ex, const RouteParams&) { ex.respond(200, "Hello, world!"); });
    auto upload = [](bulb::http::Exchange& ex, const RouteParams&) {
        auto received = std::make_shared<std::uint64_t>(0);
        ex.on_body([received](std::string_view piece) { *received += piece.size(); });
        std::shared_ptr<bulb::http::Exchange> keep = ex.shared_from_this();
        ex.on_end([keep, received](const bulb::http::Fields&) {
            keep->respond(200, "received " + std::to_string(*received) + " bytes\n");
        });
    };
    router.add("POST", "/upload", upload).add("PUT", "/upload", upload);
    if (files) router.fallback([&files](bulb::http::Exchange& ex) { files->serve(ex); });
    return router;
}

// The coroutine routes: the same answers as callback_routes().
bulb::http::CoroRouter coro_routes(const std::optional<bulb::http::StaticFiles>& files) {
    using bulb::http::Request;
    using bulb::http::Response;
    bulb::http::CoroRouter router;
    router.add("GET", "/hello", [](Request&, RouteParams) -> bulb::Task<Response> {
        co_return Response::text(200, "Hello, world!");
    });
    auto upload = [](Request& request, RouteParams) -> bulb::Task<Response> {
        std::uint64_t received = 0;
        while (auto piece = co_await request.read_some()) received += piece->size();
        co_return Response::text(200, "received " + std::to_string(received) + " bytes\n");
    };
    router.add("POST", "/upload", upload).add("PUT", "/upload", upload);
    if (files) {
        router.fallback([&files](Request& request) -> bulb::Task<Response> {
            files->serve(request.exchange());  // answers through the exchange; the empty Response is not sent
            co_return Response{};
        });
    }
    return router;
}

int serve(const Settings& s) {
    bulb::EventLoop loop;
    bulb::ServerOptions options;
    if (!s.tls_cert.empty()) {
        bulb::TlsServerOptions tls;
        tls.alpn = {"http/1.1"};
        options.tls = bulb::TlsContext::server(s.tls_cert, s.tls_key, tls);
    }
    std::optional<bulb::http::StaticFiles> files;
    if (!s.root.empty()) files.emplace(s.root);
    bulb::http::ServerSettings settings;
    settings.body_timeout = s.body_timeout;
    auto server = loop.run_until_complete(
        s.coro ? bulb::http::serve(loop, coro_routes(files), s.host, s.port, settings, options)
               : bulb::http::Server::create(loop, callback_routes(files), s.host, s.port, settings, options));
    loop.add_signal_handler(SIGINT, [&] { loop.stop(); });
    loop.add_signal_handler(SIGTERM, [&] { loop.stop(); });
    for (auto& address : server.sockets()) std::printf("listening on %s\n", address.to_string().c_str());
    std::fflush(stdout);
    loop.run_forever();
    loop.remove_signal_handler(SIGINT);
    loop.remove_signal_handler(SIGTERM);
    loop.run_until_complete(server.shutdown(std::chrono::seconds(5)));
    loop.close();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Settings s;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--coro") {
            s.coro = true;
            continue;
        }
        if (i + 1 >= argc) usage(arg);
        if (arg == "--host") {
            s.host = argv[++i];
        } else if (arg == "--port") {
            char* end;
            long p = std::strtol(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end != '\0' || p < 0 || p > 65535) usage(arg);
            s.port = static_cast<std::uint16_t>(p);
        } else if (arg == "--body-timeout") {
            char* end;
            double seconds = std::strtod(argv[++i], &end);
            if (*argv[i] == '\0' || *end != '\0' || !(seconds > 0) || seconds > 1e6) usage(arg);
            s.body_timeout = std::chrono::duration_cast<bulb::Duration>(std::chrono::duration<double>(seconds));
        } else if (arg == "--root") {
            s.root = argv[++i];
        } else if (arg == "--tls-cert") {
            s.tls_cert = argv[++i];
        } else if (arg == "--tls-key") {
            s.tls_key = argv[++i];
        } else {
            usage(arg);
        }
    }
    if (s.tls_cert.empty() != s.tls_key.empty()) usage("--tls-cert/--tls-key (give both)");
    if (!s.root.empty()) {
        char real[PATH_MAX];
        if (!realpath(s.root.c_str(), real)) {
            std::fprintf(stderr, "http_server: --root %s: no such directory\n", s.root.c_str());
            return 1;
        }
        s.root = real;
    }
    try {
        return serve(s);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "http_server: %s\n", e.what());
        return 1;
    }
}
