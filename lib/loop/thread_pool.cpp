// SPDX-License-Identifier: MIT
/// @file
/// ThreadPool implementation.
#include "loop/thread_pool.hpp"

#include <bulb/error.hpp>

#include <cstdio>

namespace bulb::detail {

ThreadPool::ThreadPool(std::size_t max_threads) : max_threads_(max_threads ? max_threads : 1) {}

ThreadPool::~ThreadPool() { shutdown(); }

void ThreadPool::submit(UniqueFunction<void()> job) {
    std::lock_guard lock(mutex_);
    if (stopping_ || refusing_) throw InvalidStateError("executor is shut down");
    jobs_.push_back(std::move(job));
    // An idle thread that was notified but has not taken its job yet still counts in idle_:
    // compare the queued jobs, not just "is any thread idle", or a burst of submissions to a
    // pool with one idle thread would all run on that thread.
    if (jobs_.size() > idle_ && threads_.size() < max_threads_)
        threads_.emplace_back([this] { work(); });
    else
        wake_.notify_one();
}

void ThreadPool::shutdown() {
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        threads.swap(threads_);
    }
    wake_.notify_all();
    for (auto& t : threads) t.join();
}

void ThreadPool::stop_accepting() {
    std::lock_guard lock(mutex_);
    refusing_ = true;
}

void ThreadPool::work() {
    std::unique_lock lock(mutex_);
    for (;;) {
        if (jobs_.empty()) {
            if (stopping_) return;
            ++idle_;
            wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            --idle_;
            continue;
        }
        UniqueFunction<void()> job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        try {
            job();  // run_in_executor's jobs catch their own exceptions; raw jobs may not
        } catch (...) {
            std::fprintf(stderr, "bulb: exception escaped an executor job: %s\n",
                         describe_exception(std::current_exception()).c_str());
        }
        job.reset();
        lock.lock();
    }
}

}  // namespace bulb::detail
