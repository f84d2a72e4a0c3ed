// SPDX-License-Identifier: MIT
// The strict HTTP/1.1 parsers: heads are parsed whole once their final CRLF CRLF is in, bodies
// are handed out as they arrive; the grammar is RFC 9112's, the framing rules RFC 9112 6.
#include <bulb/http/parser.hpp>

#include <cstdio>
#include <limits>
#include <vector>

namespace bulb::http {

using protocols::FrameBuffer;
using protocols::FrameError;

namespace {

// tchar (RFC 9110 5.6.2).
bool is_tchar(unsigned char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
        case '.': case '^': case '_': case '`': case '|': case '~': return true;
        default: return false;
    }
}

bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        if (!is_tchar(c)) return false;
    }
    return true;
}

// field-vchar, SP and HTAB (obs-text allowed, RFC 9110 5.5).
bool is_value_char(unsigned char c) noexcept { return c == '\t' || (c >= 0x20 && c != 0x7f); }

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string byte_name(unsigned char c) {
    char text[8];
    std::snprintf(text, sizeof text, "0x%02x", c);
    return text;
}

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

[[noreturn]] void fail(int status, const std::string& what) { throw ParseError(status, what); }

[[noreturn]] void fail_limit(int status, std::string_view what, std::size_t size, std::string_view option,
                             std::size_t limit) {
    throw ParseError(status, std::string(what) + " of " + std::to_string(size) + " bytes exceeds " +
                                 std::string(option) + " (" + std::to_string(limit) + ")",
                     FrameError::Kind::limit_exceeded);
}

// "HTTP/1.x" -> x (0 or 1; higher minors of 1 count as 1, RFC 9110 6.2); throws otherwise.
int parse_version(std::string_view v) {
    if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !is_digit(v[5]) || v[6] != '.' || !is_digit(v[7]))
        fail(400, "invalid HTTP version \"" + std::string(v.substr(0, 16)) + "\"");
    if (v[5] != '1') fail(505, "HTTP version " + std::string(v.substr(5)) + " is not supported");
    return v[7] == '0' ? 0 : 1;
}

// A decimal Content-Length (1*DIGIT), or throws.
std::uint64_t parse_content_length(std::string_view v) {
    if (v.empty()) fail(400, "empty Content-Length");
    std::uint64_t n = 0;
    for (char c : v) {
        if (!is_digit(c)) fail(400, "Content-Length \"" + std::string(v.substr(0, 32)) + "\" is not a number");
        if (n > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) fail(400, "Content-Length overflows");
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}

// quoted-string at the front of `s` (RFC 9110 5.6.4): its size, or 0 when invalid.
std::size_t quoted_string_size(std::string_view s) noexcept {
    if (s.empty() || s[0] != '"') return 0;
    for (std::size_t i = 1; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == '"') return i + 1;
        if (c == '\\') {
            if (++i == s.size()) return 0;
            c = static_cast<unsigned char>(s[i]);
            if (!is_value_char(c)) return 0;
        } else if (!is_value_char(c)) {
            return 0;
        }
    }
    return 0;
}

std::size_t skip_bws(std::string_view s, std::size_t i) noexcept {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    return i;
}

std::size_t token_end(std::string_view s, std::size_t i) noexcept {
    while (i < s.size() && is_tchar(static_cast<unsigned char>(s[i]))) ++i;
    return i;
}

// chunk-ext (RFC 9112 7.1.1): *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ).
bool valid_chunk_extensions(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        i = skip_bws(s, i);
        if (i == s.size() || s[i] != ';') return false;
        i = skip_bws(s, i + 1);
        std::size_t end = token_end(s, i);
        if (end == i) return false;
        i = skip_bws(s, end);
        if (i < s.size() && s[i] == '=') {
            i = skip_bws(s, i + 1);
            if (i < s.size() && s[i] == '"') {
                std::size_t q = quoted_string_size(s.substr(i));
                if (q == 0) return false;
                i += q;
            } else {
                end = token_end(s, i);
                if (end == i) return false;
                i = end;
            }
        } else if (i < s.size() && s[i] != ';') {
            return false;
        }
    }
    return true;
}

