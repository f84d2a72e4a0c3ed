// SPDX-License-Identifier: MIT
/// @file
/// Umbrella header for bulb's callback core (never pulls in coroutines).
#pragma once

#include <bulb/address.hpp>
#include <bulb/bytes.hpp>
#include <bulb/concurrent_future.hpp>
#include <bulb/config.hpp>
#include <bulb/datagram.hpp>
#include <bulb/error.hpp>
#include <bulb/executor.hpp>
#include <bulb/function.hpp>
#include <bulb/future.hpp>
#include <bulb/getaddrinfo.hpp>
#include <bulb/handle.hpp>
#include <bulb/time.hpp>
#include <bulb/idle_timer.hpp>
#include <bulb/loop.hpp>
#include <bulb/options.hpp>
#include <bulb/pipe.hpp>
#include <bulb/protocol.hpp>
#include <bulb/ref.hpp>
#include <bulb/server.hpp>
#include <bulb/sock.hpp>
#include <bulb/subprocess.hpp>
#include <bulb/tls_context.hpp>
#include <bulb/transport.hpp>
#include <bulb/wrap_future.hpp>
