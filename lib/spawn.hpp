// SPDX-License-Identifier: MIT
/// @file
/// spawn_child: a vfork-like clone (or posix_spawn) with the child's descriptors, session, group
/// and directory set up, every other descriptor closed, and the exec failure reported with the
/// child's errno.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace bulb::detail {

struct SpawnRequest {
    std::vector<std::string> argv;
    std::optional<std::vector<std::string>> env;
    std::string cwd;
    /// What becomes the child's 0, 1, 2: a descriptor of the parent, or -1 for the parent's own.
    int stdio[3] = {-1, -1, -1};
    std::vector<int> pass_fds;
    bool new_session = false;
    std::optional<pid_t> process_group;
    /// Ask for a pidfd made with the child (CLONE_PIDFD), saving a pidfd_open.
    bool want_pidfd = true;
};

/// A started child: its pid, and its pidfd (close-on-exec) or -1 when none was asked for or
/// the spawn path cannot make one (the caller falls back to pidfd_open or SIGCHLD).
struct SpawnedChild {
    pid_t pid = -1;
    int pidfd = -1;
};

/// Checks `req` (empty argv, nul bytes, env entries without '=', bad pass_fds): throws
/// std::invalid_argument naming `who` and the bad value.
void validate_spawn_request(const SpawnRequest& req, const char* who);

/// True when BULB_SUBPROCESS_NO_PIDFD is set (tests of the SIGCHLD fallback).
bool pidfds_disabled() noexcept;

/// How children are started: the clone path (the default where it is built), the same with
/// close_range treated as missing (the Linux < 5.9 fallback, for tests), or posix_spawn.
enum class SpawnMethod { clone, clone_close_loop, posix_spawn };

/// The method BULB_SUBPROCESS_SPAWN names (unset or empty: clone). Throws
/// std::invalid_argument for another value. Where the clone path is not built (ThreadSanitizer,
/// other architectures) every method is posix_spawn.
SpawnMethod spawn_method();

/// True when this build has the clone path (x86-64/AArch64 Linux, not under ThreadSanitizer).
bool clone_spawn_available() noexcept;

/// Starts the child. Throws bulb::Error with the child's errno (system category) when exec,
/// chdir or a descriptor action failed; the failed child was already reaped.
SpawnedChild spawn_child(const SpawnRequest& req, const char* who);

}  // namespace bulb::detail
