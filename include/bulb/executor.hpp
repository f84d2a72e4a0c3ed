// SPDX-License-Identifier: MIT
/// @file
/// Executor: where EventLoop::run_in_executor runs blocking work (concurrent.futures.Executor),
/// and ThreadPoolExecutor, a pool a user can make, share between loops and set as a loop's default.
#pragma once

#include <bulb/config.hpp>
#include <bulb/function.hpp>

#include <cstddef>
#include <memory>

namespace bulb {

/// Runs jobs on threads of its own (concurrent.futures.Executor, reduced to what a loop needs).
///
/// Thread-safe: submit() and shutdown() may be called from any thread. A job must be run, or
/// destroyed without running, by the executor; either way bulb's futures complete (a dropped job
/// fails its future with InvalidStateError). Implement it to plug in any thread pool.
class BULB_API Executor {
public:
    Executor() = default;
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;
    virtual ~Executor();

    /// Queues `job`. Throws InvalidStateError after shutdown().
    virtual void submit(UniqueFunction<void()> job) = 0;
    /// Stops accepting jobs; with `wait`, returns once every queued job has run and the threads
    /// are joined. Idempotent.
    virtual void shutdown(bool wait) = 0;
};

/// A pool of up to `max_workers` threads started on demand (concurrent.futures.ThreadPoolExecutor).
///
/// Thread-safe. The destructor is shutdown(true): queued jobs run first. Keep it in a shared_ptr
/// to hand it to EventLoop::set_default_executor.
class BULB_API ThreadPoolExecutor final : public Executor {
public:
    /// `max_workers` 0 picks min(32, cores + 4), as Python does.
    explicit ThreadPoolExecutor(std::size_t max_workers = 0);
    ~ThreadPoolExecutor() override;

    void submit(UniqueFunction<void()> job) override;
    void shutdown(bool wait) override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bulb