std::string hex(std::uint64_t n) {
    char text[24];
    std::snprintf(text, sizeof text, "%llx", static_cast<unsigned long long>(n));
    return text;
}

// What Connection and the version say about the connection after this message.
bool connection_keep_alive(const Fields& fields, int version_minor) noexcept {
    bool close = fields.has_token("connection", "close");
    return version_minor >= 1 ? !close : (!close && fields.has_token("connection", "keep-alive"));
}

}  // namespace

ParseError::ParseError(int status, const std::string& what, Kind kind)
    : FrameError(kind, what, false), status_(status) {}

bool MessageParser::in_message() const noexcept {
    return (state_ != State::head && state_ != State::closed && state_ != State::upgrade_wait) || head_scan_ > 0;
}

std::size_t MessageParser::find_head(std::string_view in, bool trailers) {
    std::size_t first_line_max = options_.max_request_line;
    for (;;) {
        std::size_t lf = in.find('\n', head_scan_);
        if (lf == std::string_view::npos) {
            head_scan_ = in.size();
            break;
        }
        // Limits first, on the bytes before this LF: a parse fed fewer bytes would have stopped
        // there already, so any split gives the same error.
        if (!trailers && head_line_end_ == 0) {
            if (lf > first_line_max + 1) fail_limit(414, "the first line", lf - 1, "max_request_line", first_line_max);
        } else if (lf - head_line_end_ > options_.max_header_bytes) {
            fail_limit(431, trailers ? "the trailer section" : "the header section", lf - head_line_end_,
                       "max_header_bytes", options_.max_header_bytes);
        }
        if (lf == 0 || in[lf - 1] != '\r') fail(400, "bare LF where CRLF is required");
        head_scan_ = lf + 1;
        if (!trailers && head_line_end_ == 0) {
            head_line_end_ = lf + 1;
            line_start_ = lf + 1;
            continue;
        }
        bool empty_line = lf - 1 == line_start_;
        line_start_ = lf + 1;
        std::size_t section = lf + 1 - head_line_end_;
        if (section > options_.max_header_bytes)
            fail_limit(431, trailers ? "the trailer section" : "the header section", section, "max_header_bytes",
                       options_.max_header_bytes);
        if (empty_line) {
            std::size_t size = lf + 1;
            head_scan_ = head_line_end_ = line_start_ = 0;
            return size;
        }
    }
    if (!trailers && head_line_end_ == 0) {
        if (in.size() > first_line_max + 1)
            fail_limit(414, "the first line", in.size() - 1, "max_request_line", first_line_max);
    } else if (in.size() - head_line_end_ > options_.max_header_bytes) {
        fail_limit(431, trailers ? "the trailer section" : "the header section", in.size() - head_line_end_,
                   "max_header_bytes", options_.max_header_bytes);
    }
    return 0;
}

void MessageParser::parse_fields(Fields& fields, std::size_t at, bool trailers) const {
    std::string_view all = fields.storage();
    for (;;) {
        std::size_t cr = all.find("\r\n", at);  // find_head made sure every LF has its CR
        if (cr == at) return;
        std::string_view line = all.substr(at, cr - at);
        if (line[0] == ' ' || line[0] == '\t') fail(400, "obs-fold (a field line starting with whitespace)");
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) fail(400, "field line without a colon");
        std::string_view name = line.substr(0, colon);
        if (name.empty()) fail(400, "empty field name");
        if (name.back() == ' ' || name.back() == '\t') fail(400, "whitespace before the colon of a field name");
        for (unsigned char c : name) {
            if (c == '\r') fail(400, "bare CR in a field name");
            if (!is_tchar(c)) fail(400, "invalid byte " + byte_name(c) + " in a field name");
        }
        std::string_view value = trim_ows(line.substr(colon + 1));
        for (unsigned char c : value) {
            if (c == '\r') fail(400, "bare CR in the value of " + std::string(name));
            if (!is_value_char(c)) fail(400, "invalid byte " + byte_name(c) + " in the value of " + std::string(name));
        }
        if (fields.size() == options_.max_header_count)
            fail_limit(431, trailers ? "the trailer section" : "the header section", all.size(), "max_header_count",
                       options_.max_header_count);
        fields.add(at, name.size(), static_cast<std::size_t>(value.data() - all.data()), value.size());
        at = cr + 2;
    }
}

