// SPDX-License-Identifier: MIT
/// @file
/// LineProtocol framing.
#include <bulb/protocols/line.hpp>

namespace bulb::protocols {

void LineProtocol::connection_made(Transport& transport) { transport_ = &transport; }

void LineProtocol::line_too_long(std::size_t) {
    if (transport_) transport_->close();
}

void LineProtocol::send_line(std::string_view line) {
    std::string out;
    out.reserve(line.size() + 1);
    out.append(line).push_back('\n');
    transport_->write(out);
}

void LineProtocol::deliver(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line_received(line);
}

void LineProtocol::data_received(ByteView data) {
    std::string_view in = as_string_view(data);
    while (!in.empty() && transport_ && !transport_->is_closing()) {
        std::size_t nl = in.find('\n');
        if (discarding_) {  // skip the rest of an over-long line
            if (nl == std::string_view::npos) return;
            discarding_ = false;
            in.remove_prefix(nl + 1);
            continue;
        }
        if (nl == std::string_view::npos) {
            if (partial_.size() + in.size() > max_) {
                std::size_t length = partial_.size() + in.size();
                partial_.clear();
                discarding_ = true;
                line_too_long(length);
                return;
            }
            partial_.append(in);
            return;
        }
        if (partial_.size() + nl > max_) {
            std::size_t length = partial_.size() + nl;
            partial_.clear();
            in.remove_prefix(nl + 1);
            line_too_long(length);
            continue;
        }
        if (partial_.empty()) {
            deliver(in.substr(0, nl));  // the common case: no copy
        } else {
            partial_.append(in.substr(0, nl));
            std::string line = std::move(partial_);
            partial_.clear();
            deliver(line);
        }
        in.remove_prefix(nl + 1);
    }
}

bool LineProtocol::eof_received() {
    if (!partial_.empty() && !discarding_) {
        std::string line = std::move(partial_);
        partial_.clear();
        deliver(line);
    }
    return false;
}

}  // namespace bulb::protocols
