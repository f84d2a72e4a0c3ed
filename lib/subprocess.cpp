// SPDX-License-Identifier: MIT
/// @file
/// Subprocess transports: pipes set up, the child spawned (lib/spawn.cpp), its exit watched
/// through a pidfd (fallback: SIGCHLD + waitpid(pid) per child of the loop, never waitpid(-1)),
/// asyncio's callback order, and no zombie when the loop closes. EventLoop::subprocess_exec and
/// subprocess_shell.
#include "subprocess_transport.hpp"

#include "loop/loop_impl.hpp"
#include "pipe_transport.hpp"
#include "protocol_call.hpp"
#include "spawn.hpp"

#include <bulb/future.hpp>
#include <bulb/loop.hpp>

#include <event2/event.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bulb {

SubprocessProtocol::~SubprocessProtocol() = default;
void SubprocessProtocol::connection_made(SubprocessTransport&) {}
void SubprocessProtocol::pipe_data_received(int, ByteView) {}
void SubprocessProtocol::pipe_connection_lost(int, std::error_code) {}
void SubprocessProtocol::process_exited() {}
void SubprocessProtocol::connection_lost(std::error_code) {}
void SubprocessProtocol::pause_writing() {}
void SubprocessProtocol::resume_writing() {}

}  // namespace bulb

