// SPDX-License-Identifier: MIT
// Fields lookups, the heads' moves (their views follow the storage) and reason phrases.
#include <bulb/http/message.hpp>

namespace bulb::http {

namespace {

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// A view of `v` re-pointed from the storage at `old_base` to the one at `new_base`.
std::string_view rebase(std::string_view v, const char* old_base, const std::string& storage) noexcept {
    if (v.empty()) return {};
    return std::string_view(storage).substr(static_cast<std::size_t>(v.data() - old_base), v.size());
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

bool list_has_token(std::string_view list, std::string_view token) noexcept {
    while (!list.empty()) {
        std::size_t comma = list.find(',');
        std::string_view element = trim(list.substr(0, comma));
        if (iequals(element, token)) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

std::optional<std::string_view> Fields::get(std::string_view field) const noexcept {
    for (std::size_t i = 0; i < refs_.size(); ++i) {
        if (iequals(name(i), field)) return value(i);
    }
    return std::nullopt;
}

std::size_t Fields::count(std::string_view field) const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < refs_.size(); ++i) n += iequals(name(i), field) ? 1 : 0;
    return n;
}

bool Fields::has_token(std::string_view field, std::string_view token) const noexcept {
    for (std::size_t i = 0; i < refs_.size(); ++i) {
        if (iequals(name(i), field) && list_has_token(value(i), token)) return true;
    }
    return false;
}

RequestHead& RequestHead::operator=(RequestHead&& other) noexcept {
    if (this == &other) return *this;
    const char* old_base = other.fields.storage().data();
    fields = std::move(other.fields);  // a moved std::string may move its bytes (short strings)
    method = rebase(other.method, old_base, fields.storage());
    target = rebase(other.target, old_base, fields.storage());
    form = other.form;
    version_minor = other.version_minor;
    framing = other.framing;
    other.method = other.target = {};
    return *this;
}

ResponseHead& ResponseHead::operator=(ResponseHead&& other) noexcept {
    if (this == &other) return *this;
    const char* old_base = other.fields.storage().data();
    fields = std::move(other.fields);
    reason = rebase(other.reason, old_base, fields.storage());
    status = other.status;
    version_minor = other.version_minor;
    framing = other.framing;
    other.reason = {};
    return *this;
}

std::string_view RequestHead::path() const noexcept {
    if (form != TargetForm::origin) return target;
    return target.substr(0, target.find('?'));
}

std::string_view RequestHead::query() const noexcept {
    if (form != TargetForm::origin) return {};
    std::size_t q = target.find('?');
    return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
        case 100: return "Continue";
        case 101: return "Switching Protocols";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 206: return "Partial Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 411: return "Length Required";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 416: return "Range Not Satisfiable";
        case 417: return "Expectation Failed";
        case 426: return "Upgrade Required";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
    }
}

}  // namespace bulb::http
