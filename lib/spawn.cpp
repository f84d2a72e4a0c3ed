// SPDX-License-Identifier: MIT
/// @file
/// spawn_child: clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) running a small child on its own
/// stack (what glibc's posix_spawn does, minus its per-action getrlimit, plus the pidfd and
/// close_range), so a big parent is never copied and the exec errno reaches the parent before
/// spawn_child returns (a failed child never looks like exit code 127). Under ThreadSanitizer
/// (whose clone interceptor treats every clone as a fork) and off x86-64/AArch64 Linux it is
/// glibc's posix_spawn, which BULB_SUBPROCESS_SPAWN=posix_spawn also selects (so the tests run
/// both paths in every build).
#include "spawn.hpp"

#include <bulb/error.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <memory>
#include <stdexcept>
#include <string_view>

#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__)) && defined(CLONE_PIDFD) && \
    defined(SYS_close_range)
#define BULB_SPAWN_CLONE 1
#endif
#if defined(__SANITIZE_THREAD__)
#undef BULB_SPAWN_CLONE
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#undef BULB_SPAWN_CLONE
#endif
#endif

extern char** environ;

namespace bulb::detail {

namespace {

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

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

namespace {

/// The child's descriptors, worked out in the parent: `src` what becomes 0-2 (-1: inherited;
/// a source below 3 that goes elsewhere is first moved above 2, close-on-exec, so no dup2 can
/// overwrite a source a later one still needs) and `keep` the pass_fds above 2, sorted.
struct ChildFds {
    int src[3];
    std::vector<int> keep;
    std::vector<int> temp_fds;  // parent-side duplicates closed after the spawn
    ~ChildFds() {
        for (int fd : temp_fds) ::close(fd);
    }
    ChildFds(const SpawnRequest& req, const char* who) {
        for (int i = 0; i < 3; ++i) {
            src[i] = req.stdio[i];
            if (src[i] >= 0 && src[i] < 3 && src[i] != i) {
                int moved = ::fcntl(src[i], F_DUPFD_CLOEXEC, 3);
                if (moved < 0) throw Error(errno, std::system_category(), std::string(who) + ": dup");
                temp_fds.push_back(moved);
                src[i] = moved;
            }
        }
        keep = req.pass_fds;
        std::sort(keep.begin(), keep.end());
        keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
        keep.erase(std::remove_if(keep.begin(), keep.end(), [](int fd) { return fd < 3; }), keep.end());
    }
};

/// argv and envp as the exec wants them (pointers into the request's strings).
struct ExecArrays {
    std::vector<char*> argv;
    std::vector<char*> envp;
    char** env = environ;
    explicit ExecArrays(const SpawnRequest& req) {
        argv.reserve(req.argv.size() + 1);
        for (const auto& a : req.argv) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        if (req.env) {
            envp.reserve(req.env->size() + 1);
            for (const auto& e : *req.env) envp.push_back(const_cast<char*>(e.c_str()));
            envp.push_back(nullptr);
            env = envp.data();
        }
    }
};

[[noreturn]] void throw_spawn_error(const SpawnRequest& req, const char* who, int err, bool in_chdir) {
    // Name what failed: a bad cwd and a missing program give the same errno.
    std::string what = std::string(who) + ": cannot run '" + req.argv[0] + "'";
    if (in_chdir) what = std::string(who) + ": cannot change to directory '" + req.cwd + "'";
    throw Error(std::error_code(err, std::system_category()), what);
}

/// posix_spawn_file_actions_t and posix_spawnattr_t with their destroy calls.
struct SpawnState {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    SpawnState() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    ~SpawnState() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
};

void check(int rc, const char* what) {
    if (rc != 0) throw Error(rc, std::system_category(), what);
}

SpawnedChild spawn_with_posix_spawn(const SpawnRequest& req, const char* who) {
    SpawnState st;
    ChildFds fds(req, who);
    for (int i = 0; i < 3; ++i)
        if (fds.src[i] >= 0)  // dup2(fd, fd) clears close-on-exec (glibc >= 2.29)
            check(posix_spawn_file_actions_adddup2(&st.actions, fds.src[i], i), "posix_spawn_file_actions_adddup2");
    // Only 0-2 and pass_fds survive: the library's descriptors are all close-on-exec already; this
    // also closes those the program opened without O_CLOEXEC.
    int next = 3;
    for (int fd : fds.keep) {
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

    ExecArrays ex(req);
    pid_t pid = -1;
    const bool search = req.argv[0].find('/') == std::string::npos;
    int rc = search ? ::posix_spawnp(&pid, ex.argv[0], &st.actions, &st.attr, ex.argv.data(), ex.env)
                    : ::posix_spawn(&pid, ex.argv[0], &st.actions, &st.attr, ex.argv.data(), ex.env);
    if (rc == 0) return {pid, -1};
    struct stat sb {};
    bool bad_cwd = !req.cwd.empty() && (::stat(req.cwd.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode));
    throw_spawn_error(req, who, rc, bad_cwd);
}

#ifdef BULB_SPAWN_CLONE

// --- the clone path --------------------------------------------------------------------------
// The child shares the parent's memory until it execs (CLONE_VM | CLONE_VFORK; the parent's
// thread is suspended meanwhile), so it runs only raw system calls, uninstrumented, with every
// signal blocked until its handlers are reset: nothing it does may touch the parent's state but
// the error slot in ChildArgs.

/// The kernel's struct sigaction on x86-64 and AArch64 (glibc's differs).
struct KernelSigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    unsigned long mask;
};

struct ChildArgs {
    char* const* argv;
    char* const* envp;
    const char* const* paths;  // candidates for argv[0], null-terminated (PATH searched in the parent)
    const char* cwd;           // null: stay
    const int* src;            // the child's 0-2, -1 inherited
    const int* keep;
    std::size_t nkeep;
    bool new_session;
    bool set_pgroup;
    pid_t pgroup;
    bool close_range_works;
    int close_limit;        // without close_range: close up to this descriptor
    volatile int error;     // written by a failing child
    volatile int in_chdir;  // the failure was the chdir
};

#define BULB_CHILD_CODE __attribute__((noinline, no_sanitize("address", "thread", "undefined")))

/// A raw system call that leaves errno alone (the child shares the parent thread's errno).
#if defined(__x86_64__)
BULB_CHILD_CODE long raw_syscall(long n, long a = 0, long b = 0, long c = 0, long d = 0) {
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return ret;
}
#else
BULB_CHILD_CODE long raw_syscall(long n, long a = 0, long b = 0, long c = 0, long d = 0) {
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
}
#endif

BULB_CHILD_CODE void close_from_to(const ChildArgs* a, unsigned first, unsigned last) {
    if (first > last) return;
    if (a->close_range_works) {
        raw_syscall(SYS_close_range, first, last, 0);
        return;
    }
    for (unsigned fd = first; fd <= last && fd < static_cast<unsigned>(a->close_limit); ++fd) raw_syscall(SYS_close, fd);
}

BULB_CHILD_CODE int child_main(void* arg) {
    auto* a = static_cast<ChildArgs*>(arg);
    long rc = -ENOENT;
    // 1. No handler of the parent may run in the child: every caught signal back to the
    // default, and SIGPIPE / SIGXFSZ too (the loop ignores SIGPIPE, and ignored signals survive
    // exec: `yes | head` must end `yes` by SIGPIPE). Every signal is blocked meanwhile.
    for (long sig = 1; sig <= 64; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        KernelSigaction old;
        old.handler = SIG_DFL;
        bool reset = sig == SIGPIPE || sig == SIGXFSZ;
        if (!reset && raw_syscall(SYS_rt_sigaction, sig, 0, reinterpret_cast<long>(&old), 8) == 0)
            reset = old.handler != SIG_DFL && old.handler != SIG_IGN;
        if (reset) {
            KernelSigaction dfl;
            dfl.handler = SIG_DFL;
            dfl.flags = 0;
            dfl.restorer = nullptr;
            dfl.mask = 0;
            raw_syscall(SYS_rt_sigaction, sig, reinterpret_cast<long>(&dfl), 0, 8);
        }
    }
    // 2. Session, group, directory.
    if (a->new_session && (rc = raw_syscall(SYS_setsid)) < 0) goto fail;
    if (a->set_pgroup && (rc = raw_syscall(SYS_setpgid, 0, a->pgroup)) < 0) goto fail;
    if (a->cwd && (rc = raw_syscall(SYS_chdir, reinterpret_cast<long>(a->cwd))) < 0) {
        a->in_chdir = 1;
        goto fail;
    }
    // 3. Descriptors: 0-2 from their sources, pass_fds kept (close-on-exec cleared), every
    // other one closed (the library's are close-on-exec already; this also closes those the
    // program opened without O_CLOEXEC).
    for (int i = 0; i < 3; ++i) {
        int s = a->src[i];
        if (s < 0) continue;
        rc = s == i ? raw_syscall(SYS_fcntl, i, F_SETFD, 0) : raw_syscall(SYS_dup3, s, i, 0);
        if (rc < 0) goto fail;
    }
    {
        unsigned next = 3;
        for (std::size_t k = 0; k < a->nkeep; ++k) {
            unsigned fd = static_cast<unsigned>(a->keep[k]);
            if ((rc = raw_syscall(SYS_fcntl, fd, F_SETFD, 0)) < 0) goto fail;
            if (fd > next) close_from_to(a, next, fd - 1);
            next = fd + 1;
        }
        close_from_to(a, next, ~0U);
    }
    // 4. An empty signal mask, then exec: each PATH candidate in turn as execvp does (EACCES
    // remembered, a missing file or directory skipped, anything else final).
    {
        unsigned long empty = 0;
        raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&empty), 0, 8);
        bool denied = false;
        for (const char* const* p = a->paths; *p; ++p) {
            rc = raw_syscall(SYS_execve, reinterpret_cast<long>(*p), reinterpret_cast<long>(a->argv),
                             reinterpret_cast<long>(a->envp));
            if (rc == -EACCES) denied = true;
            else if (rc != -ENOENT && rc != -ENOTDIR && rc != -ESTALE && rc != -ENODEV && rc != -ETIMEDOUT)
                goto fail;  // final: the file is there and cannot run (ENOEXEC, E2BIG, ...)
        }
        if (denied) rc = -EACCES;
    }
fail:
    a->error = static_cast<int>(-rc);
    raw_syscall(SYS_exit_group, 127);
    __builtin_unreachable();
}

/// One stack per thread for its children, kept: a vfork child is done with it (exec'd or
/// exited) before clone returns, and a thread runs one spawn at a time. A signal handler that
/// spawned (not async-signal-safe, but) cannot reuse it mid-spawn: every signal is blocked from
/// before the clone until it has returned, the only window in which the stack is in use.
class ChildStack {
public:
    static constexpr std::size_t size = 64 * 1024;
    ~ChildStack() {
        if (base_) ::munmap(base_, size);
    }
    void* top(const char* who) {
        if (!base_) {
            void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
            if (p == MAP_FAILED) throw Error(errno, std::system_category(), std::string(who) + ": mmap of the child's stack");
            ::mprotect(p, 4096, PROT_NONE);  // a guard page: an overflow faults instead of corrupting
            base_ = p;
        }
        return static_cast<char*>(base_) + size;
    }

private:
    void* base_ = nullptr;
};

thread_local ChildStack child_stack;

bool close_range_available() noexcept {
    static const bool ok = ::syscall(SYS_close_range, ~0U - 1, ~0U, 0) == 0;  // an empty range: no effect
    return ok;
}

/// Without close_range (Linux < 5.9) the child closes descriptor by descriptor up to this
/// bound: one above the highest descriptor open now (from /proc/self/fd), or RLIMIT_NOFILE's
/// soft limit when /proc cannot be read (which can be 10^6 syscalls per spawn, hence the scan).
int close_loop_limit() noexcept {
    int highest = -1;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (dirent* e = ::readdir(d)) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
            highest = std::max(highest, std::atoi(e->d_name));
        }
        ::closedir(d);
        if (highest >= 0) return highest + 1;
    }
    long m = ::sysconf(_SC_OPEN_MAX);
    return m > 0 && m < INT32_MAX ? static_cast<int>(m) : 65536;
}

