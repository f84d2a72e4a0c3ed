// SPDX-License-Identifier: MIT
/// @file
/// SubprocessImpl: the loop's SubprocessTransport: the child's pipes as PipeTransports, its exit
/// watched through a pidfd (or SIGCHLD + waitpid(pid)), asyncio's callback order. Private.
#pragma once

#include <bulb/future.hpp>
#include <bulb/subprocess.hpp>
#include <bulb/transport.hpp>

#include "loop/io_watcher.hpp"
#include "loop/loop_resource.hpp"

#include <memory>

namespace bulb::detail {

class LoopImpl;

class SubprocessImpl final : public SubprocessTransport, public LoopResource {
public:
    /// Takes the started child `pid`, its `pidfd` (-1: opened here unless pidfds are disabled)
    /// and the parent ends of its pipes (-1 where not a pipe); connection_made() runs from the
    /// loop, then `waiter` resolves.
    static SubprocessImpl* create(LoopImpl& loop, pid_t pid, int pidfd, const int parent_fds[3],
                                  std::unique_ptr<SubprocessProtocol> protocol, OnLoopClose on_loop_close,
                                  Future<SubprocessConnection> waiter);

    pid_t get_pid() const noexcept override { return pid_; }
    std::optional<int> get_returncode() const noexcept override { return returncode_; }
    Transport* get_pipe_transport(int fd) const noexcept override;
    void send_signal(int signum) override;
    void close() override;
    bool is_closing() const noexcept override { return closing_; }
    SubprocessProtocol* get_protocol() const noexcept override { return protocol_.get(); }
    EventLoop& get_loop() const noexcept override;

    void close_for_loop() noexcept override;

    // --- from the pipes' protocols and the exit watch ---------------------------------------
    void pipe_data_received(int fd, ByteView data) noexcept;
    void pipe_connection_lost(int fd, std::error_code ec) noexcept;
    void pipe_pause_writing() noexcept;
    void pipe_resume_writing() noexcept;
    /// Reaps the child if it has exited (WNOHANG); true when it was reaped now.
    bool try_reap() noexcept;

private:
    SubprocessImpl(LoopImpl& loop, pid_t pid, int pidfd, std::unique_ptr<SubprocessProtocol> protocol,
                   OnLoopClose on_loop_close);
    ~SubprocessImpl() override;

    void on_connected(Future<SubprocessConnection>& waiter) noexcept;
    void start_exit_watch() noexcept;
    void stop_exit_watch() noexcept;
    void exited(int returncode) noexcept;
    void try_finish() noexcept;
    void call_connection_lost() noexcept;
    void report(const char* what) noexcept;

    LoopImpl& loop_;
    pid_t pid_;
    int pidfd_ = -1;            // -1: SIGCHLD mode, or closed after the reap
    bool sigchld_mode_ = false;  // registered with the loop's SIGCHLD poller
    bool connected_ = false;
    bool closing_ = false;
    bool detached_ = false;      // the loop closed; a background thread reaps the child
    bool lost_scheduled_ = false;
    OnLoopClose on_loop_close_;
    std::optional<int> returncode_;
    std::error_code lost_error_;
    std::unique_ptr<SubprocessProtocol> protocol_;
    TransportPtr pipes_[3];  // null once that pipe's connection_lost ran
    IoWatcher exit_watch_;
};

}  // namespace bulb::detail
