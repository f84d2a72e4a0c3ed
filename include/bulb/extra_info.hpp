// SPDX-License-Identifier: MIT
/// @file
/// ExtraInfo: the typed value behind Transport::get_extra_info<T>(name). asyncio's get_extra_info
/// returns any Python object; C++ needs a closed set of types, so the value is a variant and the
/// caller names the type it expects (a wrong type reads as "not available", as an unknown name).
#pragma once

#include <bulb/address.hpp>
#include <bulb/tls_info.hpp>

#include <string>
#include <variant>

namespace bulb {

/// One piece of transport information. The names and their types:
/// - "fd" int; "peername", "sockname" SocketAddress (all transports with a socket);
/// - TLS: "version" TlsVersion, "cipher" TlsCipher, "peercert" TlsPeerCertificate (absent when the
///   peer sent none), "peercert_verified" bool, "alpn_protocol" std::string (absent when none was
///   negotiated), "server_name" std::string, "session_reused" bool.
using ExtraInfo = std::variant<std::string, bool, int, SocketAddress, TlsVersion, TlsCipher, TlsPeerCertificate>;

}  // namespace bulb