void MessageParser::read_framing(const Fields& fields, int version_minor, bool request, Framing& framing) const {
    std::size_t te_lines = fields.count("transfer-encoding");
    std::size_t cl_lines = fields.count("content-length");
    if (te_lines > 0 && cl_lines > 0) fail(400, "both Content-Length and Transfer-Encoding");
    if (te_lines > 0) {
        if (version_minor == 0) fail(400, "Transfer-Encoding in an HTTP/1.0 message");
        std::vector<std::string_view> codings;
        for (std::size_t i = 0; i < fields.size(); ++i) {
            if (!iequals(fields.name(i), "transfer-encoding")) continue;
            std::string_view list = fields.value(i);
            while (!list.empty()) {
                std::size_t comma = list.find(',');
                std::string_view coding = trim_ows(list.substr(0, comma));
                if (!coding.empty()) codings.push_back(coding);
                if (comma == std::string_view::npos) break;
                list.remove_prefix(comma + 1);
            }
        }
        if (codings.empty()) fail(400, "empty Transfer-Encoding");
        for (std::size_t i = 0; i + 1 < codings.size(); ++i) {
            if (iequals(codings[i], "chunked")) fail(400, "Transfer-Encoding applies chunked before another coding");
        }
        if (iequals(codings.back(), "chunked")) {
            framing.body = BodyFraming::chunked;
            // Codings under chunked (gzip, ...) are not implemented (RFC 9112 6.1: 501).
            if (request && codings.size() > 1)
                fail(501, "transfer coding \"" + std::string(codings.front().substr(0, 32)) + "\" is not implemented");
        } else if (request) {
            fail(400, "Transfer-Encoding whose last coding is not chunked");
        } else {
            framing.body = BodyFraming::until_close;
        }
    } else if (cl_lines > 0) {
        if (cl_lines > 1) fail(400, "several Content-Length fields");
        framing.content_length = parse_content_length(*fields.get("content-length"));
        framing.body = framing.content_length > 0 ? BodyFraming::content_length : BodyFraming::none;
        if (framing.content_length > options_.max_body_size)
            fail_limit(413, "a body", framing.content_length, "max_body_size", options_.max_body_size);
    } else {
        framing.body = request ? BodyFraming::none : BodyFraming::until_close;
    }
    framing.keep_alive = connection_keep_alive(fields, version_minor);
    if (framing.body == BodyFraming::until_close) framing.keep_alive = false;
    framing.upgrade = fields.has_token("connection", "upgrade") && fields.count("upgrade") > 0;
}

void MessageParser::start_body(const Framing& framing) {
    keep_alive_ = framing.keep_alive;
    upgrade_ = framing.upgrade;
    body_total_ = 0;
    switch (framing.body) {
        case BodyFraming::none: state_ = State::end; break;
        case BodyFraming::content_length:
            remaining_ = framing.content_length;
            state_ = State::body_length;
            break;
        case BodyFraming::chunked: state_ = State::chunk_size; break;
        case BodyFraming::until_close: state_ = State::until_close; break;
    }
}

void MessageParser::finish_message() noexcept {
    if (tunnel_next_) {
        tunnel_next_ = false;
        state_ = State::tunnel;
    } else if (upgrade_) {
        state_ = State::upgrade_wait;
    } else {
        state_ = keep_alive_ ? State::head : State::closed;
    }
}

