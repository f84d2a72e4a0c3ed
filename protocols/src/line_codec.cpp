// SPDX-License-Identifier: MIT
/// @file
/// LineCodec: delimiter scanning that never looks at a byte twice, and discard mode.
#include <bulb/protocols/line_codec.hpp>

#include <stdexcept>

namespace bulb::protocols {

LineCodec::LineCodec(Options options) : options_(std::move(options)) {
    if (options_.delimiter.empty()) throw std::invalid_argument("LineCodec: the delimiter is empty");
}

std::string LineCodec::take_line(FrameBuffer& buffer, std::size_t end, std::size_t skip) {
    std::string line(buffer.view().substr(0, end));
    buffer.consume(skip);
    scanned_ = 0;
    return line;
}

std::optional<std::string> LineCodec::decode(FrameBuffer& buffer) {
    const std::string& delim = options_.delimiter;
    for (;;) {
        std::string_view in = buffer.view();
        std::size_t pos = in.find(delim, scanned_);
        if (pos == std::string_view::npos) {
            // No delimiter starts before here: the next search resumes at this point.
            scanned_ = in.size() >= delim.size() ? in.size() - delim.size() + 1 : 0;
            if (discarding_) {  // drop what is known to belong to the overlong line
                buffer.consume(scanned_);
                scanned_ = 0;
                return std::nullopt;
            }
            std::size_t at_least = scanned_;  // the line is at least this long ...
            if (options_.strip_cr && at_least > 0 && in[at_least - 1] == '\r') --at_least;  // ... or a '\r' is stripped
            if (at_least > options_.max_length) {
                bool discard = options_.overlong == Overlong::discard;
                if (discard) {
                    buffer.consume(scanned_);
                    scanned_ = 0;
                    discarding_ = true;
                }
                throw FrameError::limit("line of at least " + std::to_string(at_least) + " bytes", at_least,
                                        "max_length", options_.max_length, discard);
            }
            return std::nullopt;
        }
        std::size_t skip = pos + delim.size();
        if (discarding_) {  // the overlong line ends here; frame the next one
            buffer.consume(skip);
            scanned_ = 0;
            discarding_ = false;
            continue;
        }
        std::size_t length = pos;
        if (options_.strip_cr && length > 0 && in[length - 1] == '\r') --length;
        if (length > options_.max_length) {
            buffer.consume(skip);
            scanned_ = 0;
            throw FrameError::limit("line of " + std::to_string(length) + " bytes", length, "max_length",
                                    options_.max_length, options_.overlong == Overlong::discard);
        }
        return take_line(buffer, length, skip);
    }
}

std::optional<std::string> LineCodec::decode_eof(FrameBuffer& buffer) {
    if (discarding_) {  // the rest of a line already reported as too long
        buffer.clear();
        discarding_ = false;
        scanned_ = 0;
        return std::nullopt;
    }
    if (buffer.empty()) return std::nullopt;
    std::string_view in = buffer.view();
    std::size_t length = in.size();
    if (options_.strip_cr && in.back() == '\r') --length;
    if (length > options_.max_length) {
        buffer.clear();
        scanned_ = 0;
        throw FrameError::limit("last line of " + std::to_string(length) + " bytes", length, "max_length",
                                options_.max_length, options_.overlong == Overlong::discard);
    }
    return take_line(buffer, length, in.size());
}

void LineCodec::encode(std::string_view line, std::string& out) const {
    if (line.find(options_.delimiter) != std::string_view::npos)
        throw std::invalid_argument("LineCodec::encode: the line contains the delimiter");
    out.append(line);
    out.append(options_.encode_delimiter.empty() ? options_.delimiter : options_.encode_delimiter);
}

}  // namespace bulb::protocols
