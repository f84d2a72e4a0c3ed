// SPDX-License-Identifier: MIT
/// @file
/// DatagramEndpointOptions: where and how create_datagram_endpoint opens its socket (asyncio's
/// keyword arguments as a plain aggregate; designated initializers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace bulb {

/// A host (name or numeric address) and a port.
struct HostPort {
    /// Host name or numeric address.
    std::string host{};
    /// Port (0: any).
    std::uint16_t port = 0;
};

/// create_datagram_endpoint options. Give at least one of local_addr, remote_addr, local_path,
/// remote_path, sock, or a family (an unbound socket of that family).
struct DatagramEndpointOptions {
    /// Bind to this address (port 0: any free port). Resolved off the loop when not numeric.
    std::optional<HostPort> local_addr{};
    /// Connect to this peer: sendto() without address goes there, only its datagrams are
    /// received, and an ICMP port-unreachable arrives as error_received(ECONNREFUSED).
    std::optional<HostPort> remote_addr{};
    /// AF_INET or AF_INET6 to restrict resolution; AF_UNIX for an unbound Unix socket;
    /// 0 (AF_UNSPEC): whatever the addresses resolve to.
    int family = 0;
    /// Unix datagram socket: bind to this path (a stale socket file there is replaced, any
    /// other file is an error; a leading '\0' makes a Linux abstract name). The file is removed
    /// when the endpoint closes.
    std::string local_path{};
    /// Unix datagram socket: connect to this path. Without local_path the socket is bound to an
    /// autobound abstract name so the peer can answer.
    std::string remote_path{};
    /// SO_REUSEPORT: several endpoints share the port (the kernel spreads datagrams among them).
    bool reuse_port = false;
    /// SO_BROADCAST: allow sending to broadcast addresses (without it they fail with EACCES).
    bool allow_broadcast = false;
    /// Use this already-open datagram socket instead (the transport owns and closes it); every
    /// address option must then be empty.
    int sock = -1;
};

}  // namespace bulb
