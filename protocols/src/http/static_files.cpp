// SPDX-License-Identifier: MIT
// Static files: path checks on the decoded path and on the real path, conditional and range
// requests (RFC 9110 13.1.3, 14), and a pump that reads the next piece only when the transport
// has drained.
#include <bulb/http/static_files.hpp>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bulb::http {

namespace {

int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Sends [offset, offset + count) of an open file, a piece at a time as the transport drains.
struct FilePump : std::enable_shared_from_this<FilePump> {
    std::shared_ptr<Exchange> ex;
    int fd = -1;
    std::uint64_t offset = 0;
    std::uint64_t remaining = 0;
    std::string piece;

    ~FilePump() {
        if (fd >= 0) ::close(fd);
    }
    void pump() {
        while (remaining > 0 && !ex->connection_gone()) {
            if (ex->write_paused()) {
                ex->on_drain([self = shared_from_this()] { self->pump(); });
                return;
            }
            std::size_t want = remaining < 64 * 1024 ? static_cast<std::size_t>(remaining) : 64 * 1024;
            piece.resize(want);
            ssize_t n = ::pread(fd, piece.data(), want, static_cast<off_t>(offset));
            if (n <= 0) {  // the file shrank or failed under us: the response cannot be completed
                if (n < 0 && errno == EINTR) continue;
                ex->transport().abort();
                return;
            }
            offset += static_cast<std::uint64_t>(n);
            remaining -= static_cast<std::uint64_t>(n);
            ex->write(std::string_view(piece.data(), static_cast<std::size_t>(n)));
        }
        if (!ex->connection_gone()) ex->finish();
    }
};

// "bytes=a-b" for a file of `size` bytes: [first, last] or nullopt when it cannot be met;
// `ignored` when the field is not one byte range (then the whole file is sent).
struct ByteRange {
    std::uint64_t first = 0, last = 0;
    bool satisfiable = true;
};
std::optional<ByteRange> parse_range(std::string_view v, std::uint64_t size) {
    if (v.substr(0, 6) != "bytes=") return std::nullopt;
    v.remove_prefix(6);
    if (v.find(',') != std::string_view::npos) return std::nullopt;  // several ranges: send it all
    std::size_t dash = v.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    auto number = [](std::string_view s, std::uint64_t& out) {
        if (s.empty() || s.size() > 19) return false;
        out = 0;
        for (char c : s) {
            if (c < '0' || c > '9') return false;
            out = out * 10 + static_cast<std::uint64_t>(c - '0');
        }
        return true;
    };
    ByteRange r;
    std::uint64_t a = 0, b = 0;
    if (dash == 0) {  // suffix: the last b bytes
        if (!number(v.substr(1), b)) return std::nullopt;
        if (b == 0 || size == 0) return ByteRange{0, 0, false};
        r.first = b >= size ? 0 : size - b;
        r.last = size - 1;
        return r;
    }
    if (!number(v.substr(0, dash), a)) return std::nullopt;
    if (dash + 1 == v.size()) {
        b = size == 0 ? 0 : size - 1;
    } else if (!number(v.substr(dash + 1), b) || b < a) {
        return std::nullopt;
    }
    if (a >= size) return ByteRange{0, 0, false};
    r.first = a;
    r.last = b >= size ? size - 1 : b;
    return r;
}

}  // namespace

