// SPDX-License-Identifier: MIT
/// @file
/// SocketAddress parsing and formatting.
#include <bulb/address.hpp>

#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

namespace bulb {

SocketAddress::SocketAddress() noexcept : len_(0) {
    std::memset(&storage_, 0, sizeof storage_);
    storage_.ss_family = AF_UNSPEC;
}

SocketAddress::SocketAddress(const sockaddr* addr, socklen_t len) noexcept : SocketAddress() {
    len_ = len > sizeof storage_ ? sizeof storage_ : len;
    std::memcpy(&storage_, addr, len_);
}

SocketAddress SocketAddress::from_ip(const std::string& host, std::uint16_t port) {
    SocketAddress a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.len_ = sizeof *v4;
    } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a.len_ = sizeof *v6;
    } else {
        throw std::invalid_argument("not a numeric IP address: '" + host + "'");
    }
    return a;
}

SocketAddress SocketAddress::from_unix_path(const std::string& path) {
    SocketAddress a;
    auto* un = reinterpret_cast<sockaddr_un*>(&a.storage_);
    if (path.empty() || path.size() >= sizeof un->sun_path)
        throw std::invalid_argument("bad Unix socket path '" + path + "' (empty or longer than " +
                                    std::to_string(sizeof un->sun_path - 1) + " bytes)");
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path.data(), path.size());
    // Abstract names are exactly as long as given; paths include their terminating NUL.
    a.len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '\0' ? 0 : 1));
    return a;
}

std::string SocketAddress::host() const {
    char buf[INET6_ADDRSTRLEN] = {};
    switch (family()) {
        case AF_INET:
            inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
            return buf;
        case AF_INET6:
            inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf, sizeof buf);
            return buf;
        case AF_UNIX: {
            auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
            std::size_t n = len_ > offsetof(sockaddr_un, sun_path) ? len_ - offsetof(sockaddr_un, sun_path) : 0;
            if (n == 0) return {};
            if (un->sun_path[0] == '\0') return "@" + std::string(un->sun_path + 1, n - 1);
            return std::string(un->sun_path, strnlen(un->sun_path, n));
        }
        default: return {};
    }
}

std::uint16_t SocketAddress::port() const noexcept {
    switch (family()) {
        case AF_INET: return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
        case AF_INET6: return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
        default: return 0;
    }
}

std::string SocketAddress::to_string() const {
    switch (family()) {
        case AF_INET: return host() + ":" + std::to_string(port());
        case AF_INET6: return "[" + host() + "]:" + std::to_string(port());
        default: return host();
    }
}

bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept {
    return a.len_ == b.len_ && std::memcmp(&a.storage_, &b.storage_, a.len_) == 0;
}

}  // namespace bulb
