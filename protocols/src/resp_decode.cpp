// SPDX-License-Identifier: MIT
/// @file
/// RESP decoding: any RESP2/RESP3 value, or commands as redis-server reads them (multibulk and
/// inline). A parse starts again from the first byte of a frame each time bytes arrive, but a
/// bulk string that is not complete yet sets how many bytes to wait for, so a large value costs
/// one attempt rather than one per read.
#include <bulb/protocols/resp_codec.hpp>

#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>

namespace bulb::protocols {
namespace {

using Kind = FrameError::Kind;

[[noreturn]] void malformed(const std::string& what) { throw FrameError(Kind::malformed, what); }

[[noreturn]] void over_limit(const std::string& what, std::size_t size, const char* name, std::size_t limit) {
    throw FrameError(Kind::limit_exceeded, what + " (" + name + " " + std::to_string(limit) + ")", false, size);
}

std::string printable(char c) {
    if (std::isprint(static_cast<unsigned char>(c))) return std::string(1, c);
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
    return buf;
}

// A decimal int64 as redis's string2ll takes it: an optional '-', no '+', no leading zero.
std::optional<std::int64_t> parse_int(std::string_view s) {
    if (s.empty() || s.size() > 20) return std::nullopt;
    std::size_t digits = s[0] == '-' ? 1 : 0;
    if (digits == s.size()) return std::nullopt;
    if (s[digits] == '0' && s.size() > digits + 1) return std::nullopt;
    if (s == "-0") return std::nullopt;
    std::int64_t v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

class Parser {
public:
    Parser(const RespCodec::Options& o, std::string_view in) : o_(o), in_(in) {}

    std::size_t pos = 0;   // where the next value starts
    std::size_t need = 0;  // when a parse stops short: the buffer size worth waiting for

    // One value at pos (any type), after the RESP3 attributes ('|') sent before it, which are
    // read in a loop (a chain of them must not deepen the recursion); false when more bytes are
    // needed.
    bool value(RespValue& out, std::size_t depth) {
        std::vector<RespValue> attributes;
        while (pos < in_.size() && in_[pos] == '|') {
            if (depth + 1 > o_.max_depth) too_deep();
            RespValue map;
            if (!aggregate(map, '%', depth)) return false;
            attributes.insert(attributes.end(), std::make_move_iterator(map.elements.begin()),
                              std::make_move_iterator(map.elements.end()));
            if (attributes.size() > 2 * o_.max_aggregate_length)
                over_limit("Protocol error: too many attributes", attributes.size() / 2, "max_aggregate_length",
                           o_.max_aggregate_length);
        }
        if (!plain_value(out, depth)) return false;
        out.attributes = std::move(attributes);
        return true;
    }

    // One value at pos that is not an attribute.
    bool plain_value(RespValue& out, std::size_t depth) {
        if (pos >= in_.size()) return more(pos + 1);
        const char type = in_[pos];
        switch (type) {
        case '+':
        case '-': {
            std::string_view s;
            if (!line(s, "simple string")) return false;
            out.type = type == '+' ? RespType::simple_string : RespType::simple_error;
            out.text.assign(s);
            return true;
        }
        case ':': {
            std::string_view s;
            if (!line(s, "integer")) return false;
            auto v = parse_int(s);
            if (!v) malformed("Protocol error: invalid integer '" + std::string(s.substr(0, 32)) + "'");
            out.type = RespType::integer;
            out.integer = *v;
            return true;
        }
        case '$':
        case '!':
        case '=': return blob(out, type);
        case '*':
        case '~':
        case '>':
        case '%': return aggregate(out, type, depth);
        case '_': {
            std::string_view s;
            if (!line(s, "null")) return false;
            if (!s.empty()) malformed("Protocol error: null with a payload");
            out.type = RespType::null;
            return true;
        }
        case '#': {
            std::string_view s;
            if (!line(s, "boolean")) return false;
            if (s != "t" && s != "f") malformed("Protocol error: invalid boolean '" + std::string(s.substr(0, 32)) + "'");
            out.type = RespType::boolean;
            out.integer = s == "t";
            return true;
        }
        case ',': {
            std::string_view s;
            if (!line(s, "double")) return false;
            out.type = RespType::double_number;
            out.number = parse_double(s);
            return true;
        }
        case '(': {
            std::string_view s;
            if (!line(s, "big number")) return false;
            std::size_t i = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
            bool ok = i < s.size();
            for (std::size_t j = i; j < s.size(); ++j) ok = ok && s[j] >= '0' && s[j] <= '9';
            if (!ok) malformed("Protocol error: invalid big number '" + std::string(s.substr(0, 32)) + "'");
            out.type = RespType::big_number;
            out.text.assign(s);
            return true;
        }
        default: malformed("Protocol error: unknown RESP type byte '" + printable(type) + "'");
        }
    }

    // A command: a multibulk of bulk strings (redis's processMultibulkBuffer).
    // Returns false when more bytes are needed; `out` empty for an empty request ("*0").
    bool multibulk(RespValue& out) {
        std::string_view s;
        if (!header(s, "Protocol error: too big mbulk count string")) return false;
        auto count = parse_int(s);
        if (!count || *count > INT_MAX) malformed("Protocol error: invalid multibulk length");
        out.type = RespType::array;
        if (*count <= 0) return true;
        auto n = static_cast<std::size_t>(*count);
        if (n > o_.max_aggregate_length)
            over_limit("Protocol error: invalid multibulk length", n, "max_aggregate_length", o_.max_aggregate_length);
        out.elements.reserve(std::min(n, (in_.size() - pos) / 4 + 1));
        for (std::size_t i = 0; i < n; ++i) {
            if (pos >= in_.size()) return more(pos + 1);
            if (in_[pos] != '$') malformed("Protocol error: expected '$', got '" + printable(in_[pos]) + "'");
            if (!header(s, "Protocol error: too big bulk count string")) return false;
            auto length = parse_int(s);
            if (!length || *length < 0 || *length > INT64_MAX / 2) malformed("Protocol error: invalid bulk length");
            auto len = static_cast<std::size_t>(*length);
            if (len > o_.max_bulk_length)
                over_limit("Protocol error: invalid bulk length", len, "max_bulk_length", o_.max_bulk_length);
            if (in_.size() - pos < len + 2) return more(pos + len + 2);
            if (in_[pos + len] != '\r' || in_[pos + len + 1] != '\n')
                malformed("Protocol error: bulk string not followed by CRLF");
            RespValue arg;
            arg.type = RespType::bulk_string;
            arg.text.assign(in_.substr(pos, len));
            out.elements.push_back(std::move(arg));
            pos += len + 2;
        }
        return true;
    }

private:
    bool more(std::size_t n) {
        need = n;
        return false;
    }

    [[noreturn]] void too_deep() const {
        throw FrameError(Kind::limit_exceeded,
                         "Protocol error: aggregates nested deeper than max_depth (" + std::to_string(o_.max_depth) + ")",
                         false, o_.max_depth + 1);
    }

    // The line after the type byte at pos, up to CRLF; pos moves past the CRLF.
    bool header(std::string_view& s, const char* too_long) {
        std::size_t start = pos + 1;
        std::size_t cr = in_.find('\r', start);
        std::size_t length = (cr == std::string_view::npos ? in_.size() : cr) - start;
        if (length > o_.max_inline_length) over_limit(too_long, length, "max_inline_length", o_.max_inline_length);
        if (cr == std::string_view::npos) return more(in_.size() + 1);
        if (cr + 1 >= in_.size()) return more(cr + 2);
        if (in_[cr + 1] != '\n') malformed("Protocol error: CR not followed by LF");
        s = in_.substr(start, length);
        pos = cr + 2;
        return true;
    }
    bool line(std::string_view& s, const char* what) {
        std::string too_long = std::string("Protocol error: too big ") + what + " line";
        std::size_t start = pos + 1;
        std::size_t cr = in_.find('\r', start);
        std::size_t length = (cr == std::string_view::npos ? in_.size() : cr) - start;
        if (length > o_.max_inline_length) over_limit(too_long, length, "max_inline_length", o_.max_inline_length);
        if (cr == std::string_view::npos) return more(in_.size() + 1);
        std::size_t lf = in_.find('\n', start);
        if (lf != std::string_view::npos && lf < cr) malformed(std::string("Protocol error: LF inside a ") + what);
        return header(s, too_long.c_str());
    }

    bool blob(RespValue& out, char type) {
        std::string_view s;
        if (!line(s, "bulk length")) return false;
        if (s == "?") malformed("Protocol error: streamed RESP3 strings are not supported");
        auto length = parse_int(s);
        if (!length || *length < -1 || *length > INT64_MAX / 2) malformed("Protocol error: invalid bulk length");
        if (*length == -1) {
            if (type != '$') malformed("Protocol error: invalid bulk length");
            out.type = RespType::null;  // RESP2's null bulk string
            return true;
        }
        auto len = static_cast<std::size_t>(*length);
        if (len > o_.max_bulk_length)
            over_limit("Protocol error: invalid bulk length", len, "max_bulk_length", o_.max_bulk_length);
        if (in_.size() - pos < len + 2) return more(pos + len + 2);
        if (in_[pos + len] != '\r' || in_[pos + len + 1] != '\n')
            malformed("Protocol error: bulk string not followed by CRLF");
        std::string_view payload = in_.substr(pos, len);
        if (type == '=' && (len < 4 || payload[3] != ':'))
            malformed("Protocol error: verbatim string without a 3-letter format and ':'");
        out.type = type == '$' ? RespType::bulk_string : type == '!' ? RespType::bulk_error : RespType::verbatim_string;
        out.text.assign(payload);
        pos += len + 2;
        return true;
    }

    bool aggregate(RespValue& out, char type, std::size_t depth) {
        std::string_view s;
        if (!line(s, "aggregate length")) return false;
        if (s == "?") malformed("Protocol error: streamed RESP3 aggregates are not supported");
        auto count = parse_int(s);
        if (!count || *count < -1) malformed("Protocol error: invalid multibulk length");
        if (*count == -1) {
            if (type != '*') malformed("Protocol error: invalid multibulk length");
            out.type = RespType::null;  // RESP2's null array
            return true;
        }
        auto n = static_cast<std::size_t>(*count);
        if (n > o_.max_aggregate_length)
            over_limit("Protocol error: invalid multibulk length", n, "max_aggregate_length", o_.max_aggregate_length);
        if (depth + 1 > o_.max_depth) too_deep();
        out.type = type == '*' ? RespType::array : type == '~' ? RespType::set : type == '>' ? RespType::push : RespType::map;
        const std::size_t elements = type == '%' ? 2 * n : n;
        out.elements.clear();
        out.elements.reserve(std::min(elements, (in_.size() - pos) / 3 + 1));  // no huge reserve from a count alone
        for (std::size_t i = 0; i < elements; ++i) {
            out.elements.emplace_back();
            if (!value(out.elements.back(), depth + 1)) return false;
        }
        return true;
    }

    double parse_double(std::string_view s) {
        if (s == "inf" || s == "+inf") return HUGE_VAL;
        if (s == "-inf") return -HUGE_VAL;
        if (s == "nan" || s == "-nan") return std::nan("");
        double d = 0;
        auto r = std::from_chars(s.data(), s.data() + s.size(), d);
        if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || std::isnan(d) || std::isinf(d))
            malformed("Protocol error: invalid double '" + std::string(s.substr(0, 32)) + "'");
        return d;
    }

    const RespCodec::Options& o_;
    std::string_view in_;
};

}  // namespace

std::optional<RespValue> RespCodec::decode(FrameBuffer& buffer) {
    for (;;) {
        std::string_view in = buffer.view();
        if (in.empty() || in.size() < need_) return std::nullopt;
        need_ = 0;
        Parser p(options_, in);
        RespValue v;
        if (!options_.requests) {
            if (!p.value(v, 0)) {
                need_ = p.need;
                return std::nullopt;
            }
            buffer.consume(p.pos);
            return v;
        }
        if (in[0] == '*') {
            if (!p.multibulk(v)) {
                need_ = p.need;
                return std::nullopt;
            }
            buffer.consume(p.pos);
            if (v.elements.empty()) continue;  // "*0" and "*-1": nothing to run (redis skips them)
            return v;
        }
        // An inline command: one line of words (redis's processInlineBuffer).
        std::size_t lf = in.find('\n');
        std::size_t length = lf == std::string_view::npos ? in.size() : lf;
        if (length > options_.max_inline_length)
            over_limit("Protocol error: too big inline request", length, "max_inline_length", options_.max_inline_length);
        if (lf == std::string_view::npos) {
            need_ = in.size() + 1;
            return std::nullopt;
        }
        std::string_view line = in.substr(0, lf);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        auto words = resp::split_inline(line);
        if (!words) malformed("Protocol error: unbalanced quotes in request");
        buffer.consume(lf + 1);
        if (words->empty()) continue;  // an empty line (redis ignores it)
        v.type = RespType::array;
        v.elements.reserve(words->size());
        for (std::string& w : *words) v.elements.push_back(RespValue::bulk(std::move(w)));
        return v;
    }
}

std::optional<RespValue> RespCodec::decode_eof(FrameBuffer& buffer) {
    need_ = 0;
    if (buffer.empty()) return std::nullopt;
    throw FrameError::truncated("end of stream inside a RESP value", buffer.size());
}

namespace resp {
namespace {

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }
int hex_value(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

}  // namespace

std::optional<std::vector<std::string>> split_inline(std::string_view line) {
    // redis reads the line as a C string: it ends at the first NUL.
    if (std::size_t nul = line.find('\0'); nul != std::string_view::npos) line = line.substr(0, nul);
    std::vector<std::string> words;
    std::size_t i = 0;
    const std::size_t n = line.size();
    auto at = [&](std::size_t k) { return k < n ? line[k] : '\0'; };
    for (;;) {
        while (i < n && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
        if (i == n) return words;
        std::string word;
        bool in_double = false, in_single = false, done = false;
        while (!done) {
            char c = at(i);
            if (in_double) {
                if (c == '\\' && at(i + 1) == 'x' && is_hex(at(i + 2)) && is_hex(at(i + 3))) {
                    word.push_back(static_cast<char>(hex_value(at(i + 2)) * 16 + hex_value(at(i + 3))));
                    i += 3;
                } else if (c == '\\' && at(i + 1) != '\0') {
                    ++i;
                    switch (at(i)) {
                    case 'n': word.push_back('\n'); break;
                    case 'r': word.push_back('\r'); break;
                    case 't': word.push_back('\t'); break;
                    case 'b': word.push_back('\b'); break;
                    case 'a': word.push_back('\a'); break;
                    default: word.push_back(at(i)); break;
                    }
                } else if (c == '"') {
                    // The closing quote must be followed by a space or end the line.
                    if (at(i + 1) != '\0' && !std::isspace(static_cast<unsigned char>(at(i + 1)))) return std::nullopt;
                    done = true;
                } else if (c == '\0') {
                    return std::nullopt;  // unterminated quotes
                } else {
                    word.push_back(c);
                }
            } else if (in_single) {
                if (c == '\\' && at(i + 1) == '\'') {
                    ++i;
                    word.push_back('\'');
                } else if (c == '\'') {
                    if (at(i + 1) != '\0' && !std::isspace(static_cast<unsigned char>(at(i + 1)))) return std::nullopt;
                    done = true;
                } else if (c == '\0') {
                    return std::nullopt;
                } else {
                    word.push_back(c);
                }
            } else {
                switch (c) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                case '\0': done = true; break;
                case '"': in_double = true; break;
                case '\'': in_single = true; break;
                default: word.push_back(c); break;
                }
            }
            if (i < n) ++i;
        }
        words.push_back(std::move(word));
    }
}

}  // namespace resp
}  // namespace bulb::protocols
