// SPDX-License-Identifier: MIT
/// @file
/// Datagram endpoints (UDP, Unix datagram sockets): the protocol, the transport and the options
/// of EventLoop::create_datagram_endpoint.
#pragma once

#include <bulb/datagram_options.hpp>
#include <bulb/datagram_protocol.hpp>
#include <bulb/datagram_transport.hpp>
#include <bulb/loop.hpp>
