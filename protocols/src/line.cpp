// SPDX-License-Identifier: MIT
/// @file
/// LineProtocol: the line codec's callbacks under their line names.
#include <bulb/protocols/line.hpp>

namespace bulb::protocols {
namespace {

LineCodec::Options line_options(std::size_t max_line_length) {
    LineCodec::Options o;
    o.max_length = max_line_length;
    return o;
}

}  // namespace

LineProtocol::LineProtocol(std::size_t max_line_length)
    : FramedProtocol<LineCodec>(LineCodec(line_options(max_line_length))), max_(max_line_length) {}

void LineProtocol::line_too_long(std::size_t) { close(); }

void LineProtocol::send_line(std::string_view line) {
    std::string out;
    out.reserve(line.size() + 1);
    out.append(line).push_back('\n');
    send_encoded(out);
}

void LineProtocol::frame_received(std::string line) { line_received(line); }

void LineProtocol::frame_error(const FrameError& error) {
    if (error.kind() == FrameError::Kind::limit_exceeded) {
        line_too_long(error.size());
    } else {
        close();
    }
}

}  // namespace bulb::protocols
