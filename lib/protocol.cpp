// SPDX-License-Identifier: MIT
/// @file
/// Default protocol callbacks and Transport::get_extra_info.
#include <bulb/protocol.hpp>
#include <bulb/transport.hpp>

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

}  // namespace bulb
