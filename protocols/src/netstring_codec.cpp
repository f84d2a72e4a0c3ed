// SPDX-License-Identifier: MIT
/// @file
/// NetstringCodec.
#include <bulb/protocols/netstring_codec.hpp>

#include <cstdio>

namespace bulb::protocols {
namespace {

std::size_t decimal_digits(std::size_t n) {
    std::size_t d = 1;
    while (n >= 10) {
        n /= 10;
        ++d;
    }
    return d;
}

std::string byte_name(char c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", static_cast<unsigned char>(c));
    return buf;
}

}  // namespace

std::optional<std::string> NetstringCodec::decode(FrameBuffer& buffer) {
    std::string_view in = buffer.view();
    const std::size_t max_digits = decimal_digits(options_.max_length);
    std::size_t i = 0;
    std::size_t length = 0;
    while (i < in.size() && in[i] >= '0' && in[i] <= '9') {
        if (i == max_digits)
            throw FrameError::limit("netstring length of more than " + std::to_string(max_digits) + " digits", length,
                                    "max_length", options_.max_length);
        length = length * 10 + static_cast<std::size_t>(in[i] - '0');
        ++i;
    }
    if (i == in.size()) return std::nullopt;
    if (in[i] != ':') {
        if (i == 0)
            throw FrameError(FrameError::Kind::malformed,
                             "netstring starts with byte " + byte_name(in[i]) + ", not a decimal length");
        throw FrameError(FrameError::Kind::malformed,
                         "netstring length is followed by byte " + byte_name(in[i]) + ", not ':'");
    }
    if (i == 0) throw FrameError(FrameError::Kind::malformed, "netstring has an empty length");
    if (in[0] == '0' && i > 1) throw FrameError(FrameError::Kind::malformed, "netstring length has a leading zero");
    if (length > options_.max_length)
        throw FrameError::limit("netstring of " + std::to_string(length) + " bytes", length, "max_length", options_.max_length);
    std::size_t total = i + 1 + length + 1;
    if (in.size() < total) return std::nullopt;
    if (in[total - 1] != ',')
        throw FrameError(FrameError::Kind::malformed, "netstring of " + std::to_string(length) +
                                                          " bytes ends with byte " + byte_name(in[total - 1]) +
                                                          ", not ','");
    std::string payload(in.substr(i + 1, length));
    buffer.consume(total);
    return payload;
}

std::optional<std::string> NetstringCodec::decode_eof(FrameBuffer& buffer) {
    if (buffer.empty()) return std::nullopt;
    throw FrameError::truncated("end of stream inside a netstring", buffer.size());
}

void NetstringCodec::encode(std::string_view payload, std::string& out) const {
    if (payload.size() > options_.max_length)
        throw FrameError::limit("netstring of " + std::to_string(payload.size()) + " bytes", payload.size(),
                                "max_length", options_.max_length);
    out.append(std::to_string(payload.size())).push_back(':');
    out.append(payload).push_back(',');
}

}  // namespace bulb::protocols
