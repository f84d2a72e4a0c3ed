// SPDX-License-Identifier: MIT
// Route patterns and the route table. Matching walks the path once per route, segment by
// segment, with no allocation unless the pattern captures (a vector of views).
#include <bulb/http/routes.hpp>

#include <algorithm>
#include <stdexcept>

namespace bulb::http {

namespace {

bool name_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

[[noreturn]] void bad_pattern(std::string_view pattern, const char* why) {
    throw std::invalid_argument("route pattern \"" + std::string(pattern) + "\": " + why);
}

}  // namespace

std::optional<std::string_view> RouteParams::get(std::string_view name) const noexcept {
    for (const auto& [n, v] : items_) {
        if (n == name) return v;
    }
    return std::nullopt;
}

std::string_view RouteParams::at(std::string_view name) const {
    if (auto v = get(name)) return *v;
    throw std::out_of_range("route parameter \"" + std::string(name) + "\": the route captured no such name");
}

RoutePattern::RoutePattern(std::string_view pattern) : text_(pattern) {
    if (pattern.empty() || pattern[0] != '/') bad_pattern(pattern, "it must start with '/'");
    std::size_t pos = 1;
    for (;;) {
        std::size_t end = pattern.find('/', pos);
        bool last = end == std::string_view::npos;
        if (last) end = pattern.size();
        std::string_view seg = pattern.substr(pos, end - pos);
        if (!seg.empty() && seg.front() == '{') {
            if (seg.size() < 3 || seg.back() != '}') bad_pattern(pattern, "a capture is a whole segment: {name}");
            std::string_view name = seg.substr(1, seg.size() - 2);
            Kind kind = Kind::capture;
            if (name.size() > 3 && name.substr(name.size() - 3) == "...") {
                if (!last) bad_pattern(pattern, "{name...} must be the last segment");
                name.remove_suffix(3);
                kind = Kind::rest;
            }
            for (char c : name) {
                if (!name_char(c)) bad_pattern(pattern, "capture names are letters, digits and '_'");
            }
            for (const Segment& s : segments_) {
                if (s.kind != Kind::literal && s.text == name) bad_pattern(pattern, "a capture name is repeated");
            }
            segments_.push_back({kind, std::string(name)});
        } else {
            if (seg.find_first_of("{}") != std::string_view::npos)
                bad_pattern(pattern, "a capture is a whole segment: {name}");
            segments_.push_back({Kind::literal, std::string(seg)});
        }
        if (last) break;
        pos = end + 1;
    }
}

bool RoutePattern::match(std::string_view path, RouteParams& params) const {
    if (path.empty() || path[0] != '/') return false;
    const std::size_t saved = params.items_.size();
    auto miss = [&] {
        params.items_.resize(saved);
        return false;
    };
    std::size_t pos = 1;
    for (std::size_t i = 0; i < segments_.size(); ++i) {
        const Segment& seg = segments_[i];
        if (seg.kind == Kind::rest) {
            params.items_.emplace_back(seg.text, path.substr(pos));
            return true;
        }
        std::size_t end = path.find('/', pos);
        if (end == std::string_view::npos) end = path.size();
        std::string_view piece = path.substr(pos, end - pos);
        if (seg.kind == Kind::literal) {
            if (piece != seg.text) return miss();
        } else {
            if (piece.empty()) return miss();
            params.items_.emplace_back(seg.text, piece);
        }
        bool path_done = end == path.size();
        bool pattern_done = i + 1 == segments_.size();
        // "/files" does not match "/files/{path...}": the path must reach every segment.
        if (path_done || pattern_done) return path_done && pattern_done ? true : miss();
        pos = end + 1;
    }
    return miss();
}

std::string_view routing_path(const RequestHead& head) noexcept {
    switch (head.form) {
    case TargetForm::origin:
        return head.path();
    case TargetForm::absolute: {
        std::string_view t = head.target;
        std::size_t scheme = t.find("://");
        if (scheme == std::string_view::npos) return {};
        std::size_t start = t.find_first_of("/?#", scheme + 3);
        if (start == std::string_view::npos || t[start] != '/') return "/";
        std::size_t end = t.find_first_of("?#", start);
        return t.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    }
    default:
        return {};
    }
}

std::size_t RouteTable::add(std::string_view method, std::string_view pattern) {
    if (method.empty()) throw std::invalid_argument("route for \"" + std::string(pattern) + "\": empty method");
    routes_.push_back({std::string(method), RoutePattern(pattern)});
    return routes_.size() - 1;
}

RouteMatch RouteTable::match(const RequestHead& head) const { return match(head.method, routing_path(head)); }

RouteMatch RouteTable::match(std::string_view method, std::string_view path) const {
    RouteMatch m;
    const bool head_request = method == "HEAD";
    bool path_known = false;
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        const Route& r = routes_[i];
        bool method_ok = r.method == method || (head_request && r.method == "GET");
        if (!method_ok && path_known) continue;  // a 405 is certain already; Allow is built below
        if (!r.pattern.match(path, m.params)) continue;
        if (method_ok) {
            m.outcome = RouteMatch::Outcome::matched;
            m.route = i;
            return m;
        }
        path_known = true;
        m.params = RouteParams();
    }
    if (!path_known) return m;  // not_found
    // 405: every method with a route matching the path, in the order added.
    m.outcome = RouteMatch::Outcome::method_not_allowed;
    std::vector<std::string_view> methods;
    RouteParams scratch;
    for (const Route& r : routes_) {
        if (std::find(methods.begin(), methods.end(), r.method) != methods.end()) continue;
        if (r.pattern.match(path, scratch)) methods.push_back(r.method);
        scratch = RouteParams();
    }
    bool has_get = std::find(methods.begin(), methods.end(), "GET") != methods.end();
    if (has_get && std::find(methods.begin(), methods.end(), "HEAD") == methods.end()) methods.push_back("HEAD");
    for (std::string_view name : methods) {
        if (!m.allow.empty()) m.allow += ", ";
        m.allow += name;
    }
    return m;
}

}  // namespace bulb::http
