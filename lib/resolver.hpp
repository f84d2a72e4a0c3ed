// SPDX-License-Identifier: MIT
/// @file
/// resolve(): getaddrinfo without blocking the loop (numeric hosts at once, names on the executor).
#pragma once

#include <bulb/address.hpp>
#include <bulb/future.hpp>

#include <optional>
#include <string>
#include <vector>

namespace bulb::detail {

/// Stream-socket addresses for `host` (std::nullopt with `passive`: every local interface) and
/// `port`, restricted to `family` unless AF_UNSPEC. Fails with bulb::Error carrying the
/// getaddrinfo message.
Future<std::vector<SocketAddress>> resolve(EventLoop& loop, std::optional<std::string> host, std::uint16_t port,
                                           int family, bool passive);

}  // namespace bulb::detail