namespace bulb::detail {

bool pidfds_disabled() noexcept {
    const char* v = std::getenv("BULB_SUBPROCESS_NO_PIDFD");
    return v && *v && std::strcmp(v, "0") != 0;
}

namespace {

int pidfd_open(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // always close-on-exec
#else
    errno = ENOSYS;
    return -1;
#endif
}

int pidfd_send_signal(int pidfd, int sig) noexcept {
#ifdef SYS_pidfd_send_signal
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
#else
    errno = ENOSYS;
    return -1;
#endif
}

/// The status asyncio reports: the exit code, or -N for death by signal N.
int returncode_of(const siginfo_t& si) noexcept {
    return si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
}

// --- the SIGCHLD fallback: one handler per loop polls each of that loop's children -----------

struct SigchldChildren {
    std::vector<SubprocessImpl*> children;
};
std::mutex sigchld_mutex;  // the map only: each entry is used by its own loop's thread
std::unordered_map<LoopImpl*, SigchldChildren> sigchld_loops;

void poll_sigchld_children(LoopImpl* loop) noexcept {
    std::vector<SubprocessImpl*> children;
    {
        std::lock_guard lock(sigchld_mutex);
        auto it = sigchld_loops.find(loop);
        if (it == sigchld_loops.end()) return;
        children = it->second.children;
    }
    for (SubprocessImpl* c : children) c->try_reap();  // try_reap unregisters reaped children
}

void sigchld_register(LoopImpl& loop, SubprocessImpl* child) {
    bool first = false;
    {
        std::lock_guard lock(sigchld_mutex);
        auto& entry = sigchld_loops[&loop];
        first = entry.children.empty();
        entry.children.push_back(child);
    }
    if (first) loop.add_signal_handler(SIGCHLD, [l = &loop] { poll_sigchld_children(l); });
    // The child may have exited before the handler was in place: look once now.
    loop.call_soon([l = &loop] { poll_sigchld_children(l); });
}

void sigchld_unregister(LoopImpl& loop, SubprocessImpl* child) noexcept {
    bool last = false;
    {
        std::lock_guard lock(sigchld_mutex);
        auto it = sigchld_loops.find(&loop);
        if (it == sigchld_loops.end()) return;
        auto& v = it->second.children;
        v.erase(std::remove(v.begin(), v.end(), child), v.end());
        if (v.empty()) {
            sigchld_loops.erase(it);
            last = true;
        }
    }
    if (last && !loop.is_closed()) {
        try {
            loop.remove_signal_handler(SIGCHLD);
        } catch (...) {
        }
    }
}

/// Forwards one pipe's callbacks to the subprocess (fd 0, 1 or 2).
class PipeToSubprocess final : public Protocol {
public:
    PipeToSubprocess(SubprocessImpl* owner, int fd) : owner_(owner), fd_(fd) {}
    void data_received(ByteView data) override { owner_->pipe_data_received(fd_, data); }
    bool eof_received() override { return false; }
    void connection_lost(std::error_code ec) override { owner_->pipe_connection_lost(fd_, ec); }
    void pause_writing() override { owner_->pipe_pause_writing(); }
    void resume_writing() override { owner_->pipe_resume_writing(); }

private:
    SubprocessImpl* owner_;  // outlives its pipes: connection_lost waits for all of them
    int fd_;
};

}  // namespace

SubprocessImpl* SubprocessImpl::create(LoopImpl& loop, pid_t pid, int pidfd, const int parent_fds[3],
                                       std::unique_ptr<SubprocessProtocol> protocol, OnLoopClose on_loop_close,
                                       Future<SubprocessConnection> waiter) {
    auto* s = new SubprocessImpl(loop, pid, pidfd, std::move(protocol), on_loop_close);
    TransportPtr self_ref;  // nothing below throws past this point but allocation
    for (int fd = 0; fd < 3; ++fd) {
        if (parent_fds[fd] < 0) continue;
        auto dir = fd == 0 ? PipeTransport::Direction::write : PipeTransport::Direction::read;
        PipeTransport* p = PipeTransport::create(loop, parent_fds[fd], dir, std::make_unique<PipeToSubprocess>(s, fd),
                                                 std::nullopt, /*paused=*/dir == PipeTransport::Direction::read);
        p->set_quiet_on_loop_close();
        s->pipes_[fd] = TransportPtr(p);
    }
    // Queued after the pipes' own connection_made: asyncio's order.
    loop.call_soon([s = RefPtr<SubprocessImpl>(s), waiter = std::move(waiter)]() mutable { s->on_connected(waiter); });
    return s;
}

SubprocessImpl::SubprocessImpl(LoopImpl& loop, pid_t pid, int pidfd, std::unique_ptr<SubprocessProtocol> protocol,
                               OnLoopClose on_loop_close)
    : loop_(loop), pid_(pid), pidfd_(pidfd), on_loop_close_(on_loop_close), protocol_(std::move(protocol)) {
    // The spawn made the pidfd with the child where it could (CLONE_PIDFD); else open one now.
    if (pidfd_ < 0 && !pidfds_disabled()) pidfd_ = pidfd_open(pid_);
    add_ref();  // the loop's reference, until connection_lost has returned
    loop_.transports_.push(this);
}

SubprocessImpl::~SubprocessImpl() {
    exit_watch_.reset();
    if (pidfd_ >= 0) ::close(pidfd_);
}

EventLoop& SubprocessImpl::get_loop() const noexcept { return loop_.owner(); }

Transport* SubprocessImpl::get_pipe_transport(int fd) const noexcept {
    return fd >= 0 && fd < 3 ? pipes_[fd].get() : nullptr;
}

void SubprocessImpl::report(const char* what) noexcept {
    loop_.call_exception_handler({what, std::current_exception(), nullptr});
}

void SubprocessImpl::on_connected(Future<SubprocessConnection>& waiter) noexcept {
    if (!lost_scheduled_) {
        call_protocol(loop_.owner(), this, "connection_made", [&] { protocol_->connection_made(*this); });
    }
    connected_ = true;
    for (int fd = 1; fd < 3; ++fd)
        if (pipes_[fd] && !closing_) pipes_[fd]->resume_reading();
    if (returncode_ || lost_scheduled_ || detached_) {
        try_finish();
    } else {
        start_exit_watch();
    }
    if (!waiter.done()) waiter.set_result(SubprocessConnection{SubprocessTransportPtr(this)});
    else if (waiter.cancelled()) close();  // nobody wants the process any more
}

void SubprocessImpl::start_exit_watch() noexcept {
    if (pidfd_ >= 0) {
        try {
            exit_watch_ = IoWatcher(loop_, pidfd_, EV_READ, [this] { try_reap(); });
            exit_watch_.start();
            return;
        } catch (...) {
            exit_watch_.reset();
            ::close(std::exchange(pidfd_, -1));  // fall back below
        }
    }
    try {
        sigchld_mode_ = true;
        sigchld_register(loop_, this);
    } catch (...) {
        report("cannot watch a child process (no pidfd, no SIGCHLD handler): it is reaped when the loop closes");
    }
}

void SubprocessImpl::stop_exit_watch() noexcept {
    exit_watch_.reset();
    if (pidfd_ >= 0) ::close(std::exchange(pidfd_, -1));
    if (std::exchange(sigchld_mode_, false)) sigchld_unregister(loop_, this);
}

bool SubprocessImpl::try_reap() noexcept {
    if (returncode_ || detached_) return false;
    siginfo_t si{};
    int rc;
    do {
        rc = ::waitid(P_PID, static_cast<id_t>(pid_), &si, WEXITED | WNOHANG);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        // ECHILD: someone else reaped it (a waitpid(-1) elsewhere, or SIGCHLD set to SIG_IGN).
        // The status is lost; report it rather than wait forever.
        loop_.call_exception_handler({"child process " + std::to_string(pid_) +
                                          " was reaped by someone else (waitpid(-1) or SIGCHLD ignored): "
                                          "its exit status is unknown (reported as 255)",
                                      nullptr, nullptr});
        exited(255);
        return true;
    }
    if (si.si_pid == 0) return false;  // still running (a spurious wake-up)
    exited(returncode_of(si));
    return true;
}

void SubprocessImpl::exited(int returncode) noexcept {
    returncode_ = returncode;
    stop_exit_watch();
    call_protocol(loop_.owner(), this, "process_exited", [&] { protocol_->process_exited(); });
    try_finish();
}

// --- pipes -----------------------------------------------------------------------------------

void SubprocessImpl::pipe_data_received(int fd, ByteView data) noexcept {
    call_protocol(loop_.owner(), this, "pipe_data_received", [&] { protocol_->pipe_data_received(fd, data); });
}

void SubprocessImpl::pipe_connection_lost(int fd, std::error_code ec) noexcept {
    TransportPtr gone = std::move(pipes_[fd]);  // released after the callback
    call_protocol(loop_.owner(), this, "pipe_connection_lost", [&] { protocol_->pipe_connection_lost(fd, ec); });
    try_finish();
}

void SubprocessImpl::pipe_pause_writing() noexcept {
    call_protocol(loop_.owner(), this, "pause_writing", [&] { protocol_->pause_writing(); });
}

void SubprocessImpl::pipe_resume_writing() noexcept {
    call_protocol(loop_.owner(), this, "resume_writing", [&] { protocol_->resume_writing(); });
}

// --- signals and closing --------------------------------------------------------------------

void SubprocessImpl::send_signal(int signum) {
    if (signum <= 0 || signum >= NSIG) throw std::invalid_argument("send_signal: invalid signal " + std::to_string(signum));
    if (returncode_ || detached_) return;  // reaped: a documented no-op (asyncio), never a recycled pid
    int rc = pidfd_ >= 0 ? pidfd_send_signal(pidfd_, signum) : ::kill(pid_, signum);
    // ESRCH: it exited and is not reaped yet; the reap is on its way.
    if (rc != 0 && errno != ESRCH)
        throw Error(errno, std::system_category(), "send_signal(" + std::to_string(signum) + ")");
}

void SubprocessImpl::close() {
    if (closing_) return;
    closing_ = true;
    for (auto& p : pipes_)
        if (p) p->close();
    if (!returncode_ && !detached_) {
        try {
            send_signal(SIGKILL);  // asyncio: close() kills a child still running
        } catch (...) {
        }
    }
    try_finish();
}

void SubprocessImpl::close_for_loop() noexcept {
    if (lost_scheduled_) return;
    closing_ = true;
    lost_error_ = make_error_code(errc::loop_closed);
    for (auto& p : pipes_)
        if (p) p->abort();
    if (!returncode_) {
        if (on_loop_close_ == OnLoopClose::kill) {
            loop_.call_exception_handler({"subprocess " + std::to_string(pid_) +
                                              " still running at EventLoop::close(): killed",
                                          nullptr, nullptr});
            try {
                send_signal(SIGKILL);
            } catch (...) {
            }
            siginfo_t si{};
            int rc;
            do {  // SIGKILL cannot be caught: this wait is short
                rc = ::waitid(P_PID, static_cast<id_t>(pid_), &si, WEXITED);
            } while (rc < 0 && errno == EINTR);
            exited(rc == 0 ? returncode_of(si) : 255);
        } else {
            loop_.call_exception_handler({"subprocess " + std::to_string(pid_) +
                                              " still running at EventLoop::close(): detached",
                                          nullptr, nullptr});
            stop_exit_watch();
            detached_ = true;
            try {
                std::thread([pid = pid_] {
                    siginfo_t si{};
                    while (::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED) < 0 && errno == EINTR) {
                    }
                }).detach();
            } catch (...) {
                report("cannot start the thread that reaps a detached child");
            }
            try_finish();
        }
    } else {
        loop_.call_exception_handler({"unclosed subprocess transport closed by EventLoop::close()", nullptr, nullptr});
        try_finish();
    }
}