bool MessageParser::read_chunk_size(FrameBuffer& in) {
    std::string_view v = in.view();
    std::size_t lf = v.find('\n');
    if (lf == std::string_view::npos) {
        if (v.size() > options_.max_chunk_line + 1)
            fail_limit(400, "a chunk-size line", v.size(), "max_chunk_line", options_.max_chunk_line);
        return false;
    }
    if (lf == 0 || v[lf - 1] != '\r') fail(400, "bare LF in a chunk-size line");
    std::string_view line = v.substr(0, lf - 1);
    if (line.size() > options_.max_chunk_line)
        fail_limit(400, "a chunk-size line", line.size(), "max_chunk_line", options_.max_chunk_line);
    std::uint64_t size = 0;
    std::size_t i = 0;
    for (; i < line.size() && hex_value(line[i]) >= 0; ++i) {
        if (size > (std::numeric_limits<std::uint64_t>::max() >> 4)) fail(400, "chunk size overflows");
        size = (size << 4) | static_cast<std::uint64_t>(hex_value(line[i]));
    }
    if (i == 0) fail(400, "chunk-size line without a hexadecimal size");
    if (!valid_chunk_extensions(line.substr(i))) fail(400, "junk after a chunk size");
    in.consume(lf + 1);
    if (size > options_.max_body_size - body_total_)
        fail_limit(413, "a chunked body", body_total_ + size, "max_body_size", options_.max_body_size);
    body_total_ += size;
    if (size == 0) {
        state_ = State::trailers;
        head_scan_ = head_line_end_ = line_start_ = 0;
    } else {
        remaining_ = size;
        state_ = State::chunk_data;
    }
    return true;
}

template <class Event>
std::optional<Event> MessageParser::decode_body(FrameBuffer& in) {
    for (;;) {
        switch (state_) {
            case State::body_length:
            case State::chunk_data: {
                if (in.empty()) return std::nullopt;
                std::size_t n = in.size() < remaining_ ? in.size() : static_cast<std::size_t>(remaining_);
                BodyPart part{std::string(in.view().substr(0, n))};
                in.consume(n);
                remaining_ -= n;
                if (remaining_ == 0) state_ = state_ == State::body_length ? State::end : State::chunk_data_end;
                return Event(std::move(part));
            }
            case State::until_close: {
                if (in.empty()) return std::nullopt;
                if (in.size() > options_.max_body_size - body_total_)
                    fail_limit(413, "a body", body_total_ + in.size(), "max_body_size", options_.max_body_size);
                body_total_ += in.size();
                BodyPart part{std::string(in.view())};
                in.consume(in.size());
                return Event(std::move(part));
            }
            case State::chunk_data_end: {
                std::string_view v = in.view();
                if (v.empty()) return std::nullopt;
                if (v[0] != '\r' || (v.size() > 1 && v[1] != '\n')) fail(400, "chunk data not followed by CRLF");
                if (v.size() < 2) return std::nullopt;
                in.consume(2);
                state_ = State::chunk_size;
                break;
            }
            case State::chunk_size:
                if (!read_chunk_size(in)) return std::nullopt;
                break;
            case State::trailers: {
                std::size_t size = find_head(in.view(), true);
                if (size == 0) return std::nullopt;
                MessageEnd end;
                end.trailers.assign_storage(std::string(in.view().substr(0, size)));
                in.consume(size);
                parse_fields(end.trailers, 0, true);
                finish_message();
                return Event(std::move(end));
            }
            case State::end:
                finish_message();
                return Event(MessageEnd{});
            case State::tunnel: {
                if (in.empty()) return std::nullopt;
                TunnelData data{std::string(in.view())};
                in.consume(in.size());
                return Event(std::move(data));
            }
            case State::closed:
                in.consume(in.size());  // after Connection: close nothing more is parsed
                return std::nullopt;
            case State::upgrade_wait:
            case State::head: return std::nullopt;
        }
    }
}

template <class Event>
std::optional<Event> MessageParser::decode_eof_common(FrameBuffer& in) {
    switch (state_) {
        case State::until_close:
            finish_message();
            state_ = State::closed;
            return Event(MessageEnd{});
        case State::closed:
        case State::upgrade_wait:
        case State::tunnel: return std::nullopt;
        case State::head:
            if (in.empty() && head_scan_ == 0) return std::nullopt;
            [[fallthrough]];
        default:
            throw ParseError(400, "end of stream inside a message", FrameError::Kind::truncated);
    }
}

