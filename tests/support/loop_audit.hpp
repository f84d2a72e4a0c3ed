// SPDX-License-Identifier: MIT
/// @file
/// LoopAudit: the end-of-test audit of a test that makes an event loop (the transport, TLS and
/// other fixtures run it from their destructors):
///
/// - the loop runs briefly (pending connection_lost calls are delivered), then transport_count()
///   must be 0 before the loop is closed (a transport still open is a leak in the test or the
///   library), and again after;
/// - the exception handler was called exactly as often as the test declared (expect_reports),
///   or any number of times after allow_reports();
/// - the process's descriptor count (/proc/self/fd) is back to what it was before the loop.
///
/// Construct it before the loop (as a base or an earlier member) so the baseline excludes it.
#pragma once

#include <bulb/loop.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <dirent.h>

namespace bulb_test {

/// Open descriptors of this process.
inline int count_open_fds() {
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') ++n;
    ::closedir(d);
    return n - 1;  // the directory's own descriptor
}

class LoopAudit {
public:
    /// The test expects exactly `n` exception-handler calls in all.
    void expect_reports(std::size_t n) { expected_reports_ = n; }
    /// The test does not care how often the handler is called.
    void allow_reports() { any_reports_ = true; }

    /// Runs the audit once (later calls do nothing). `reports`: the handler's messages, or a
    /// function returning them (read after the loop closed, so reports made by closing count).
    /// `settle` runs the loop until its argument holds or a short time passes.
    template <class Reports, class Settle>
    void audit(bulb::EventLoop& loop, const Reports& reports_source, Settle&& settle) {
        if (audited_) return;
        audited_ = true;
        bool unclosed = false;
        if (!loop.is_closed()) {
            settle([&] { return loop.transport_count() == 0; });
            const std::size_t open = loop.transport_count();
            CHECK_MESSAGE(open == 0, open, " transport(s) still open at the end of the test");
            unclosed = open != 0;  // their "unclosed transport" reports are already a failure
            loop.close();
        }
        CHECK(loop.transport_count() == 0);
        const std::vector<std::string> reports = read_reports(reports_source);
        if (!any_reports_ && !unclosed && reports.size() != expected_reports_) {
            std::string all;
            for (auto& r : reports) all += "\n  - " + r;
            FAIL_CHECK("exception handler called " << reports.size() << " time(s), expected " << expected_reports_
                                                      << ":" << all);
        }
        CHECK_MESSAGE(count_open_fds() == baseline_fds_, "descriptors leaked (", count_open_fds(), " open, ",
                      baseline_fds_, " before the test)");
    }

private:
    static const std::vector<std::string>& read_reports(const std::vector<std::string>& r) { return r; }
    template <class F>
    static std::vector<std::string> read_reports(const F& f) {
        return f();
    }
    int baseline_fds_ = count_open_fds();
    std::size_t expected_reports_ = 0;
    bool any_reports_ = false;
    bool audited_ = false;
};

}  // namespace bulb_test
