// SPDX-License-Identifier: MIT
/// @file
/// Name resolution results and errors: AddrInfo, NameInfo and the getaddrinfo error category.
///
/// EventLoop::getaddrinfo / getnameinfo (declared in <bulb/loop.hpp>) run the C resolver on the
/// loop's executor and resolve a Future on the loop thread (co_await it from a task). Failures
/// are bulb::Error whose code keeps the resolver's EAI_* identity in gai_category(), so
/// `e.code() == bulb::gai_errc::no_name` (the name does not exist) and `gai_errc::again` (try
/// later) are told apart in code; EAI_SYSTEM becomes the errno in std::system_category().
#pragma once

#include <bulb/address.hpp>
#include <bulb/config.hpp>

#include <string>
#include <system_error>

#include <netdb.h>

namespace bulb {

/// One getaddrinfo answer.
struct AddrInfo {
    int family = 0;    ///< AF_INET, AF_INET6, ...
    int type = 0;      ///< SOCK_STREAM, SOCK_DGRAM, ...
    int protocol = 0;  ///< IPPROTO_TCP, IPPROTO_UDP, ...
    std::string canonname;  ///< with AI_CANONNAME, on the first answer
    /// The address to connect or bind to.
    SocketAddress addr;
};

/// What getnameinfo answers.
struct NameInfo {
    /// The host name (or numeric host).
    std::string host;
    /// The service name (or numeric port).
    std::string service;
};

/// The resolver's own error codes (the EAI_* values of <netdb.h>), in gai_category().
enum class gai_errc {
    bad_flags = EAI_BADFLAGS,
    no_name = EAI_NONAME,    ///< the name (or service) does not exist
    again = EAI_AGAIN,       ///< temporary failure (no answer from the DNS server): try later
    fail = EAI_FAIL,         ///< non-recoverable failure
    family = EAI_FAMILY,     ///< address family not supported
    socktype = EAI_SOCKTYPE,
    service = EAI_SERVICE,   ///< the service is not available for this socket type
    memory = EAI_MEMORY,
    overflow = EAI_OVERFLOW,
#ifdef EAI_NODATA
    no_data = EAI_NODATA,    ///< the name exists but has no address of the requested family
#endif
#ifdef EAI_ADDRFAMILY
    addr_family = EAI_ADDRFAMILY,
#endif
};

}  // namespace bulb

/// @cond
template <>
struct std::is_error_code_enum<bulb::gai_errc> : std::true_type {};
/// @endcond

namespace bulb {

/// The category of EAI_* codes; name() is "getaddrinfo", message() is gai_strerror's text alone.
BULB_API const std::error_category& gai_category() noexcept;

/// An error_code in gai_category() (found by ADL).
inline std::error_code make_error_code(gai_errc e) noexcept { return {static_cast<int>(e), gai_category()}; }

/// The error_code for a getaddrinfo/getnameinfo return value: gai_category(), or the errno in
/// std::system_category() for EAI_SYSTEM (pass the errno seen right after the call).
BULB_API std::error_code gai_error_code(int eai, int saved_errno) noexcept;

}  // namespace bulb
