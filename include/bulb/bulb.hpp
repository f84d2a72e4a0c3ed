// SPDX-License-Identifier: MIT
/// @file
/// Umbrella header for bulb's callback core (never pulls in coroutines).
#pragma once

#include <bulb/address.hpp>
#include <bulb/bytes.hpp>
#include <bulb/config.hpp>
#include <bulb/datagram.hpp>
#include <bulb/error.hpp>
#include <bulb/function.hpp>
#include <bulb/future.hpp>
#include <bulb/handle.hpp>
#include <bulb/time.hpp>
#include <bulb/loop.hpp>
#include <bulb/options.hpp>
#include <bulb/pipe.hpp>
#include <bulb/protocol.hpp>
#include <bulb/ref.hpp>
#include <bulb/server.hpp>
#include <bulb/subprocess.hpp>
#include <bulb/tls_context.hpp>
#include <bulb/transport.hpp>