void MessageParser::encode_body(bool chunked, const BodyPart* part, const MessageEnd* end, std::string& out) const {
    if (part) {
        if (!chunked) {
            out += part->data;
        } else if (!part->data.empty()) {
            out += hex(part->data.size());
            out += "\r\n";
            out += part->data;
            out += "\r\n";
        }
    } else if (end && chunked) {
        out += "0\r\n";
        out += end->trailers.storage();  // the trailer lines with their final CRLF
        if (end->trailers.storage().empty()) out += "\r\n";
    }
}

// ---- requests -------------------------------------------------------------------------------

std::optional<RequestEvent> RequestParser::decode(FrameBuffer& in) {
    if (state_ != State::head) return decode_body<RequestEvent>(in);
    // RFC 9112 2.2: empty lines before a request line are ignored.
    while (head_scan_ == 0 && in.size() >= 2 && in.view().substr(0, 2) == "\r\n") in.consume(2);
    if (head_scan_ == 0 && in.view() == "\r") return std::nullopt;  // perhaps another empty line
    std::size_t size = find_head(in.view(), false);
    if (size == 0) return std::nullopt;
    RequestHead head = parse_head(std::string(in.view().substr(0, size)));
    in.consume(size);
    start_body(head.framing);
    return RequestEvent(std::move(head));
}

RequestHead RequestParser::parse_head(std::string bytes) {
    RequestHead head;
    head.fields.assign_storage(std::move(bytes));
    std::string_view all = head.fields.storage();
    std::string_view line = all.substr(0, all.find("\r\n"));
    std::size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) fail(400, "request line without spaces");
    std::size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) fail(400, "request line without an HTTP version");
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    for (unsigned char c : line) {
        if (c == '\r') fail(400, "bare CR in the request line");
    }
    if (!is_token(method)) fail(400, "invalid method");
    if (target.empty()) fail(400, "empty request target");
    for (unsigned char c : target) {
        if (c <= 0x20 || c >= 0x7f) fail(400, "invalid byte " + byte_name(c) + " in the request target");
    }
    head.version_minor = parse_version(line.substr(sp2 + 1));
    head.method = method;
    head.target = target;
    if (method == "CONNECT") {
        if (target[0] == '/' || target.find(':') == std::string_view::npos || target.find('/') != std::string_view::npos)
            fail(400, "CONNECT needs an authority-form target (host:port)");
        head.form = TargetForm::authority;
    } else if (target == "*") {
        if (method != "OPTIONS") fail(400, "asterisk-form target with a method other than OPTIONS");
        head.form = TargetForm::asterisk;
    } else if (target[0] == '/') {
        head.form = TargetForm::origin;
    } else {
        std::size_t colon = target.find("://");
        if (colon == std::string_view::npos || colon == 0) fail(400, "invalid request target");
        for (std::size_t i = 0; i < colon; ++i) {
            char c = target[i];
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (i > 0 && (is_digit(c) || c == '+' || c == '-' || c == '.'));
            if (!ok) fail(400, "invalid scheme in an absolute-form target");
        }
        head.form = TargetForm::absolute;
    }
    parse_fields(head.fields, line.size() + 2, false);
    std::size_t hosts = head.fields.count("host");
    if (hosts > 1) fail(400, "several Host fields");
    if (hosts == 0 && head.version_minor == 1) fail(400, "HTTP/1.1 request without Host");
    if (hosts == 1) {
        std::string_view host = *head.fields.get("host");
        for (char c : host) {
            if (c == ' ' || c == '\t' || c == ',' || c == '/' || c == '@' || c == '\\')
                fail(400, "invalid Host field");
        }
    }
    read_framing(head.fields, head.version_minor, true, head.framing);
    if (method == "CONNECT") head.framing.upgrade = true;
    if (auto expect = head.fields.get("expect")) {
        if (!iequals(*expect, "100-continue") || head.fields.count("expect") > 1)
            fail(417, "unsupported expectation \"" + std::string(expect->substr(0, 32)) + "\"");
        head.framing.expect_continue = head.version_minor >= 1;  // HTTP/1.0: ignored (RFC 9110 10.1.1)
    }
    return head;
}