/// Where exec looks for argv[0]: itself when it holds a '/', else every PATH entry (the
/// parent's PATH, as posix_spawnp; unset: /bin:/usr/bin; an empty entry: the directory).
std::vector<std::string> exec_candidates(const std::string& name) {
    if (name.find('/') != std::string::npos) return {name};
    const char* path = std::getenv("PATH");
    std::string_view dirs = path ? path : "/bin:/usr/bin";
    std::vector<std::string> out;
    for (;;) {
        auto colon = dirs.find(':');
        std::string_view dir = dirs.substr(0, colon);
        std::string full(dir.empty() ? "." : dir);
        full += '/';
        full += name;
        out.push_back(std::move(full));
        if (colon == std::string_view::npos) break;
        dirs.remove_prefix(colon + 1);
    }
    return out;
}

SpawnedChild spawn_with_clone(const SpawnRequest& req, const char* who, bool force_close_loop) {
    ChildFds fds(req, who);
    ExecArrays ex(req);
    std::vector<std::string> candidates = exec_candidates(req.argv[0]);
    std::vector<const char*> paths;
    paths.reserve(candidates.size() + 1);
    for (const auto& c : candidates) paths.push_back(c.c_str());
    paths.push_back(nullptr);

    ChildArgs a{};
    a.argv = ex.argv.data();
    a.envp = ex.env;
    a.paths = paths.data();
    a.cwd = req.cwd.empty() ? nullptr : req.cwd.c_str();
    a.src = fds.src;
    a.keep = fds.keep.data();
    a.nkeep = fds.keep.size();
    a.new_session = req.new_session;
    a.set_pgroup = req.process_group.has_value();
    a.pgroup = req.process_group.value_or(0);
    a.close_range_works = !force_close_loop && close_range_available();
    a.close_limit = a.close_range_works ? 0 : close_loop_limit();
    a.error = 0;
    a.in_chdir = 0;
    void* stack = child_stack.top(who);

    // Every signal blocked across the clone: no handler may run on the child's side of the
    // shared memory before the child has reset them (glibc's posix_spawn does the same).
    unsigned long all = ~0UL, old = 0;
    ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
    int pidfd = -1;
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
    pid_t pid = ::clone(child_main, stack, flags | (req.want_pidfd ? CLONE_PIDFD : 0), &a, &pidfd);
    // Kernels before 5.2 ignore the CLONE_PIDFD bit (it was CLONE_PID, unused since 2.5) and
    // leave pidfd at -1: the caller then opens one or uses SIGCHLD. A kernel or sandbox that
    // refuses the bit says EINVAL: try once more without it.
    if (pid < 0 && req.want_pidfd && errno == EINVAL) {
        pidfd = -1;
        pid = ::clone(child_main, stack, flags, &a, &pidfd);
    }
    int clone_errno = errno;
    ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, nullptr, 8);
    if (pid < 0) throw Error(clone_errno, std::system_category(), std::string(who) + ": clone");
    if (!req.want_pidfd) pidfd = -1;
    if (a.error == 0) return {pid, pidfd};
    // The child failed and exited: reap it (its exit may trail the parent's wake-up a little).
    siginfo_t si{};
    while (::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED) < 0 && errno == EINTR) {
    }
    if (pidfd >= 0) ::close(pidfd);
    throw_spawn_error(req, who, a.error, a.in_chdir != 0);
}

#endif  // BULB_SPAWN_CLONE

}  // namespace

SpawnMethod spawn_method() {
    const char* v = std::getenv("BULB_SUBPROCESS_SPAWN");
    if (!v || !*v || std::strcmp(v, "clone") == 0) return SpawnMethod::clone;
    if (std::strcmp(v, "posix_spawn") == 0) return SpawnMethod::posix_spawn;
    if (std::strcmp(v, "clone_close_loop") == 0) return SpawnMethod::clone_close_loop;
    throw std::invalid_argument(std::string("BULB_SUBPROCESS_SPAWN='") + v +
                                "' is none of clone, clone_close_loop, posix_spawn");
}

bool clone_spawn_available() noexcept {
#ifdef BULB_SPAWN_CLONE
    return true;
#else
    return false;
#endif
}

SpawnedChild spawn_child(const SpawnRequest& req, const char* who) {
    const SpawnMethod m = spawn_method();
#ifdef BULB_SPAWN_CLONE
    if (m != SpawnMethod::posix_spawn) return spawn_with_clone(req, who, m == SpawnMethod::clone_close_loop);
#endif
    (void)m;
    return spawn_with_posix_spawn(req, who);
}

}  // namespace bulb::detail
