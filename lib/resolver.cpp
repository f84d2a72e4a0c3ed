// SPDX-License-Identifier: MIT
/// @file
/// Name resolution.
#include "resolver.hpp"

#include <bulb/getaddrinfo.hpp>

#include <netdb.h>

namespace bulb::detail {
namespace {

/// getaddrinfo; on failure an Error whose code is EAI_* mapped to a system error where possible.
std::vector<SocketAddress> lookup(const std::optional<std::string>& host, std::uint16_t port, int family,
                                  bool passive, bool numeric_only, int* gai_error) {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) | (numeric_only ? AI_NUMERICHOST : 0);
    if (!passive) hints.ai_flags |= AI_ADDRCONFIG;
    addrinfo* res = nullptr;
    std::string service = std::to_string(port);
    *gai_error = getaddrinfo(host ? host->c_str() : nullptr, service.c_str(), &hints, &res);
    std::vector<SocketAddress> out;
    if (*gai_error != 0) return out;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        SocketAddress a(ai->ai_addr, ai->ai_addrlen);
        bool seen = false;
        for (auto& b : out) seen = seen || b == a;
        if (!seen) out.push_back(a);
    }
    freeaddrinfo(res);
    return out;
}

Error resolution_error(const std::optional<std::string>& host, int gai_error) {
    // The resolver's own code (gai_category: EAI_NONAME and EAI_AGAIN stay distinguishable), with
    // no unrelated OS error appended; EAI_SYSTEM carries errno.
    return Error(gai_error_code(gai_error, errno), "cannot resolve '" + host.value_or("*") + "'");
}

}  // namespace

Future<std::vector<SocketAddress>> resolve(EventLoop& loop, std::optional<std::string> host, std::uint16_t port,
                                           int family, bool passive) {
    Future<std::vector<SocketAddress>> result(loop);
    int err = 0;
    auto numeric = lookup(host, port, family, passive, /*numeric_only=*/true, &err);
    if (err == 0 && !numeric.empty()) {
        result.set_result(std::move(numeric));
        return result;
    }
    if (!host) {
        result.set_exception(std::make_exception_ptr(resolution_error(host, err)));
        return result;
    }
    auto lookup_future = loop.run_in_executor([host, port, family, passive] {
        int e = 0;
        auto found = lookup(host, port, family, passive, false, &e);
        if (e != 0) throw resolution_error(host, e);
        if (found.empty()) throw resolution_error(host, EAI_NONAME);
        return found;
    });
    return lookup_future;
}

}  // namespace bulb::detail
