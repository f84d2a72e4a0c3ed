// SPDX-License-Identifier: MIT
/// @file
/// The one place transports invoke their protocol's callbacks: an exception leaving a callback
/// is reported to the loop's exception handler as "Exception in protocol.NAME()" with the
/// transport, and the caller learns of it (to close the connection) from the result.
#pragma once

#include <bulb/loop.hpp>
#include <bulb/transport.hpp>

#include <exception>
#include <string>
#include <utility>

namespace bulb::detail {

/// Reports an exception from protocol callback `callback` (cold path, out of line).
void report_callback_error(EventLoop& loop, Transport* transport, const char* callback,
                           std::exception_ptr error) noexcept;

/// Runs `call` (one protocol callback, named `callback`, e.g. "data_received"); returns false,
/// after reporting the exception with `transport`, if it threw. The loop survives every callback.
template <class Call>
bool call_protocol(EventLoop& loop, Transport* transport, const char* callback, Call&& call) noexcept {
    try {
        std::forward<Call>(call)();
        return true;
    } catch (...) {
        report_callback_error(loop, transport, callback, std::current_exception());
        return false;
    }
}

}  // namespace bulb::detail