void SubprocessImpl::try_finish() noexcept {
    if (lost_scheduled_ || !connected_) return;
    if (!returncode_ && !detached_) return;
    for (auto& p : pipes_)
        if (p) return;
    lost_scheduled_ = true;
    call_soon_or_now(loop_, [s = RefPtr<SubprocessImpl>(this)] { s->call_connection_lost(); });
}

void SubprocessImpl::call_connection_lost() noexcept {
    closing_ = true;
    call_protocol(loop_.owner(), this, "connection_lost", [&] { protocol_->connection_lost(lost_error_); });
    protocol_.reset();
    loop_.transports_.remove(this);
    release_ref();  // the loop's reference: may destroy this
}

}  // namespace bulb::detail

// --- EventLoop::subprocess_exec / subprocess_shell -------------------------------------------

namespace bulb {

namespace {

/// Descriptors made for one spawn: closed on every path out (the parent's pipe ends are handed
/// to the transport on success).
struct SpawnFds {
    std::vector<int> close_after;  // the child's ends, /dev/null
    int parent[3] = {-1, -1, -1};
    ~SpawnFds() {
        for (int fd : close_after) ::close(fd);
        for (int fd : parent)
            if (fd >= 0) ::close(fd);
    }
};

int open_devnull(const char* who) {
    int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0) throw Error(errno, std::system_category(), std::string(who) + ": /dev/null");
    return fd;
}

Future<SubprocessConnection> start(EventLoop& loop, SubprocessProtocolFactory& factory, std::vector<std::string> argv,
                                   const SubprocessOptions& o, const char* who) {
    loop.impl().check_thread(who);
    if (loop.is_closed()) throw InvalidStateError(std::string(who) + ": Event loop is closed");
    detail::SpawnRequest req;
    req.argv = std::move(argv);
    req.env = o.env;
    req.cwd = o.cwd;
    req.pass_fds = o.pass_fds;
    req.new_session = o.start_new_session;
    req.process_group = o.process_group;
    req.want_pidfd = !detail::pidfds_disabled();
    detail::validate_spawn_request(req, who);
    (void)detail::spawn_method();  // a bad BULB_SUBPROCESS_SPAWN throws here, before any descriptor is made
    const Stdio* specs[3] = {&o.std_in, &o.std_out, &o.std_err};
    if (o.std_in.kind == Stdio::Kind::merged_stdout || o.std_out.kind == Stdio::Kind::merged_stdout)
        throw std::invalid_argument(std::string(who) + ": only stderr can be merged into stdout");
    for (const Stdio* s : specs)
        if (s->kind == Stdio::Kind::fd && (s->fd < 0 || ::fcntl(s->fd, F_GETFD) < 0))
            throw std::invalid_argument(std::string(who) + ": Stdio::from_fd(" + std::to_string(s->fd) +
                                        ") is not an open descriptor");
    auto protocol = factory();
    if (!protocol) throw std::invalid_argument(std::string(who) + ": protocol factory returned null");

    SpawnFds fds;
    int devnull = -1;
    for (int i = 0; i < 3; ++i) {
        const Stdio& s = *specs[i];
        switch (s.kind) {
        case Stdio::Kind::pipe: {
            int p[2];
            if (::pipe2(p, O_CLOEXEC) != 0) throw Error(errno, std::system_category(), std::string(who) + ": pipe2");
            int child = i == 0 ? p[0] : p[1];
            fds.parent[i] = i == 0 ? p[1] : p[0];
            fds.close_after.push_back(child);
            // Only the parent's end is non-blocking: the child gets an ordinary blocking pipe.
            // A new pipe has no other status flag: one F_SETFL, no F_GETFL.
            ::fcntl(fds.parent[i], F_SETFL, O_NONBLOCK);
            detail::set_pipe_size(p[0], o.pipe_size);
            req.stdio[i] = child;
            break;
        }
        case Stdio::Kind::devnull:
            if (devnull < 0) {
                devnull = open_devnull(who);
                fds.close_after.push_back(devnull);
            }
            req.stdio[i] = devnull;
            break;
        case Stdio::Kind::inherit: req.stdio[i] = -1; break;
        case Stdio::Kind::fd: req.stdio[i] = s.fd; break;
        case Stdio::Kind::merged_stdout: req.stdio[i] = req.stdio[1] >= 0 ? req.stdio[1] : 1; break;
        }
    }
    Future<SubprocessConnection> result(loop);
    detail::SpawnedChild child;
    try {
        child = detail::spawn_child(req, who);
    } catch (const Error&) {
        result.set_exception(std::current_exception());
        return result;
    }
    int parent[3] = {fds.parent[0], fds.parent[1], fds.parent[2]};
    for (int& fd : fds.parent) fd = -1;  // the transports own them now
    detail::SubprocessImpl::create(loop.impl(), child.pid, child.pidfd, parent, std::move(protocol), o.on_loop_close,
                                   result);
    return result;
}

}  // namespace

Future<SubprocessConnection> EventLoop::subprocess_exec(SubprocessProtocolFactory factory, std::vector<std::string> argv,
                                                        const SubprocessOptions& options) {
    return start(*this, factory, std::move(argv), options, "subprocess_exec");
}

Future<SubprocessConnection> EventLoop::subprocess_exec(SubprocessProtocolFactory factory, std::vector<std::string> argv) {
    return subprocess_exec(std::move(factory), std::move(argv), SubprocessOptions{});
}

Future<SubprocessConnection> EventLoop::subprocess_shell(SubprocessProtocolFactory factory, std::string cmd,
                                                         const SubprocessOptions& options) {
    if (cmd.find('\0') != std::string::npos) throw std::invalid_argument("subprocess_shell: the command contains a nul byte");
    return start(*this, factory, {"/bin/sh", "-c", std::move(cmd)}, options, "subprocess_shell");
}

Future<SubprocessConnection> EventLoop::subprocess_shell(SubprocessProtocolFactory factory, std::string cmd) {
    return subprocess_shell(std::move(factory), std::move(cmd), SubprocessOptions{});
}

}  // namespace bulb
