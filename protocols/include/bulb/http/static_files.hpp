// SPDX-License-Identifier: MIT
/// @file
/// http::StaticFiles: serves the regular files under a root directory (GET/HEAD) with
/// Content-Length, Last-Modified, If-Modified-Since (304), one Range (206/416), MIME types of
/// common extensions, and no way out of the root.
#pragma once

#include <bulb/http/server.hpp>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace bulb::http {

/// Serves files under one directory. The body goes out with Transport::sendfile (sendfile(2)
/// on TCP; on TLS pread + write as the transport drains).
/// Refused with 404: "..", "." segments (also %-encoded: %2e%2e), NUL bytes (%00), backslashes,
/// symlinks that resolve outside the root, anything that is not a regular file (directories
/// give 404: there is no index). Loop thread only; cheap to copy.
class BULB_API StaticFiles {
public:
    /// `root` must be an existing directory (throws std::invalid_argument naming it otherwise).
    explicit StaticFiles(const std::string& root);
    /// Answers `ex` from the file its path names (405 for methods other than GET and HEAD).
    void serve(Exchange& ex) const;
    /// The file under the root that the request path `path` names, or std::nullopt when it must
    /// not be served (see above). The path is %-decoded first.
    std::optional<std::string> resolve(std::string_view path) const;
    /// "text/html; charset=utf-8" for "a.html", application/octet-stream when unknown.
    static std::string_view mime_type(std::string_view path) noexcept;
    /// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), and its parse (nullopt when invalid).
    static std::string http_date(std::time_t t);
    /// Parses an IMF-fixdate; std::nullopt when invalid.
    static std::optional<std::time_t> parse_http_date(std::string_view s);

    /// The directory files are served from.
    const std::string& root() const noexcept { return root_; }

private:
    std::string root_;  ///< real path, no trailing slash
};

}  // namespace bulb::http
