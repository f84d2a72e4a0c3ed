// SPDX-License-Identifier: MIT
/// @file
/// SocketAddress: an IPv4, IPv6 or Unix-domain socket address (peername, sockname, bind targets).
#pragma once

#include <bulb/config.hpp>

#include <cstdint>
#include <string>

#include <sys/socket.h>

namespace bulb {

/// A socket address of any family, stored by value (a sockaddr_storage).
class BULB_API SocketAddress {
public:
    /// An empty address (family AF_UNSPEC).
    SocketAddress() noexcept;
    /// Copies `len` bytes of a kernel address.
    SocketAddress(const sockaddr* addr, socklen_t len) noexcept;

    /// Parses a numeric IPv4/IPv6 host and a port; throws std::invalid_argument if not numeric.
    static SocketAddress from_ip(const std::string& host, std::uint16_t port);
    /// A Unix-domain address; a leading '\0' makes a Linux abstract name. Throws
    /// std::invalid_argument if the path is too long.
    static SocketAddress from_unix_path(const std::string& path);

    /// AF_INET, AF_INET6, AF_UNIX or AF_UNSPEC.
    int family() const noexcept { return storage_.ss_family; }
    /// The numeric host ("127.0.0.1", "::1"), or the path for Unix addresses ('@' for an abstract
    /// name's leading NUL).
    std::string host() const;
    /// The port (0 for Unix addresses).
    std::uint16_t port() const noexcept;
    /// "127.0.0.1:8080", "[::1]:8080" or the Unix path.
    std::string to_string() const;

    /// The address as a sockaddr for system calls (valid while this object lives).
    const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
    /// The same, writable (for accept/recvfrom-style calls).
    sockaddr* data() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
    /// The address's length in bytes.
    socklen_t size() const noexcept { return len_; }
    /// For getsockname-style calls: the capacity, then set the length the kernel returned.
    socklen_t capacity() const noexcept { return sizeof storage_; }
    /// Sets the length after a system call filled the storage.
    void set_size(socklen_t len) noexcept { len_ = len; }

    /// Same family, address and port (or path).
    BULB_API friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;

private:
    sockaddr_storage storage_;
    socklen_t len_;
};

}  // namespace bulb
