// SPDX-License-Identifier: MIT
/// @file
/// spawn_child on glibc's posix_spawn: clone(CLONE_VM | CLONE_VFORK), so a big parent is never
/// copied, and the exec errno comes back through glibc's own close-on-exec channel before
/// posix_spawn returns (a failed child never looks like exit code 127).
#include "spawn.hpp"

#include <bulb/error.hpp>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

extern char** environ;

namespace bulb::detail {

namespace {

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

/// posix_spawn_file_actions_t and posix_spawnattr_t with their destroy calls.
struct SpawnState {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    std::vector<int> temp_fds;  // parent-side duplicates closed after the spawn
    SpawnState() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    ~SpawnState() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        for (int fd : temp_fds) ::close(fd);
    }
};

void check(int rc, const char* what) {
    if (rc != 0) throw Error(rc, std::system_category(), what);
}

}  // namespace

void validate_spawn_request(const SpawnRequest& req, const char* who) {
    const std::string w(who);
    if (req.argv.empty() || req.argv[0].empty()) throw std::invalid_argument(w + ": empty argv (no program to run)");
    for (std::size_t i = 0; i < req.argv.size(); ++i)
        if (has_nul(req.argv[i]))
            throw std::invalid_argument(w + ": argument " + std::to_string(i) + " contains a nul byte");
    if (req.env)
        for (const auto& e : *req.env)
            if (has_nul(e) || e.find('=') == std::string::npos || e.front() == '=')
                throw std::invalid_argument(w + ": environment entry '" + e.substr(0, e.find('\0')) +
                                            "' is not NAME=value (or holds a nul byte)");
    if (has_nul(req.cwd)) throw std::invalid_argument(w + ": cwd contains a nul byte");
    for (int fd : req.pass_fds) {
        if (fd < 0 || ::fcntl(fd, F_GETFD) < 0)
            throw std::invalid_argument(w + ": pass_fds holds " + std::to_string(fd) + ", which is not an open descriptor");
    }
    if (req.process_group && *req.process_group < 0)
        throw std::invalid_argument(w + ": negative process_group");
}

pid_t spawn_child(const SpawnRequest& req, const char* who) {
    SpawnState st;
    // The child's 0-2. A source below 3 that goes elsewhere is first moved above 2 (parent side,
    // close-on-exec), so no dup2 can overwrite a source a later one still needs.
    int src[3];
    for (int i = 0; i < 3; ++i) {
        src[i] = req.stdio[i];
        if (src[i] >= 0 && src[i] < 3 && src[i] != i) {
            int moved = ::fcntl(src[i], F_DUPFD_CLOEXEC, 3);
            if (moved < 0) throw Error(errno, std::system_category(), std::string(who) + ": dup");
            st.temp_fds.push_back(moved);
            src[i] = moved;
        }
    }
    for (int i = 0; i < 3; ++i)
        if (src[i] >= 0)  // dup2(fd, fd) clears close-on-exec (glibc >= 2.29)
            check(posix_spawn_file_actions_adddup2(&st.actions, src[i], i), "posix_spawn_file_actions_adddup2");
    // Only 0-2 and pass_fds survive: the library's descriptors are all close-on-exec already; this
    // also closes those the program opened without O_CLOEXEC.
    std::vector<int> keep = req.pass_fds;
    std::sort(keep.begin(), keep.end());
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    keep.erase(std::remove_if(keep.begin(), keep.end(), [](int fd) { return fd < 3; }), keep.end());
    int next = 3;
    for (int fd : keep) {
        for (; next < fd; ++next) check(posix_spawn_file_actions_addclose(&st.actions, next), "posix_spawn_file_actions_addclose");
        check(posix_spawn_file_actions_adddup2(&st.actions, fd, fd), "posix_spawn_file_actions_adddup2");
        next = fd + 1;
    }
    check(posix_spawn_file_actions_addclosefrom_np(&st.actions, next), "posix_spawn_file_actions_addclosefrom_np");
    if (!req.cwd.empty())
        check(posix_spawn_file_actions_addchdir_np(&st.actions, req.cwd.c_str()), "posix_spawn_file_actions_addchdir_np");

    // Signals: an empty mask, and SIGPIPE / SIGXFSZ back to the default (the loop ignores
    // SIGPIPE, and ignored signals survive exec: `yes | head` must end `yes` by SIGPIPE).
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    sigset_t mask, def;
    sigemptyset(&mask);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGXFSZ);
    posix_spawnattr_setsigmask(&st.attr, &mask);
    posix_spawnattr_setsigdefault(&st.attr, &def);
    if (req.new_session) flags |= POSIX_SPAWN_SETSID;
    if (req.process_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        posix_spawnattr_setpgroup(&st.attr, *req.process_group);
    }
    posix_spawnattr_setflags(&st.attr, flags);

    std::vector<char*> argv;
    argv.reserve(req.argv.size() + 1);
    for (const auto& a : req.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    char** env = environ;
    if (req.env) {
        envp.reserve(req.env->size() + 1);
        for (const auto& e : *req.env) envp.push_back(const_cast<char*>(e.c_str()));
        envp.push_back(nullptr);
        env = envp.data();
    }
    pid_t pid = -1;
    const bool search = req.argv[0].find('/') == std::string::npos;
    int rc = search ? ::posix_spawnp(&pid, argv[0], &st.actions, &st.attr, argv.data(), env)
                    : ::posix_spawn(&pid, argv[0], &st.actions, &st.attr, argv.data(), env);
    if (rc == 0) return pid;
    // Name what failed: a bad cwd and a missing program give the same errno.
    std::string what = std::string(who) + ": cannot run '" + req.argv[0] + "'";
    struct stat sb {};
    if (!req.cwd.empty() && (::stat(req.cwd.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode)))
        what = std::string(who) + ": cannot change to directory '" + req.cwd + "'";
    throw Error(std::error_code(rc, std::system_category()), what);
}

}  // namespace bulb::detail
