// SPDX-License-Identifier: MIT
/// @file
/// Process: a SubprocessProtocol feeding one StreamCore per pipe (asyncio's
/// SubprocessStreamProtocol), wait(), communicate(), create_subprocess_exec / _shell.
#include <bulb/coro/process.hpp>

#include "stream_core.hpp"

#include <bulb/coro/streams.hpp>
#include <bulb/loop.hpp>

namespace bulb::detail {

/// What the protocol and every Process handle share.
class ProcessState final : public RefCounted {
public:
    explicit ProcessState(EventLoop& loop) : loop_(loop) {}

    EventLoop& loop_;
    SubprocessTransportPtr transport;
    RefPtr<StreamCore> pipes[3];  // null where the child's descriptor is not a pipe
    std::vector<Future<void>> exit_waiters;

    void exited() {
        auto waiters = std::move(exit_waiters);
        exit_waiters.clear();
        for (auto& w : waiters)
            if (!w.done()) w.set_result();
    }
};

namespace {

class ProcessProtocol final : public SubprocessProtocol {
public:
    explicit ProcessProtocol(RefPtr<ProcessState> s) : s_(std::move(s)) {}

    void connection_made(SubprocessTransport& t) override {
        for (int fd = 0; fd < 3; ++fd) {
            if (Transport* p = t.get_pipe_transport(fd)) {
                s_->pipes[fd] = RefPtr<StreamCore>(new StreamCore(s_->loop_, default_stream_limit));
                s_->pipes[fd]->attach(*p);
            }
        }
    }
    void pipe_data_received(int fd, ByteView data) override {
        if (auto& c = s_->pipes[fd]) c->feed_data(as_string_view(data));
    }
    void pipe_connection_lost(int fd, std::error_code ec) override {
        if (auto& c = s_->pipes[fd]) c->connection_lost(ec);
    }
    void pause_writing() override {
        if (auto& c = s_->pipes[0]) c->pause_writing();
    }
    void resume_writing() override {
        if (auto& c = s_->pipes[0]) c->resume_writing();
    }
    void process_exited() override { s_->exited(); }
    void connection_lost(std::error_code) override { s_->exited(); }  // the loop closed: wake waiters

private:
    RefPtr<ProcessState> s_;
};

bool is_broken_pipe(const Error& e) {
    const std::error_code c = e.code();
    return c == std::error_code(EPIPE, std::system_category()) ||
           c == std::error_code(ECONNRESET, std::system_category()) || c == errc::transport_closed;
}

Task<std::string> read_to_eof(StreamReader reader) {
    std::string all = co_await reader.read(-1);
    co_return all;
}

/// The arguments of create_subprocess_*, moved to the heap before a coroutine starts.
struct SpawnArgs {
    std::vector<std::string> argv;
    std::string cmd;
    SubprocessOptions options;
    bool shell;
};

Task<Process> spawn_task(std::unique_ptr<SpawnArgs> a) {
    EventLoop& loop = get_running_loop();
    RefPtr<ProcessState> state(new ProcessState(loop));
    SubprocessProtocolFactory factory = [state] { return std::make_unique<ProcessProtocol>(state); };
    Future<SubprocessConnection> starting = a->shell ? loop.subprocess_shell(std::move(factory), a->cmd, a->options)
                                                     : loop.subprocess_exec(std::move(factory), a->argv, a->options);
    SubprocessConnection c = co_await starting;
    state->transport = c.transport;
    Process p(state);
    co_return p;
}

}  // namespace

}  // namespace bulb::detail

namespace bulb {

using detail::ProcessState;

Process::Process(RefPtr<ProcessState> state) : state_(std::move(state)) {
    if (state_->pipes[0]) std_in.emplace(state_->pipes[0]);
    if (state_->pipes[1]) std_out.emplace(state_->pipes[1]);
    if (state_->pipes[2]) std_err.emplace(state_->pipes[2]);
}
Process::Process(const Process&) noexcept = default;
Process& Process::operator=(const Process&) noexcept = default;
Process::~Process() = default;

pid_t Process::pid() const noexcept { return state_->transport->get_pid(); }
std::optional<int> Process::returncode() const noexcept { return state_->transport->get_returncode(); }
SubprocessTransport& Process::transport() const noexcept { return *state_->transport; }
void Process::send_signal(int signum) { state_->transport->send_signal(signum); }
void Process::terminate() { state_->transport->terminate(); }
void Process::kill() { state_->transport->kill(); }

Task<int> Process::wait() {
    RefPtr<ProcessState> s = state_;
    while (!s->transport->get_returncode()) {
        if (!s->transport->get_protocol()) throw Error(errc::loop_closed, "wait(): the process was detached");
        s->exit_waiters.emplace_back(s->loop_);
        Future<void> waiter = s->exit_waiters.back();
        co_await waiter;
    }
    co_return *s->transport->get_returncode();
}

Task<ProcessOutput> Process::communicate() {
    std::string none;
    return communicate(std::move(none));
}

Task<ProcessOutput> Process::communicate(std::string input) {
    Process self = *this;  // the coroutine may outlive the handle it was called on
    EventLoop& loop = self.state_->loop_;
    std::optional<Future<std::string>> out, err;
    if (self.std_out) {
        Task<std::string> t = detail::read_to_eof(*self.std_out);
        out = create_task(loop, std::move(t));
    }
    if (self.std_err) {
        Task<std::string> t = detail::read_to_eof(*self.std_err);
        err = create_task(loop, std::move(t));
    }
    ProcessOutput result;
    try {
        if (self.std_in) {
            try {
                if (!input.empty()) self.std_in->write(input);
                co_await self.std_in->drain();
            } catch (const Error& e) {
                if (!detail::is_broken_pipe(e)) throw;  // the child exited without reading: fine
            }
            self.std_in->close();
        }
        if (out) result.out = co_await *out;
        if (err) result.err = co_await *err;
        co_await self.wait();
    } catch (...) {
        if (out) out->cancel();
        if (err) err->cancel();
        throw;
    }
    co_return result;
}

Task<Process> create_subprocess_exec(std::vector<std::string> argv) {
    return create_subprocess_exec(std::move(argv), SubprocessOptions{});
}

Task<Process> create_subprocess_exec(std::vector<std::string> argv, SubprocessOptions options) {
    return detail::spawn_task(std::make_unique<detail::SpawnArgs>(detail::SpawnArgs{std::move(argv), {}, std::move(options), false}));
}

Task<Process> create_subprocess_shell(std::string cmd) { return create_subprocess_shell(std::move(cmd), SubprocessOptions{}); }

Task<Process> create_subprocess_shell(std::string cmd, SubprocessOptions options) {
    return detail::spawn_task(std::make_unique<detail::SpawnArgs>(detail::SpawnArgs{{}, std::move(cmd), std::move(options), true}));
}

}  // namespace bulb
