// SPDX-License-Identifier: MIT
// The coroutine router: the lookup runs before any task starts; a route's task is returned as
// it is (no extra coroutine frame on the hot path).
#include <bulb/http/coro/router.hpp>

#include <stdexcept>

namespace bulb::http {

namespace {

Task<Response> ready(Response response) { co_return response; }

}  // namespace

CoroRouter& CoroRouter::add(std::string_view method, std::string_view pattern, CoroRouteHandler handler) {
    if (!handler) throw std::invalid_argument("route \"" + std::string(pattern) + "\": empty handler");
    table_.add(method, pattern);
    handlers_.push_back(std::move(handler));
    return *this;
}

CoroRouter& CoroRouter::fallback(CoroHandler handler) {
    fallback_ = std::move(handler);
    return *this;
}

Task<Response> CoroRouter::operator()(Request& request) {
    RouteMatch m = table_.match(request.head());
    switch (m.outcome) {
    case RouteMatch::Outcome::matched:
        return handlers_[m.route](request, std::move(m.params));
    case RouteMatch::Outcome::method_not_allowed: {
        Response r = Response::text(405, "method not allowed\n");
        r.headers.emplace_back("Allow", std::move(m.allow));
        return ready(std::move(r));
    }
    case RouteMatch::Outcome::not_found:
        break;
    }
    if (fallback_) return fallback_(request);
    return ready(Response::text(404, "not found\n"));
}

}  // namespace bulb::http
