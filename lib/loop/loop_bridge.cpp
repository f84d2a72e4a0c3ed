// SPDX-License-Identifier: MIT
/// @file
/// Crossing threads into a loop: the per-loop bridge (wrap_future, run_in_executor with a user
/// executor), ThreadPoolExecutor, and the loop's default-executor controls.
#include <bulb/wrap_future.hpp>

#include "loop/loop_impl.hpp"
#include "loop/thread_pool.hpp"

#include <algorithm>
#include <thread>

namespace bulb {

Executor::~Executor() = default;

struct ThreadPoolExecutor::Impl {
    explicit Impl(std::size_t n) : pool(n) {}
    detail::ThreadPool pool;
};

namespace {
std::size_t default_workers() {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    return std::min<std::size_t>(32, cores + 4);
}
}  // namespace

ThreadPoolExecutor::ThreadPoolExecutor(std::size_t max_workers)
    : impl_(std::make_unique<Impl>(max_workers ? max_workers : default_workers())) {}
ThreadPoolExecutor::~ThreadPoolExecutor() { impl_->pool.shutdown(); }
void ThreadPoolExecutor::submit(UniqueFunction<void()> job) { impl_->pool.submit(std::move(job)); }
void ThreadPoolExecutor::shutdown(bool wait) {
    // Without `wait`, new work is refused now and the threads are joined by the destructor.
    if (wait)
        impl_->pool.shutdown();
    else
        impl_->pool.stop_accepting();
}

namespace detail {

bool LoopMailbox::post_fire(std::uint64_t id) noexcept {
    std::lock_guard lock(mutex_);
    if (!loop_) return false;
    try {
        // Under mutex_: ~LoopBridge clears loop_ under it before the loop's impl goes away.
        loop_->impl().call_soon_threadsafe([bridge = bridge_, id] { bridge->fire(id); });
        return true;
    } catch (...) {
        return false;  // closed: nothing can run there any more
    }
}

LoopBridge::LoopBridge(EventLoop& loop) : loop_(loop), mailbox_(std::make_shared<LoopMailbox>()) {
    mailbox_->loop_ = &loop;
    mailbox_->bridge_ = this;
}

LoopBridge::~LoopBridge() {
    {
        std::lock_guard lock(mailbox_->mutex_);
        mailbox_->loop_ = nullptr;
        mailbox_->bridge_ = nullptr;
    }
    // The loop is going: tell what still waits (a ConcurrentFuture another thread blocks on).
    while (!entries_.empty()) {
        auto node = entries_.extract(entries_.begin());
        try {
            node.mapped()(false);
        } catch (...) {
        }
    }
}

std::uint64_t LoopBridge::keep(UniqueFunction<void(bool)> fn) {
    const std::uint64_t id = next_id_++;
    entries_.emplace(id, std::move(fn));
    return id;
}

void LoopBridge::fire(std::uint64_t id) noexcept {
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    auto fn = std::move(it->second);
    entries_.erase(it);
    try {
        fn(true);
    } catch (...) {
        loop_.call_exception_handler({"Exception completing a future from another thread", std::current_exception()});
    }
}

void LoopBridge::forget(std::uint64_t id) noexcept { entries_.erase(id); }

}  // namespace detail

void EventLoop::set_default_executor(std::shared_ptr<Executor> executor) {
    impl_->check_thread("set_default_executor");
    if (impl_->executor_shutdown_)
        throw InvalidStateError("set_default_executor: Executor shutdown has been called");
    impl_->default_executor_ = std::move(executor);
}

Executor* EventLoop::default_executor() const noexcept { return impl_->default_executor_.get(); }

Future<void> EventLoop::shutdown_default_executor(std::optional<Duration> timeout) {
    impl_->check_thread("shutdown_default_executor");
    if (is_closed()) throw InvalidStateError("shutdown_default_executor: Event loop is closed");
    if (impl_->executor_shutdown_done_) return *impl_->executor_shutdown_done_;
    Future<void> done(*this);
    impl_->executor_shutdown_done_.emplace(done);
    auto& bridge = detail::LoopBridge::of(*this);
    const std::uint64_t id = bridge.keep([done](bool fire) mutable {
        if (fire && !done.done()) done.set_result();
    });
    impl_->start_executor_shutdown([mailbox = bridge.mailbox(), id] { mailbox->post_fire(id); });
    if (timeout) {
        const Duration limit = *timeout;
        call_later(limit, [this, done, limit]() mutable {
            if (done.done()) return;
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(limit).count();
            call_exception_handler({"shutdown_default_executor: the executor did not finish joining its threads within " +
                                    std::to_string(ms) + " ms (close() waits for them)"});
            done.set_result();
        });
    }
    return done;
}

}  // namespace bulb
