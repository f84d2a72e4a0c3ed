// SPDX-License-Identifier: MIT
// StaticFiles' path checks (traversal, encodings, NUL, symlinks out of the root), MIME types and
// HTTP dates; serving itself is driven through examples/http_server (check_http_server.py).
#include <bulb/http/static_files.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using bulb::http::StaticFiles;

TEST_CASE("StaticFiles::resolve keeps requests inside the root") {
    char tmpl[] = "/tmp/bulb_static_XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    fs::path root(tmpl);
    fs::create_directory(root / "sub");
    std::ofstream(root / "sub" / "a b.txt") << "x";
    std::ofstream(root / "top.html") << "y";
    fs::create_symlink("/etc/hostname", root / "out");
    fs::create_symlink(root / "top.html", root / "in");
    StaticFiles files(root.string());
    std::string real_root = files.root();
    CHECK(files.resolve("/top.html") == real_root + "/top.html");
    CHECK(files.resolve("/sub/a%20b.txt") == real_root + "/sub/a b.txt");
    CHECK(files.resolve("/in") == real_root + "/top.html");  // a symlink inside the root is fine
    CHECK(files.resolve("/sub") == real_root + "/sub");       // resolved; serve() gives 404 for directories
    for (const char* bad : {"/../etc/passwd", "/sub/../top.html", "/%2e%2e/etc/passwd", "/%2E%2e/etc", "/sub/%2e%2e/top.html",
                            "/./top.html", "/top.html%00", "/top.html%0", "/%zz", "/sub\\a", "/out", "/missing", "", "top.html", "/"}) {
        INFO(bad);
        CHECK(!files.resolve(bad));
    }
    CHECK_THROWS_AS(StaticFiles((root / "top.html").string()), std::invalid_argument);
    fs::remove_all(root);
}

TEST_CASE("MIME types and HTTP dates") {
    CHECK(StaticFiles::mime_type("/a/b.HTML") == "text/html; charset=utf-8");
    CHECK(StaticFiles::mime_type("/x.png") == "image/png");
    CHECK(StaticFiles::mime_type("/dir.d/file") == "application/octet-stream");
    CHECK(StaticFiles::mime_type("/noext") == "application/octet-stream");
    CHECK(StaticFiles::http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(StaticFiles::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    CHECK(!StaticFiles::parse_http_date("Sun, 06 Nov 1994 08:49:37"));
    CHECK(!StaticFiles::parse_http_date("yesterday"));
}
