// SPDX-License-Identifier: MIT
/// @file
/// The descriptor audit of every test case of an executable built with tests/main.cpp: a
/// doctest listener counts /proc/self/fd when a test case starts and when it ends, and the
/// executable fails (naming the test) when a test left descriptors open. It covers the loops a
/// test makes where no fixture can reach them (bulb::run, loops in helpers); AuditedLoop and the
/// fixtures add the transport and exception-report checks (loop_audit.hpp).
///
/// doctest has counted a test case's result by the time a listener hears test_case_end, so a
/// leak is recorded here and turned into the exit status by main().
#pragma once

#include "loop_audit.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

namespace bulb_test {

/// Test cases that left descriptors open, as "name: N before, M after".
inline std::vector<std::string>& descriptor_leaks() {
    static std::vector<std::string> leaks;
    return leaks;
}

struct DescriptorAudit : doctest::IReporter {
    explicit DescriptorAudit(const doctest::ContextOptions&) {}

    void test_case_start(const doctest::TestCaseData& tc) override {
        name_ = tc.m_name;
        baseline_ = count_open_fds();
    }
    void test_case_end(const doctest::CurrentTestCaseStats&) override {
        const int now = count_open_fds();
        if (now == baseline_) return;
        std::string what = "test case \"" + name_ + "\" left descriptors open: " + std::to_string(baseline_) +
                           " before, " + std::to_string(now) + " after";
        std::fprintf(stderr, "AUDIT FAILED: %s\n", what.c_str());
        descriptor_leaks().push_back(std::move(what));
    }

    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}

private:
    std::string name_;
    int baseline_ = 0;
};

}  // namespace bulb_test
