// SPDX-License-Identifier: MIT
/// @file
/// EventLoop::getaddrinfo / getnameinfo on the executor, and the getaddrinfo error category.
#include <bulb/getaddrinfo.hpp>
#include <bulb/loop.hpp>

#include "loop/loop_impl.hpp"

#include <memory>
#include <optional>

namespace bulb {
namespace {

class GaiCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "getaddrinfo"; }
    std::string message(int ev) const override { return gai_strerror(ev); }
};

std::string quoted(const std::optional<std::string>& s) { return s ? "'" + *s + "'" : "NULL"; }

}  // namespace

const std::error_category& gai_category() noexcept {
    static const GaiCategory category;
    return category;
}

std::error_code gai_error_code(int eai, int saved_errno) noexcept {
    if (eai == EAI_SYSTEM) return {saved_errno, std::system_category()};
    return {eai, gai_category()};
}

Future<std::vector<AddrInfo>> EventLoop::getaddrinfo(std::optional<std::string> host, std::optional<std::string> port,
                                                     int family, int type, int proto, int flags) {
    impl_->check_thread("getaddrinfo");
    if (is_closed()) throw InvalidStateError("getaddrinfo: Event loop is closed");
    return run_in_executor([host = std::move(host), port = std::move(port), family, type, proto, flags] {
        addrinfo hints{};
        hints.ai_family = family;
        hints.ai_socktype = type;
        hints.ai_protocol = proto;
        hints.ai_flags = flags;
        addrinfo* res = nullptr;
        int rc = ::getaddrinfo(host ? host->c_str() : nullptr, port ? port->c_str() : nullptr, &hints, &res);
        if (rc != 0)
            throw Error(gai_error_code(rc, errno), "getaddrinfo(" + quoted(host) + ", " + quoted(port) + ")");
        std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(res, ::freeaddrinfo);
        std::vector<AddrInfo> out;
        for (addrinfo* ai = res; ai; ai = ai->ai_next)
            out.push_back({ai->ai_family, ai->ai_socktype, ai->ai_protocol, ai->ai_canonname ? ai->ai_canonname : "",
                           SocketAddress(ai->ai_addr, ai->ai_addrlen)});
        return out;
    });
}

Future<NameInfo> EventLoop::getnameinfo(const SocketAddress& addr, int flags) {
    impl_->check_thread("getnameinfo");
    if (is_closed()) throw InvalidStateError("getnameinfo: Event loop is closed");
    if (addr.family() != AF_INET && addr.family() != AF_INET6)
        throw std::invalid_argument("getnameinfo: not an IPv4 or IPv6 address: '" + addr.to_string() + "'");
    return run_in_executor([addr, flags] {
        char host[NI_MAXHOST];
        char service[NI_MAXSERV];
        int rc = ::getnameinfo(addr.data(), addr.size(), host, sizeof host, service, sizeof service, flags);
        if (rc != 0) throw Error(gai_error_code(rc, errno), "getnameinfo(" + addr.to_string() + ")");
        return NameInfo{host, service};
    });
}

}  // namespace bulb
