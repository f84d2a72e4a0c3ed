// SPDX-License-Identifier: MIT
/// @file
/// Helpers of the pipe and subprocess tests: bounded loop runs, open-fd and zombie counts from
/// /proc, a recording pipe protocol.
#pragma once

#include "../support/loop_fixture.hpp"

#include <bulb/bulb.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <dirent.h>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

namespace proc_test {

using namespace std::chrono_literals;

using bulb_test::count_open_fds;
using bulb_test::run_until;

/// Children of this process in state Z (zombies), read from /proc/*/stat.
inline int zombie_children() {
    int n = 0;
    const std::string me = std::to_string(::getpid());
    if (DIR* d = ::opendir("/proc")) {
        while (dirent* e = ::readdir(d)) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
            std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
            std::string line;
            if (!std::getline(f, line)) continue;
            auto close_paren = line.rfind(')');
            if (close_paren == std::string::npos || close_paren + 4 >= line.size()) continue;
            char state = line[close_paren + 2];
            std::string rest = line.substr(close_paren + 4);
            std::string ppid = rest.substr(0, rest.find(' '));
            if (ppid == me && state == 'Z') ++n;
        }
        ::closedir(d);
    }
    return n;
}

/// Direct children of this process still present in /proc (any state).
inline int child_count() {
    int n = 0;
    const std::string me = std::to_string(::getpid());
    if (DIR* d = ::opendir("/proc")) {
        while (dirent* e = ::readdir(d)) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
            std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
            std::string line;
            if (!std::getline(f, line)) continue;
            auto close_paren = line.rfind(')');
            if (close_paren == std::string::npos || close_paren + 4 >= line.size()) continue;
            std::string rest = line.substr(close_paren + 4);
            if (rest.substr(0, rest.find(' ')) == me) ++n;
        }
        ::closedir(d);
    }
    return n;
}

/// Records what a pipe transport delivers, in order.
struct PipeLog {
    std::vector<std::string> events;
    std::string data;
    bool made = false, lost = false, paused = false;
    std::error_code lost_ec;
    bulb::Transport* transport = nullptr;
};

class RecordingPipe : public bulb::Protocol {
public:
    explicit RecordingPipe(std::shared_ptr<PipeLog> log) : log_(std::move(log)) {}
    void connection_made(bulb::Transport& t) override {
        log_->made = true;
        log_->transport = &t;
        log_->events.push_back("made");
    }
    void data_received(bulb::ByteView d) override { log_->data += bulb::as_string_view(d); }
    bool eof_received() override {
        log_->events.push_back("eof");
        return false;
    }
    void connection_lost(std::error_code ec) override {
        log_->lost = true;
        log_->lost_ec = ec;
        log_->transport = nullptr;
        log_->events.push_back("lost");
    }
    void pause_writing() override {
        log_->paused = true;
        log_->events.push_back("pause");
    }
    void resume_writing() override {
        log_->paused = false;
        log_->events.push_back("resume");
    }

private:
    std::shared_ptr<PipeLog> log_;
};

inline bulb::ProtocolFactory recording(const std::shared_ptr<PipeLog>& log) {
    return [log] { return std::make_unique<RecordingPipe>(log); };
}

}  // namespace proc_test
