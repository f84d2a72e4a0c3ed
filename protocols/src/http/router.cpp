// SPDX-License-Identifier: MIT
// The callback router: RouteTable lookup, then the route's handler, the fallback, 404 or 405.
#include <bulb/http/router.hpp>

#include <stdexcept>

namespace bulb::http {

Router& Router::add(std::string_view method, std::string_view pattern, RouteHandler handler) {
    if (!handler) throw std::invalid_argument("route \"" + std::string(pattern) + "\": empty handler");
    table_.add(method, pattern);
    handlers_.push_back(std::move(handler));
    return *this;
}

Router& Router::fallback(Handler handler) {
    fallback_ = std::move(handler);
    return *this;
}

void Router::operator()(Exchange& ex) {
    RouteMatch m = table_.match(ex.request());
    switch (m.outcome) {
    case RouteMatch::Outcome::matched:
        handlers_[m.route](ex, m.params);
        return;
    case RouteMatch::Outcome::method_not_allowed:
        ex.respond(405, "method not allowed\n", "text/plain", {{"Allow", std::move(m.allow)}});
        return;
    case RouteMatch::Outcome::not_found:
        if (fallback_) return fallback_(ex);
        ex.respond(404, "not found\n");
        return;
    }
}

}  // namespace bulb::http