std::optional<RequestEvent> RequestParser::decode_eof(FrameBuffer& in) { return decode_eof_common<RequestEvent>(in); }

void RequestParser::encode(const RequestEvent& event, std::string& out) {
    if (auto* head = std::get_if<RequestHead>(&event)) {
        out += head->fields.storage();
        encode_chunked_ = head->framing.body == BodyFraming::chunked;
    } else if (auto* tunnel = std::get_if<TunnelData>(&event)) {
        out += tunnel->data;
    } else {
        encode_body(encode_chunked_, std::get_if<BodyPart>(&event), std::get_if<MessageEnd>(&event), out);
    }
}

// ---- responses ------------------------------------------------------------------------------

std::optional<ResponseEvent> ResponseParser::decode(FrameBuffer& in) {
    if (state_ != State::head) return decode_body<ResponseEvent>(in);
    std::size_t size = find_head(in.view(), false);
    if (size == 0) return std::nullopt;
    ResponseHead head = parse_head(std::string(in.view().substr(0, size)));
    in.consume(size);
    std::string method = methods_.empty() ? std::string("GET") : methods_.front();
    bool interim = head.status >= 100 && head.status < 200 && head.status != 101;
    if (!interim && !methods_.empty()) methods_.pop_front();
    // Messages without a body whatever their fields say (RFC 9112 6.3 items 1 and 2).
    if (interim) {
        head.framing = Framing{BodyFraming::none, 0, true, false, false};
    } else if (head.status == 101 || (method == "CONNECT" && head.status < 300)) {
        head.framing = Framing{BodyFraming::none, 0, true, true, false};
    } else if (method == "HEAD" || head.status == 204 || head.status == 304) {
        head.framing = Framing{BodyFraming::none, 0, connection_keep_alive(head.fields, head.version_minor), false, false};
    }
    start_body(head.framing);
    if (head.framing.upgrade) {  // MessageEnd, then every byte is TunnelData
        upgrade_ = false;
        tunnel_next_ = true;
    }
    return ResponseEvent(std::move(head));
}

ResponseHead ResponseParser::parse_head(std::string bytes) {
    ResponseHead head;
    head.fields.assign_storage(std::move(bytes));
    std::string_view all = head.fields.storage();
    std::string_view line = all.substr(0, all.find("\r\n"));
    for (unsigned char c : line) {
        if (c == '\r') fail(400, "bare CR in the status line");
    }
    head.version_minor = parse_version(line.substr(0, line.find(' ')));
    if (line.size() < 12 || line[8] != ' ' || !is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) ||
        (line.size() > 12 && line[12] != ' '))
        fail(400, "invalid status line");
    head.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (head.status < 100) fail(400, "invalid status code");
    head.reason = line.size() > 13 ? line.substr(13) : std::string_view();
    for (unsigned char c : head.reason) {
        if (!is_value_char(c)) fail(400, "invalid byte " + byte_name(c) + " in the reason phrase");
    }
    parse_fields(head.fields, line.size() + 2, false);
    read_framing(head.fields, head.version_minor, false, head.framing);
    return head;
}

std::optional<ResponseEvent> ResponseParser::decode_eof(FrameBuffer& in) {
    return decode_eof_common<ResponseEvent>(in);
}

void ResponseParser::encode(const ResponseEvent& event, std::string& out) {
    if (auto* head = std::get_if<ResponseHead>(&event)) {
        out += head->fields.storage();
        encode_chunked_ = head->framing.body == BodyFraming::chunked;
    } else if (auto* tunnel = std::get_if<TunnelData>(&event)) {
        out += tunnel->data;
    } else {
        encode_body(encode_chunked_, std::get_if<BodyPart>(&event), std::get_if<MessageEnd>(&event), out);
    }
}

}  // namespace bulb::http