StaticFiles::StaticFiles(const std::string& root) {
    char real[PATH_MAX];
    struct stat st;
    if (!::realpath(root.c_str(), real) || ::stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        throw std::invalid_argument("StaticFiles: " + root + " is not a directory");
    root_ = real;
    if (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::optional<std::string> StaticFiles::resolve(std::string_view path) const {
    if (path.empty() || path[0] != '/') return std::nullopt;
    std::string decoded;
    for (std::size_t i = 0; i < path.size(); ++i) {
        char c = path[i];
        if (c == '%') {
            if (i + 2 >= path.size()) return std::nullopt;
            int hi = hex_digit(path[i + 1]), lo = hex_digit(path[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0' || c == '\\') return std::nullopt;
        decoded += c;
    }
    // Every segment: no "." or "..".
    std::size_t at = 0;
    while (at < decoded.size()) {
        std::size_t end = decoded.find('/', at + 1);
        std::string_view seg = std::string_view(decoded).substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
        if (seg == "." || seg == "..") return std::nullopt;
        if (end == std::string::npos) break;
        at = end;
    }
    std::string joined = root_ + decoded;
    char real[PATH_MAX];
    if (!::realpath(joined.c_str(), real)) return std::nullopt;
    std::string r(real);
    if (r.size() <= root_.size() || r.compare(0, root_.size(), root_) != 0 || r[root_.size()] != '/')
        return std::nullopt;  // a symlink led out of the root (or the root itself)
    return r;
}

std::string_view StaticFiles::mime_type(std::string_view path) noexcept {
    std::size_t dot = path.rfind('.');
    std::size_t slash = path.rfind('/');
    if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return "application/octet-stream";
    std::string_view ext = path.substr(dot + 1);
    struct Entry {
        std::string_view ext, type;
    };
    static constexpr Entry table[] = {
        {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
        {"txt", "text/plain; charset=utf-8"}, {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"}, {"mjs", "text/javascript; charset=utf-8"},
        {"json", "application/json"}, {"xml", "application/xml"}, {"csv", "text/csv; charset=utf-8"},
        {"md", "text/markdown; charset=utf-8"}, {"png", "image/png"}, {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"}, {"gif", "image/gif"}, {"svg", "image/svg+xml"}, {"webp", "image/webp"},
        {"ico", "image/vnd.microsoft.icon"}, {"pdf", "application/pdf"}, {"wasm", "application/wasm"},
        {"woff", "font/woff"}, {"woff2", "font/woff2"}, {"mp4", "video/mp4"}, {"webm", "video/webm"},
        {"mp3", "audio/mpeg"}, {"ogg", "audio/ogg"}, {"zip", "application/zip"}, {"gz", "application/gzip"},
        {"tar", "application/x-tar"},
    };
    for (const Entry& e : table) {
        if (iequals(e.ext, ext)) return e.type;
    }
    return "application/octet-stream";
}

std::string StaticFiles::http_date(std::time_t t) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char text[64];
    std::size_t n = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string(text, n);
}

std::optional<std::time_t> StaticFiles::parse_http_date(std::string_view s) {
    std::string text(s);
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0') return std::nullopt;
    return ::timegm(&tm);
}

void StaticFiles::serve(Exchange& ex) const {
    const RequestHead& rq = ex.request();
    if (rq.method != "GET" && rq.method != "HEAD") {
        ex.respond(405, "method not allowed\n", "text/plain", {{"Allow", "GET, HEAD"}});
        return;
    }
    std::optional<std::string> file = resolve(rq.path());
    int fd = file ? ::open(file->c_str(), O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) ::close(fd);
        ex.respond(404, "not found\n");
        return;
    }
    auto pump = std::make_shared<FilePump>();
    pump->fd = fd;
    pump->ex = ex.shared_from_this();
    std::string last_modified = http_date(st.st_mtime);
    auto size = static_cast<std::uint64_t>(st.st_size);
    std::vector<Header> headers{{"Content-Type", std::string(mime_type(*file))},
                                {"Last-Modified", last_modified},
                                {"Accept-Ranges", "bytes"}};
    if (auto ims = rq.fields.get("if-modified-since"); ims && !rq.fields.get("if-none-match")) {
        std::optional<std::time_t> since = parse_http_date(*ims);
        if (since && st.st_mtime <= *since) {
            ex.write_head(304, {{"Last-Modified", last_modified}});
            ex.finish();
            return;
        }
    }
    int status = 200;
    pump->remaining = size;
    if (auto range_field = rq.fields.get("range"); range_field && rq.method == "GET") {
        std::optional<ByteRange> range = parse_range(*range_field, size);
        if (range && !range->satisfiable) {
            ex.respond(416, "", "", {{"Content-Range", "bytes */" + std::to_string(size)}});
            return;
        }
        if (range) {
            status = 206;
            pump->offset = range->first;
            pump->remaining = range->last - range->first + 1;
            headers.emplace_back("Content-Range", "bytes " + std::to_string(range->first) + "-" +
                                                      std::to_string(range->last) + "/" + std::to_string(size));
        }
    }
    ex.write_head(status, headers, pump->remaining);
    if (rq.method == "HEAD" || pump->remaining == 0 || ex.connection_gone()) {
        pump->remaining = 0;
        pump->pump();
        return;
    }
    // The body with Transport::sendfile: sendfile(2) on TCP, the flow-controlled fallback on
    // TLS. The pump owns the descriptor until the transfer is over.
    std::uint64_t want = pump->remaining;
    Future<std::uint64_t> sent = ex.transport().sendfile(pump->fd, pump->offset, want);
    sent.add_done_callback([pump, want](Future<std::uint64_t>& f) {
        bool complete = false;
        try {
            complete = f.result() == want;
        } catch (const std::exception&) {  // the connection failed or went: it is already closing
        }
        std::shared_ptr<Exchange> ex = pump->ex;
        if (ex->connection_gone()) return;
        if (!complete) {  // the file shrank under us: the promised length cannot be met
            ex->transport().abort();
            return;
        }
        ex->finish();
    });
}

}  // namespace bulb::http
