// SPDX-License-Identifier: MIT
/// @file
/// LengthPrefixedCodec.
#include <bulb/protocols/length_prefixed_codec.hpp>

#include <stdexcept>

namespace bulb::protocols {

LengthPrefixedCodec::LengthPrefixedCodec(Options options) : options_(options) {
    if (options_.width != 1 && options_.width != 2 && options_.width != 4 && options_.width != 8)
        throw std::invalid_argument("LengthPrefixedCodec: width " + std::to_string(options_.width) +
                                    " is not 1, 2, 4 or 8");
}

std::optional<std::string> LengthPrefixedCodec::decode(FrameBuffer& buffer) {
    std::string_view in = buffer.view();
    const std::size_t width = options_.width;
    if (in.size() < width) return std::nullopt;
    std::uint64_t field = 0;
    for (std::size_t i = 0; i < width; ++i) {
        std::size_t at = options_.endian == Endian::big ? i : width - 1 - i;
        field = (field << 8) | static_cast<unsigned char>(in[at]);
    }
    if (options_.length_includes_header) {
        if (field < width)
            throw FrameError(FrameError::Kind::malformed,
                             "length field " + std::to_string(field) + " is smaller than the " +
                                 std::to_string(width) + "-byte header it includes");
        field -= width;
    }
    if (field > options_.max_frame)
        throw FrameError::limit("frame of " + std::to_string(field) + " bytes", field, "max_frame", options_.max_frame);
    auto length = static_cast<std::size_t>(field);
    if (in.size() - width < length) return std::nullopt;
    std::string payload(in.substr(width, length));
    buffer.consume(width + length);
    return payload;
}

std::optional<std::string> LengthPrefixedCodec::decode_eof(FrameBuffer& buffer) {
    if (buffer.empty()) return std::nullopt;
    throw FrameError::truncated("end of stream inside a length-prefixed frame", buffer.size());
}

void LengthPrefixedCodec::encode(std::string_view payload, std::string& out) const {
    const std::size_t width = options_.width;
    if (payload.size() > options_.max_frame)
        throw FrameError::limit("frame of " + std::to_string(payload.size()) + " bytes", payload.size(),
                                "max_frame", options_.max_frame);
    std::uint64_t field = payload.size();
    if (options_.length_includes_header) field += width;
    if (width < 8 && field >> (8 * width) != 0)
        throw FrameError::limit("frame of " + std::to_string(payload.size()) + " bytes", payload.size(),
                                "the " + std::to_string(width) + "-byte length field's range",
                                (std::size_t{1} << (8 * width)) - 1 - (options_.length_includes_header ? width : 0));
    char header[8];
    for (std::size_t i = 0; i < width; ++i) {
        std::size_t at = options_.endian == Endian::big ? width - 1 - i : i;
        header[at] = static_cast<char>(field >> (8 * i));
    }
    out.append(header, width);
    out.append(payload);
}

}  // namespace bulb::protocols
