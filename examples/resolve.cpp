// SPDX-License-Identifier: MIT
/// @file
/// Prints every address getaddrinfo returns for a name, like `getent ahosts`, through
/// EventLoop::getaddrinfo (the resolver runs on the loop's executor).
///
///     resolve [--family 4|6] NAME [SERVICE]
///
/// One line per answer: the address, the socket type (STREAM, DGRAM, RAW) and, on the first
/// line, the canonical name; with SERVICE the port too. A name that does not exist prints the
/// resolver's own message ("Name or service not known") and exits 2; a temporary failure
/// (EAI_AGAIN) or another error exits 1; bad options exit 2 with the usage.

#include <bulb/bulb.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include <netdb.h>
#include <sys/socket.h>

[[noreturn]] static void usage(const char* bad = nullptr) {
    if (bad) std::fprintf(stderr, "resolve: unknown or incomplete option '%s'\n", bad);
    std::fprintf(stderr, "usage: resolve [--family 4|6] NAME [SERVICE]\n");
    std::exit(2);
}

static const char* type_name(int type) {
    switch (type) {
        case SOCK_STREAM: return "STREAM";
        case SOCK_DGRAM: return "DGRAM";
        case SOCK_RAW: return "RAW";
        default: return "?";
    }
}

int main(int argc, char** argv) {
    int family = AF_UNSPEC;
    std::optional<std::string> name, service;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--family") {
            if (i + 1 >= argc) usage(argv[i]);
            std::string_view f = argv[++i];
            if (f != "4" && f != "6") usage(argv[i - 1]);
            family = f == "4" ? AF_INET : AF_INET6;
        } else if (arg.size() > 1 && arg[0] == '-') {
            usage(argv[i]);
        } else if (!name) {
            name = std::string(arg);
        } else if (!service) {
            service = std::string(arg);
        } else {
            usage(argv[i]);
        }
    }
    if (!name) usage();
    bulb::EventLoop loop;
    try {
        auto answers = loop.run_until_complete(loop.getaddrinfo(*name, service, family, 0, 0, AI_CANONNAME));
        bool first = true;
        for (const auto& a : answers) {
            std::string line = a.addr.host();
            line.resize(std::max<std::size_t>(line.size() + 1, 16), ' ');
            if (service) line += std::to_string(a.addr.port()) + " ";
            line += type_name(a.type);
            if (first && !a.canonname.empty()) line += " " + a.canonname;
            first = false;
            std::printf("%s\n", line.c_str());
        }
    } catch (const bulb::Error& e) {
        std::fprintf(stderr, "resolve: %s: %s\n", name->c_str(), e.code().message().c_str());
        return e.code() == bulb::gai_errc::no_name ? 2 : 1;
    }
    loop.close();
    return 0;
}
