// SPDX-License-Identifier: MIT
/// @file
/// The one place transports invoke their protocol's callbacks: an exception leaving a callback
/// is reported to the loop's exception handler as "Exception in RECEIVER.NAME()" with the
/// transport that made the call, and the caller learns of it (to close the connection) from the
/// result. Stream, TLS, pipe, datagram and subprocess transports all call through here.
#pragma once

#include <bulb/loop.hpp>

#include <exception>
#include <system_error>
#include <utility>

namespace bulb {
class Transport;
class DatagramTransport;
class SubprocessTransport;
}  // namespace bulb

namespace bulb::detail {

/// Who made a protocol callback, as the exception handler is told: the receiver named in the
/// message and the transport put in the ExceptionContext.
struct CallbackSource {
    const char* receiver = "protocol";  ///< "protocol" or "SubprocessProtocol"
    Transport* transport = nullptr;
    DatagramTransport* datagram_transport = nullptr;
};

/// How each kind of transport describes itself (overloads, picked by the caller's `this`).
inline CallbackSource callback_source(Transport* t) noexcept { return {"protocol", t, nullptr}; }
inline CallbackSource callback_source(DatagramTransport* t) noexcept { return {"protocol", nullptr, t}; }
inline CallbackSource callback_source(SubprocessTransport*) noexcept { return {"SubprocessProtocol", nullptr, nullptr}; }

/// Reports an exception from protocol callback `callback` (cold path, out of line).
void report_callback_error(EventLoop& loop, const CallbackSource& source, const char* callback,
                           std::exception_ptr error) noexcept;

/// Runs `call` (one protocol callback, named `callback`, e.g. "data_received") for the
/// transport `source`; returns false, after reporting the exception, if it threw. The loop
/// survives every callback.
template <class Source, class Call>
bool call_protocol(EventLoop& loop, Source* source, const char* callback, Call&& call) noexcept {
    try {
        std::forward<Call>(call)();
        return true;
    } catch (...) {
        report_callback_error(loop, callback_source(source), callback, std::current_exception());
        return false;
    }
}

/// Runs `deliver` (a transport's connection_lost delivery, holding a reference to it) from the
/// loop soon, or at once when the loop cannot take the callback (out of memory while it
/// closes): connection_lost arrives late rather than never. Every transport schedules its
/// connection_lost through here.
template <class Loop, class Deliver>
void call_soon_or_now(Loop& loop, Deliver deliver) noexcept {
    try {
        loop.call_soon(Deliver(deliver));
    } catch (...) {
        deliver();
    }
}

}  // namespace bulb::detail
