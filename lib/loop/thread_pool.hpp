// SPDX-License-Identifier: MIT
/// @file
/// ThreadPool: the loop's executor for blocking work (run_in_executor).
#pragma once

#include <bulb/function.hpp>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace bulb::detail {

/// A fixed-capacity pool whose threads start on demand (like Python's ThreadPoolExecutor).
class ThreadPool {
public:
    explicit ThreadPool(std::size_t max_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    /// Queues `job`; a new thread starts when none is idle and the pool is below capacity.
    void submit(UniqueFunction<void()> job);
    /// Lets the queued jobs finish, then joins every thread. Idempotent.
    void shutdown();
    /// Refuses new jobs from now on (submit throws); the threads finish the queue and are
    /// joined by shutdown() or the destructor.
    void stop_accepting();

private:
    void work();

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<UniqueFunction<void()>> jobs_;
    std::vector<std::thread> threads_;
    std::size_t max_threads_;
    std::size_t idle_ = 0;
    bool stopping_ = false;
    bool refusing_ = false;  // stop_accepting() was called
};

}  // namespace bulb::detail
