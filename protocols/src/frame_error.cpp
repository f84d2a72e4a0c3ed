// SPDX-License-Identifier: MIT
/// @file
/// FrameError's message builders.
#include <bulb/protocols/frame_error.hpp>

namespace bulb::protocols {

FrameError FrameError::limit(std::string_view what, std::size_t size, std::string_view limit_name,
                             std::size_t limit, bool recoverable) {
    std::string msg(what);
    msg.append(" exceeds ").append(limit_name).append(" (").append(std::to_string(limit)).append(")");
    return FrameError(Kind::limit_exceeded, msg, recoverable, size);
}

FrameError FrameError::truncated(std::string_view what, std::size_t bytes_left) {
    std::string msg(what);
    msg.append(" (").append(std::to_string(bytes_left)).append(" bytes left over)");
    return FrameError(Kind::truncated, msg);
}

}  // namespace bulb::protocols
