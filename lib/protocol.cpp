// SPDX-License-Identifier: MIT
/// @file
/// Default protocol callbacks and Transport::get_extra_info.
#include <bulb/protocol.hpp>
#include <bulb/transport.hpp>

#include "protocol_call.hpp"

#include <sys/socket.h>

namespace bulb {

Protocol::~Protocol() = default;
void Protocol::connection_made(Transport&) {}
void Protocol::data_received(ByteView) {}
bool Protocol::eof_received() { return false; }
void Protocol::connection_lost(std::error_code) {}
void Protocol::pause_writing() {}
void Protocol::resume_writing() {}

std::optional<std::string> Transport::get_extra_info(std::string_view name) const {
    if (name == "peername") return get_peername().to_string();
    if (name == "sockname") return get_sockname().to_string();
    if (name == "fd") return std::to_string(get_fd());
    return std::nullopt;
}

std::optional<ExtraInfo> Transport::get_extra_info_value(std::string_view name) const {
    if (name == "peername") return ExtraInfo(get_peername());
    if (name == "sockname") return ExtraInfo(get_sockname());
    if (name == "fd") return ExtraInfo(get_fd());
    return std::nullopt;
}

std::string Transport::describe() const {
    std::string out = "<";
    out += kind();
    const int fd = get_fd();
    if (fd < 0) {
        out += " closed>";
        return out;
    }
    out += " fd=" + std::to_string(fd);
    // Addresses are best effort: a socket being torn down may no longer have them.
    try {
        if (auto local = get_sockname(); local.family() != AF_UNSPEC) out += " local=" + local.to_string();
        if (auto peer = get_peername(); peer.family() != AF_UNSPEC) out += " peer=" + peer.to_string();
    } catch (...) {
    }
    if (is_closing()) out += " closing";
    out += ">";
    return out;
}

}  // namespace bulb

namespace bulb::detail {

void report_callback_error(EventLoop& loop, const CallbackSource& source, const char* callback,
                           std::exception_ptr error) noexcept {
    std::string message;
    try {
        message = std::string("Exception in ") + source.receiver + "." + callback + "()";
    } catch (...) {  // out of memory: report what we can
    }
    loop.call_exception_handler({std::move(message), std::move(error), source.transport, source.datagram_transport});
}

}  // namespace bulb::detail
